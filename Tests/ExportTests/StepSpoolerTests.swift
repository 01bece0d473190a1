import BundleFormat
import Engine
@testable import Export
import Foundation
import FrostbyteCore
import TestSupport
import Testing
import FrostbyteCrypto

/// The pieces of step spooling that need no engine: the stderr tail a failed step
/// reports, and the deadline that stops a step.
@Suite("Export: step spooling without an engine")
struct StepSpoolerTests {
    @Test("the stderr tail: the last five non-empty lines on one line, at most ~1000 characters")
    func tail() throws {
        #expect(StepSpooler.tail("a\n\n b \nc\nd\ne\nf\n") == "b | c | d | e | f")
        #expect(StepSpooler.tail("") == "")
        let long = StepSpooler.tail(String(repeating: "x", count: 5000))
        #expect(long.hasPrefix("...") && long.count == 1003)
        let folder = try TestRun.scratchFolder("fbexport-tail")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let file = "\(folder)/stderr"
        // 10 000 lines: only the file's last 4 KiB are read.
        try (1...10_000).map { "line \($0)" }.joined(separator: "\n").write(toFile: file, atomically: true, encoding: .utf8)
        #expect(StepSpooler.tail(ofFile: file) == "line 9996 | line 9997 | line 9998 | line 9999 | line 10000")
        #expect(StepSpooler.tail(ofFile: "\(folder)/missing") == "")
    }

    @Test("a step past its deadline gets SIGTERM and the deadline says it fired; one that ends in time is left alone")
    func deadline() throws {
        let folder = try ScratchFolder(prefix: "fbexport-deadline")
        let slow = try ChildProcess(["sleep", "30"], stdout: .descriptor(STDERR_FILENO), stderrPath: "\(folder.path)/slow")
        let started = Date()
        let deadline = StepDeadline(child: slow.pid, seconds: 0.3)
        let status = slow.wait()
        deadline.cancel()
        #expect(deadline.fired)
        #expect(status == 128 + SIGTERM)
        #expect(Date().timeIntervalSince(started) < 10)

        // Negative control: a step that ends before its deadline.
        let quick = try ChildProcess(["true"], stdout: .descriptor(STDERR_FILENO), stderrPath: "\(folder.path)/quick")
        let relaxed = StepDeadline(child: quick.pid, seconds: 5)
        #expect(quick.wait() == 0)
        relaxed.cancel()
        #expect(!relaxed.fired)
    }
}

/// `StepSpooler.run` against a real container labelled like an installed service:
/// stdout spooled byte for byte with its SHA-256 and size, a failing step reported
/// with its status and stderr tail, a step past its timeout stopped, a service with
/// no running container named.
@Suite("Export: step spooling on a real dockerd", .requiresDockerAndTestImage, .serialized)
struct StepSpoolerEngineTests {
    @Test func spoolsFailsAndTimesOut() throws {
        let project = "fbtest-\(TestRun.id)-spool\(TestRun.next())"
        let container = "\(project)-postgres-1"
        try TestCommand.check(["docker", "run", "-d", "--name", container, "--network", "none",
                               "--label", "com.docker.compose.project=\(project)", "--label", "com.docker.compose.service=postgres",
                               "--label", "com.docker.compose.container-number=1", "--label", "io.frostbyte.project=\(project)",
                               "--label", "\(TestRun.label)=\(TestRun.id)", Docker.testImage, "sleep", "600"], timeout: 120)
        defer { _ = try? TestCommand.run(["docker", "rm", "-f", container], timeout: 120) }
        let folder = try TestRun.scratchFolder("fbexport-spool")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let spooler = StepSpooler(project: project, timeout: 2)

        // 3 MB through the spool: more than any pipe or buffer holds at once.
        let big = Manifest.ExportStep(name: "zeros.bin", service: "postgres", command: ["busybox", "head", "-c", "3000000", "/dev/zero"])
        let spooled = try spooler.run(big, spoolPath: "\(folder)/zeros", stderrPath: "\(folder)/zeros.err")
        #expect(spooled.size == 3_000_000)
        #expect(spooled.sha256 == SHA256Hasher.hash(Data(count: 3_000_000)))
        #expect(try SHA256Hasher.hash(fileAt: "\(folder)/zeros").digest == spooled.sha256)

        let failing = Manifest.ExportStep(name: "fail", service: "postgres", command: ["sh", "-c", "echo partial; echo broken table >&2; exit 3"])
        #expect(throws: ExportError.stepFailed(step: "fail", service: "postgres", status: 3, stderrTail: "broken table")) {
            try spooler.run(failing, spoolPath: "\(folder)/fail", stderrPath: "\(folder)/fail.err")
        }
        let slow = Manifest.ExportStep(name: "slow", service: "postgres", command: ["sleep", "60"])
        let started = Date()
        #expect(throws: ExportError.stepTimedOut(step: "slow", service: "postgres", seconds: 2)) {
            try spooler.run(slow, spoolPath: "\(folder)/slow", stderrPath: "\(folder)/slow.err")
        }
        #expect(Date().timeIntervalSince(started) < 30)
        let nowhere = Manifest.ExportStep(name: "x", service: "redis", command: ["true"])
        #expect(throws: ExportError.self) { try spooler.container(for: nowhere) }
        // A spool path that exists already is never overwritten.
        #expect(throws: ExportError.self) {
            try spooler.run(big, spoolPath: "\(folder)/zeros", stderrPath: "\(folder)/again.err")
        }
    }
}
