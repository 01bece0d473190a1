import FoundationEssentials
import Glibc

/// A child process started with `posix_spawn`: the one way this tool starts a
/// program. Its stdin is /dev/null, a file or a pipe this object writes, its stdout a
/// pipe this object reads or a file, its stderr a file. It stays in our process group, so Ctrl-C on a terminal
/// stops it too, and it starts with SIGPIPE, SIGINT, SIGTERM and SIGHUP at their
/// default actions and no signal blocked. Owns the pipe's read end and the child:
/// `wait()` reaps it; if the object goes away unreaped, the child is killed and
/// reaped, so nothing this tool started outlives a failure. Not thread-safe.
public final class ChildProcess {
    /// Where the child's stdin comes from.
    public enum Input {
        /// /dev/null.
        case null
        /// A file the child reads.
        case file(String)
        /// A pipe whose write end this object owns (`writeInput`, `closeInput`).
        case pipe
    }

    /// Where the child's stdout goes.
    public enum Output {
        /// A pipe whose read end is `stdout` of this object.
        case pipe
        /// An open file descriptor (dup'ed into the child; the caller keeps it).
        case descriptor(Int32)
    }

    public let pid: pid_t
    /// Read end of the child's stdout when it goes to a pipe; -1 otherwise.
    public let stdout: Int32
    /// Write end of the child's stdin when it comes from a pipe (non-blocking); -1 otherwise.
    private var stdinWriter: Int32
    private var reaped = false
    private var exitStatus: Int32 = 0

    /// Starts `arguments[0]` (found on PATH unless it holds a slash) with the rest as
    /// arguments, never through a shell.
    /// - Parameters:
    ///   - environment: added to this process's environment.
    ///   - stdin: /dev/null, a file, or a pipe written through `writeInput`.
    ///   - stdout: a pipe (read through `read(into:)`) or a descriptor.
    ///   - stderrPath: file (created or truncated, 0600) that receives the child's stderr.
    /// - Throws: `CommandError.notFound`, `CommandError.startFailed` with the system's reason.
    public init(_ arguments: [String], environment: [String: String] = [:], stdin: Input = .null,
                stdout: Output = .pipe, stderrPath: String) throws {
        let command = arguments.joined(separator: " ")
        guard let first = arguments.first, let executable = CommandRunner.locate(first) else {
            throw CommandError.notFound(command: arguments.first ?? "")
        }
        func failure(_ what: String, _ code: Int32 = errno) -> CommandError {
            .startFailed(command: command, reason: "\(what): \(String(cString: strerror(code)))")
        }
        var fds: [Int32] = [-1, -1]
        if case .pipe = stdout {
            guard pipe(&fds) == 0 else { throw failure("pipe") }
            // Not inherited by other children; the spawned one gets its end through dup2.
            _ = fcntl(fds[0], F_SETFD, FD_CLOEXEC)
            _ = fcntl(fds[1], F_SETFD, FD_CLOEXEC)
        }
        defer { if fds[1] >= 0 { close(fds[1]) } }
        var input: [Int32] = [-1, -1]
        if case .pipe = stdin {
            guard pipe(&input) == 0 else {
                let error = failure("pipe")
                if fds[0] >= 0 { close(fds[0]) }
                throw error
            }
            _ = fcntl(input[0], F_SETFD, FD_CLOEXEC)
            _ = fcntl(input[1], F_SETFD, FD_CLOEXEC)
            // Our end only: writes wait in poll(2), so a deadline bounds them.
            _ = fcntl(input[1], F_SETFL, fcntl(input[1], F_GETFL) | O_NONBLOCK)
        }
        defer { if input[0] >= 0 { close(input[0]) } }
        let errFD = open(stderrPath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard errFD >= 0 else {
            let error = failure(stderrPath)
            if fds[0] >= 0 { close(fds[0]) }
            if input[1] >= 0 { close(input[1]) }
            throw error
        }
        defer { close(errFD) }

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        switch stdin {
        case .null: posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        case .file(let path): posix_spawn_file_actions_addopen(&actions, 0, path, O_RDONLY, 0)
        case .pipe: posix_spawn_file_actions_adddup2(&actions, input[0], 0)
        }
        switch stdout {
        case .pipe: posix_spawn_file_actions_adddup2(&actions, fds[1], 1)
        case .descriptor(let descriptor): posix_spawn_file_actions_adddup2(&actions, descriptor, 1)
        }
        posix_spawn_file_actions_adddup2(&actions, errFD, 2)

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        // Clean signal state: SIGPIPE back to its default so a child whose reader
        // went away ends instead of spinning on EPIPE.
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        var emptyMask = sigset_t()
        sigemptyset(&emptyMask)
        posix_spawnattr_setsigmask(&attributes, &emptyMask)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for signal in [SIGPIPE, SIGINT, SIGTERM, SIGHUP] { sigaddset(&defaults, signal) }
        posix_spawnattr_setsigdefault(&attributes, &defaults)

        let merged = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        let argv = ([executable] + arguments.dropFirst()).map { strdup($0) } + [nil]
        let envp = merged.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            for pointer in argv { free(pointer) }
            for pointer in envp { free(pointer) }
        }
        var child: pid_t = 0
        let status = posix_spawn(&child, executable, &actions, &attributes, argv, envp)
        guard status == 0 else {
            if fds[0] >= 0 { close(fds[0]) }
            if input[1] >= 0 { close(input[1]) }
            throw failure(executable, status)
        }
        self.pid = child
        self.stdout = fds[0]
        self.stdinWriter = input[1]
    }

    deinit {
        if stdout >= 0 { close(stdout) }
        closeInput()
        if !reaped {
            kill(pid, SIGKILL)
            var status: Int32 = 0
            while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        }
    }

    /// Sends `signal` to the child unless it was reaped already.
    public func signal(_ signal: Int32) {
        if !reaped { kill(pid, signal) }
    }

    /// Waits for the child and returns its exit status (128 + signal number when a
    /// signal ended it, as a shell reports it).
    public func wait() -> Int32 {
        if reaped { return exitStatus }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 {
            if errno != EINTR { return record(255) }
        }
        return record(Self.decode(status))
    }

    /// Waits at most `seconds` (nil: without bound). Past the deadline the child gets
    /// SIGTERM, then SIGKILL 2 s later, and is reaped.
    /// - Returns: the exit status, or nil when the deadline was hit.
    public func wait(seconds: Double?) -> Int32? {
        guard let seconds else { return wait() }
        let deadline = Date().addingTimeInterval(seconds)
        while !reaped {
            if poll() != nil { return exitStatus }
            if Date() >= deadline {
                signal(SIGTERM)
                let killDeadline = Date().addingTimeInterval(2)
                while poll() == nil && Date() < killDeadline { usleep(20_000) }
                signal(SIGKILL)
                _ = wait()
                return nil
            }
            usleep(5_000)
        }
        return exitStatus
    }

    /// Reaps the child if it has ended; nil while it runs.
    private func poll() -> Int32? {
        if reaped { return exitStatus }
        var status: Int32 = 0
        let result = waitpid(pid, &status, WNOHANG)
        if result == pid { return record(Self.decode(status)) }
        if result < 0 && errno != EINTR { return record(255) }
        return nil
    }

    private func record(_ status: Int32) -> Int32 {
        reaped = true
        exitStatus = status
        return status
    }

    private static func decode(_ status: Int32) -> Int32 {
        let signal = status & 0x7F
        return signal == 0 ? (status >> 8) & 0xFF : 128 + signal
    }

    /// Why `writeInput` stopped.
    public enum InputError: Error, Equatable {
        /// The child closed its stdin (it exited, or stopped reading): EPIPE.
        case closed
        /// The deadline passed before the child took every byte.
        case timedOut
        /// No stdin pipe, or `write(2)`/`poll(2)` failed (the system's reason).
        case failed(String)
    }

    /// Writes every byte of `bytes` into the child's stdin pipe, waiting in `poll(2)`
    /// while the pipe is full, until `deadline` (nil: without bound). A child that closed
    /// its stdin is reported as `.closed`, never by SIGPIPE: the signal is blocked on the
    /// calling thread for the call and the one this write raised is consumed. May be
    /// called from another thread than the one that started the child, as long as calls
    /// are not concurrent with each other or with `closeInput`/`deinit`.
    /// - Throws: `InputError`.
    public func writeInput(_ bytes: UnsafeRawBufferPointer, deadline: Date?) throws {
        guard stdinWriter >= 0 else { throw InputError.failed("the child's stdin is not a pipe") }
        guard let base = bytes.baseAddress, bytes.count > 0 else { return }
        var pipeSignal = sigset_t()
        sigemptyset(&pipeSignal)
        sigaddset(&pipeSignal, SIGPIPE)
        var previous = sigset_t()
        pthread_sigmask(SIG_BLOCK, &pipeSignal, &previous)
        defer { pthread_sigmask(SIG_SETMASK, &previous, nil) }
        var offset = 0
        while offset < bytes.count {
            let written = write(stdinWriter, base + offset, bytes.count - offset)
            if written >= 0 { offset += written; continue }
            switch errno {
            case EINTR:
                continue
            case EAGAIN:
                var descriptor = pollfd(fd: stdinWriter, events: Int16(POLLOUT), revents: 0)
                var milliseconds: Int32 = -1
                if let deadline {
                    let left = deadline.timeIntervalSinceNow
                    guard left > 0 else { throw InputError.timedOut }
                    milliseconds = Int32(min(left * 1000, 60_000).rounded(.up))
                }
                if Glibc.poll(&descriptor, 1, milliseconds) < 0 && errno != EINTR {
                    throw InputError.failed("poll: \(String(cString: strerror(errno)))")
                }
            case EPIPE:
                var none = timespec(tv_sec: 0, tv_nsec: 0)
                while sigtimedwait(&pipeSignal, nil, &none) < 0 && errno == EINTR {}
                throw InputError.closed
            default:
                throw InputError.failed(String(cString: strerror(errno)))
            }
        }
    }

    /// Closes the write end of the child's stdin pipe (end of input); idempotent.
    public func closeInput() {
        if stdinWriter >= 0 { close(stdinWriter) }
        stdinWriter = -1
    }

    /// Reads up to `buffer.count` bytes of the child's stdout pipe; 0 at end of file.
    public func read(into buffer: UnsafeMutableRawBufferPointer) -> Int {
        while true {
            let count = Glibc.read(stdout, buffer.baseAddress, buffer.count)
            if count >= 0 || errno != EINTR { return count }
        }
    }
}
