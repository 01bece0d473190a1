import Foundation
import TestSupport
import Testing

/// Crash safety: an install SIGKILLed during extraction, image load or compose up is
/// completed by a plain re-run, and `current` never points at a release that did not
/// pass every step. A second install while one runs is refused by the lock.
@Suite("Install crash safety (real dockerd)", .serialized,
       .enabled(if: Docker.demoImagesPresent, "needs scripts/make-demo-images"), .requiresDocker)
struct InstallCrashTests {
    /// Starts the binary, waits for its stderr to contain `trigger`, waits `delay`
    /// seconds and SIGKILLs it. Returns the stderr seen and whether the trigger came.
    static func killDuring(_ arguments: [String], trigger: String, delay: Double) throws -> (stderr: String, triggered: Bool) {
        let started = try RunningCommand([try FrostbyteBinary.path] + arguments)
        let triggered = started.waitFor(trigger, onStderr: true, within: 600)
        if triggered {
            usleep(UInt32(delay * 1_000_000))
            started.signal(SIGKILL)
        }
        started.wait()
        return (started.errorOutput, triggered)
    }

    @Test(arguments: [
        ("extract", "verifying and extracting", 0.4),
        ("load", "loading image", 0.0),
        ("composeup", "starting the stack", 1.5),
    ])
    func killedInstallResumes(step: String, trigger: String, delay: Double) throws {
        let project = InstallHarness.project("kill\(step)")
        let prefix = InstallHarness.prefix("kill\(step)")
        let subnet = ["extract": "10.214.31.0/24", "load": "10.214.32.0/24", "composeup": "10.214.33.0/24"][step]!
        defer { InstallHarness.cleanup(project: project, prefix: prefix) }
        // The load case needs images that are not on the host yet: its own repository.
        let bundle = step == "load"
            ? try InstallHarness.bundle("crash-\(TestRun.id)") {
                var spec = DemoBundle(version: "1.0.1")
                spec.repository = "\(InstallHarness.repository)-crash"
                return spec
            }
            : try InstallHarness.v1(suite: "crash")
        let arguments = ["install", bundle, "--allow-unsigned", "--prefix", prefix, "--project", project,
                         "--subnet", subnet, "--publish", "\(Int.random(in: 19_000...19_999))", "--timeout", "180"]
        let killed = try Self.killDuring(arguments, trigger: trigger, delay: delay)
        #expect(killed.triggered, "never reached '\(trigger)': \(killed.stderr)")
        #expect(!FileManager.default.fileExists(atPath: "\(prefix)/current"), "current set by a killed install")
        #expect(!FileManager.default.fileExists(atPath: "\(prefix)/state/receipt.json"))

        let rerun = try TestCommand.tool(arguments + ["--json"])
        #expect(rerun.status == 0, "\(rerun.stderr)")
        let json = InstallHarness.json(rerun)
        let bundleId = json["bundle_id"] as? String ?? "?"
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: "\(prefix)/current") == "releases/\(bundleId)")
        #expect(InstallHarness.listing("\(prefix)/releases").allSatisfy { !$0.hasPrefix(".staging-") && !$0.hasPrefix(".trash-") })
        #expect(try TestCommand.tool(["status", "--prefix", prefix]).status == 0)
        if step != "extract" { #expect(json["resumed"] as? Bool == true) }
    }

    @Test func concurrentInstallIsRefused() throws {
        let project = InstallHarness.project("lock")
        let prefix = InstallHarness.prefix("lock")
        defer { InstallHarness.cleanup(project: project, prefix: prefix) }
        let bundle = try InstallHarness.v1(suite: "crash")
        let arguments = ["install", bundle, "--allow-unsigned", "--prefix", prefix, "--project", project,
                         "--subnet", "10.214.34.0/24", "--publish", "\(Int.random(in: 19_000...19_999))", "--timeout", "180"]
        let first = try RunningCommand([try FrostbyteBinary.path] + arguments)
        #expect(first.waitFor("verifying and extracting", onStderr: true, within: 600), "\(first.errorOutput)")
        let second = try TestCommand.tool(arguments)
        #expect(second.status == 3, "\(second.stderr)")
        #expect(second.stderr.contains("lock"), "\(second.stderr)")
        // The first install is unaffected.
        #expect(first.wait().status == 0, "\(first.errorOutput)")
    }
}
