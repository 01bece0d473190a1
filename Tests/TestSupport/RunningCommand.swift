import Foundation
import FrostbyteCore

/// A program the test started and keeps running (a listener, a resolver, a build or
/// install to interrupt), on the project's `ChildProcess`. stdout and stderr go to
/// files a test can watch (`waitFor`); stdin is /dev/null. The child is SIGKILLed and
/// reaped on `stop()` or when the object goes away, so nothing a test started outlives
/// it. Use from one test at a time (not thread-safe).
public final class RunningCommand {
    private let child: ChildProcess
    private let scratch: ScratchFolder
    private let outFD: Int32
    public let arguments: [String]
    private var ended: Termination?

    /// How the program ended: its exit status (128 + N after signal N, as a shell
    /// says) and whether a signal ended it.
    public struct Termination: Equatable, Sendable {
        public var status: Int32
        public var signaled: Bool

        public init(status: Int32, signaled: Bool) { self.status = status; self.signaled = signaled }
    }

    /// Starts `arguments[0]` (found on PATH) with the rest as arguments.
    /// - Throws: `CommandError` when it cannot be started.
    public init(_ arguments: [String], environment: [String: String] = [:]) throws {
        self.arguments = arguments
        scratch = try ScratchFolder(prefix: "fbtest-running")
        outFD = open("\(scratch.path)/out", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard outFD >= 0 else { throw TestFailure("cannot create \(scratch.path)/out") }
        do {
            child = try ChildProcess(arguments, environment: environment, stdout: .descriptor(outFD),
                                     stderrPath: "\(scratch.path)/err")
        } catch {
            close(outFD)
            throw error
        }
    }

    deinit {
        stop()
        close(outFD)
    }

    public var pid: pid_t { child.pid }

    /// What it printed on stdout so far.
    public var output: String { (try? String(contentsOfFile: "\(scratch.path)/out", encoding: .utf8)) ?? "" }
    /// What it printed on stderr so far.
    public var errorOutput: String { (try? String(contentsOfFile: "\(scratch.path)/err", encoding: .utf8)) ?? "" }

    /// True while the program runs (checked without reaping it).
    public var isRunning: Bool {
        guard ended == nil else { return false }
        var info = siginfo_t()
        return waitid(P_PID, id_t(child.pid), &info, WEXITED | WNOHANG | WNOWAIT) == 0 && info._sifields._kill.si_pid == 0
    }

    /// Waits until stdout (or stderr with `onStderr`) contains `text`, the program
    /// ends, or `seconds` pass. - Returns: whether the text appeared.
    @discardableResult
    public func waitFor(_ text: String, onStderr: Bool = false, within seconds: Double) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while true {
            if (onStderr ? errorOutput : output).contains(text) { return true }
            if !isRunning || Date() >= deadline { return (onStderr ? errorOutput : output).contains(text) }
            usleep(20_000)
        }
    }

    /// Sends `signal` to the program unless it has been reaped.
    public func signal(_ signal: Int32) { if ended == nil { child.signal(signal) } }

    /// Waits for the program to end and reaps it.
    @discardableResult
    public func wait() -> Termination {
        if let ended { return ended }
        var info = siginfo_t()
        while waitid(P_PID, id_t(child.pid), &info, WEXITED | WNOWAIT) < 0 && errno == EINTR {}
        let signaled = info.si_code == Int32(CLD_KILLED) || info.si_code == Int32(CLD_DUMPED)
        let result = Termination(status: child.wait(), signaled: signaled)
        ended = result
        return result
    }

    /// SIGKILLs the program (so one that ignores SIGTERM stops too) and reaps it.
    /// Idempotent.
    public func stop() {
        guard ended == nil else { return }
        child.signal(SIGKILL)
        wait()
    }
}
