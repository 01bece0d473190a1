import Foundation
import TestSupport
import Testing

/// A dying engine: dockerd SIGKILLed during `docker load`, during `compose up` and
/// during the isolation check. `install` exits 3 naming the engine and the step, no
/// release becomes current, and once dockerd is back the same command completes
/// (resuming from the journal) without manual cleanup. Runs on the second engine
/// FROSTBYTE_FAULT_ENGINE (never the host's shared dockerd).
@Suite("Engine death: dockerd killed mid-install (second engine)", .serialized,
       .enabled(if: FaultEngine.enabled, "needs FROSTBYTE_FAULT_ENGINE (scripts/test-engines) and the demo images"),
       .requiresDocker)
struct EngineDeathTests {
    /// Where the kill lands, what shows that the install is there, and the step the error names.
    @Test(arguments: [
        ("load", "docker load"),
        ("composeup", "compose up"),
        ("isolation", "the migrations and the isolation check"),
    ])
    func installResumesAfterEngineDeath(point: String, step: String) throws {
        let engine = try FaultEngine.required()
        try FaultEngine.up(engine)
        let project = InstallHarness.project("die\(point)")
        let prefix = InstallHarness.prefix("die\(point)")
        defer { FaultEngine.cleanup(engine, project: project, prefix: prefix) }
        let bundle = try InstallHarness.v1(suite: "fault")
        if point == "load" {
            // The bundle's images must not be in the engine: they load while the bundle is verified.
            for name in ["gateway", "postgres", "redis", "worker"] {
                _ = FaultEngine.docker(engine, ["rmi", "\(InstallHarness.projectPrefix)\(TestRun.id)-fault/\(name):1.0"])
            }
        }
        let subnet = ["load": "10.219.11.0/24", "composeup": "10.219.12.0/24", "isolation": "10.219.13.0/24"][point]!
        let arguments = ["install", bundle, "--allow-unsigned", "--prefix", prefix, "--project", project,
                         "--subnet", subnet, "--publish", "\(Int.random(in: 21_000...21_999))", "--timeout", "180"]
        let process = try FaultEngine.start(engine, arguments)
        let pid = process.pid
        let stderrText = { process.errorOutput }
        let reached: Bool
        switch point {
        case "load":
            reached = FaultEngine.wait(seconds: 120) { FaultEngine.dockerLoadChild(of: pid) }
        case "composeup":
            reached = FaultEngine.wait(seconds: 180) {
                !(FaultEngine.docker(engine, ["ps", "-aq", "--filter", "label=com.docker.compose.project=\(project)"])?
                    .stdout.isEmpty ?? true)
            }
        default:
            reached = FaultEngine.wait(seconds: 240) { stderrText().contains("reading Docker state of project \(project)") }
        }
        if !reached { process.signal(SIGKILL) }
        try #require(reached, "the install never reached \(point): \(stderrText())")
        try FaultEngine.crash(engine)
        let exited = FaultEngine.wait(seconds: 120) { !process.isRunning }
        if !exited { process.signal(SIGKILL) }
        let ended = process.wait()
        let stderr = stderrText()
        #expect(exited, "install still ran 120 s after dockerd died: \(stderr)")
        #expect(ended.status == 3, "\(stderr)")
        #expect(stderr.contains("stopped answering during \(step)"), "\(stderr)")
        #expect(stderr.contains(FaultEngine.socket(engine)), "the error names the engine: \(stderr)")
        #expect(!FileManager.default.fileExists(atPath: "\(prefix)/current"), "a release became current without dockerd")
        // The journal says why (status shows it), and keeps the steps done for the re-run.
        let journal = FileManager.default.contents(atPath: "\(prefix)/state/journal.json")
            .flatMap { try? JSONSerialization.jsonObject(with: $0) as? [String: Any] }
        #expect(journal?["status"] as? String == "failed", "journal: \(String(describing: journal))")
        #expect((journal?["failure"] as? String)?.contains("stopped answering during \(step)") == true,
                "journal: \(String(describing: journal))")

        try FaultEngine.up(engine)
        let rerun = try FaultEngine.tool(engine, arguments + ["--json"])
        #expect(rerun.status == 0, "the re-run after dockerd is back: \(rerun.stderr)")
        #expect(InstallHarness.json(rerun)["resumed"] as? Bool == true, "\(rerun.stderr)")
        let status = try FaultEngine.tool(engine, ["status", "--prefix", prefix])
        #expect(status.status == 0, "\(status.stdout)\(status.stderr)")
        #expect(try FaultEngine.projectRules(engine, project: project).count == 3)
    }
}
