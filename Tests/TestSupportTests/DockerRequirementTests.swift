import Foundation
import TestSupport
import Testing

/// The docker requirement trait, end to end: this test bundle runs itself on a
/// probe suite that requires docker, with dockerd unreachable (DOCKER_HOST names a
/// socket nobody listens on). Under CI=true the probe must FAIL; without it, it is
/// skipped; with the real dockerd it runs and passes.
@Suite("TestSupport: the docker requirement trait", .serialized)
struct DockerRequirementTests {
    /// Runs this bundle's `DockerTraitProbe` suite with `environment`.
    static func probe(_ environment: [String: String], removing: [String] = []) throws -> CommandOutput {
        let bundle = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")
        return try TestCommand.run([bundle, "--testing-library", "swift-testing", "--filter", "DockerTraitProbe"],
                                   environment: environment.merging(["FB_TRAIT_PROBE": "1"]) { $1 },
                                   removing: removing, timeout: 300)
    }

    @Test("dockerd unreachable under CI=true: the docker test fails, naming what is missing")
    func failsUnderCI() throws {
        let result = try Self.probe(["CI": "true", "DOCKER_HOST": "unix:///nonexistent"])
        #expect(result.status != 0, "\(result.combined)")
        #expect(result.combined.contains("CI=true"), "\(result.combined)")
        #expect(!result.combined.contains("the probe ran"), "\(result.combined)")
    }

    @Test("dockerd unreachable without CI: the docker test is skipped, not failed")
    func skipsOtherwise() throws {
        let result = try Self.probe(["DOCKER_HOST": "unix:///nonexistent"], removing: ["CI"])
        #expect(result.status == 0, "\(result.combined)")
        #expect(result.combined.contains("skipped"), "\(result.combined)")
        #expect(!result.combined.contains("the probe ran"), "\(result.combined)")
    }

    @Test("dockerd reachable: the docker test runs", .requiresDocker)
    func runsWithDocker() throws {
        let result = try Self.probe(["CI": "true"])
        #expect(result.status == 0, "\(result.combined)")
        #expect(result.combined.contains("the probe ran"), "\(result.combined)")
    }
}

/// Runs only when `DockerRequirementTests` starts this bundle with FB_TRAIT_PROBE=1.
@Suite(.enabled(if: ProcessInfo.processInfo.environment["FB_TRAIT_PROBE"] == "1"), .requiresDocker)
struct DockerTraitProbe {
    @Test func needsDocker() {
        print("the probe ran")
    }
}
