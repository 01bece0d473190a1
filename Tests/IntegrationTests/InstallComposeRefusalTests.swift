import Foundation
import TestSupport
import Testing

/// A host without Compose v2: the real docker CLI in a private mount namespace where
/// the plugin folder is empty (`unshare -m` + a bind mount), so nothing is faked:
/// `docker compose` really is missing there. install must refuse with exit 3, name
/// the remedy, and leave the prefix untouched.
@Suite("Install refuses a host without Compose v2", .serialized,
       .enabled(if: Docker.demoImagesPresent, "needs scripts/make-demo-images"), .requiresDocker)
struct InstallComposeRefusalTests {
    @Test func missingComposeV2IsAnEnvironmentProblem() throws {
        let pluginFolder = "/usr/local/lib/docker/cli-plugins"
        try #require(FileManager.default.fileExists(atPath: pluginFolder + "/docker-compose"),
                     "scripts/setup links Compose v2 into \(pluginFolder)")
        let empty = try TestRun.scratchFolder("fbinst-no-compose")
        let prefix = InstallHarness.prefix("no-compose")
        defer {
            try? FileManager.default.removeItem(atPath: empty)
            try? FileManager.default.removeItem(atPath: prefix)
        }
        let bundle = try InstallHarness.v1()
        let install = [try FrostbyteBinary.path, "install", bundle, "--allow-unsigned", "--prefix", prefix]
            .map { "'\($0)'" }.joined(separator: " ")

        // Negative control: in the same kind of namespace, without the bind mount,
        // Compose v2 answers, so the refusal below is caused by the missing plugin.
        let control = try TestCommand.run(["unshare", "-m", "sh", "-c", "docker compose version --short"])
        #expect(control.status == 0, "\(control.stderr)")

        let result = try TestCommand.run(["unshare", "-m", "sh", "-c",
                                         "mount --bind '\(empty)' '\(pluginFolder)' && exec \(install)"])
        #expect(result.status == 3, "\(result.stderr)")
        #expect(result.stderr.contains("Compose v2"), "\(result.stderr)")
        #expect(result.stderr.contains(pluginFolder), "names where to install it: \(result.stderr)")
        #expect(!FileManager.default.fileExists(atPath: prefix), "nothing written under the prefix")
    }
}
