import Foundation
import FrostbyteCore
import TestSupport
import Testing

/// The tests' command runner and long-running programs, on ChildProcess.
@Suite("TestSupport: TestCommand and RunningCommand")
struct TestCommandTests {
    @Test("stdout, stderr, status, stdin, working folder, added and dropped variables")
    func run() throws {
        let folder = try TestRun.scratchFolder("fbcmd")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let result = try TestCommand.run(["sh", "-c", "pwd; cat; echo \"$FB_ADDED/${HOME:-unset}\"; echo err >&2; exit 4"],
                                         environment: ["FB_ADDED": "yes"], removing: ["HOME"], stdin: Data("in\n".utf8),
                                         in: folder)
        #expect(result.status == 4)
        #expect(result.stdout == "\(folder)\nin\nyes/unset\n")
        #expect(result.stderr == "err\n")
        #expect(try TestCommand.check(["echo", "hi"]) == "hi")
        #expect(throws: TestFailure.self) { try TestCommand.check(["false"]) }
        #expect(throws: CommandError.self) { try TestCommand.run(["sleep", "5"], timeout: 0.2) }
        // Names ending in * drop every variable with that prefix.
        let dropped = try TestCommand.run(["env"], environment: ["FBTEST_A": "1", "FBTEST_B": "2"], removing: ["FBTEST_*"])
        #expect(!dropped.stdout.contains("FBTEST_"))
    }

    @Test("a running program: waited for by its output, signalled, reaped; stop() kills and is idempotent")
    func running() throws {
        let printer = try RunningCommand(["sh", "-c", "echo ready; echo warn >&2; exec sleep 30"])
        #expect(printer.waitFor("ready", within: 10))
        #expect(printer.waitFor("warn", onStderr: true, within: 10))
        #expect(!printer.waitFor("never printed", within: 0.2))
        #expect(printer.isRunning)
        printer.signal(SIGTERM)
        #expect(printer.wait() == .init(status: 128 + SIGTERM, signaled: true))
        #expect(!printer.isRunning)

        let exits = try RunningCommand(["sh", "-c", "exit 3"])
        #expect(exits.wait() == .init(status: 3, signaled: false))
        let sleeper = try RunningCommand(["sleep", "30"])
        let pid = sleeper.pid
        sleeper.stop()
        sleeper.stop()
        #expect(kill(pid, 0) != 0, "the child is gone")
    }
}
