import Foundation

/// A child process started with `posix_spawn`, its stdout connected to a pipe this
/// object reads, its stderr to a file, its stdin to /dev/null. It stays in our
/// process group, so Ctrl-C on a terminal stops it too. Owns the pipe's read end and
/// the child: `wait()` reaps it; if the object goes away unreaped, the child is
/// killed and reaped, so no step of a failed export keeps running. Not thread-safe.
final class SpawnedCommand {
    let pid: pid_t
    /// Read end of the child's stdout.
    let stdout: Int32
    private var reaped = false

    /// Starts `arguments[0]` (found on PATH) with the other arguments.
    /// - Parameters:
    ///   - environment: added to this process's environment.
    ///   - stderrPath: file (created or truncated, 0600) that receives the child's stderr.
    /// - Throws: `CommandError.notFound`, or `ExportError.startFailed` with the system's reason.
    init(_ arguments: [String], environment: [String: String], stderrPath: String, step: String) throws {
        guard let first = arguments.first, let executable = CommandRunner.locate(first) else {
            throw CommandError.notFound(command: arguments.first ?? "")
        }
        var fds: [Int32] = [-1, -1]
        guard pipe(&fds) == 0 else {
            throw ExportError.startFailed(step: step, reason: "pipe: \(String(cString: strerror(errno)))")
        }
        // Not inherited by other children; the spawned one gets its end through dup2.
        _ = fcntl(fds[0], F_SETFD, FD_CLOEXEC)
        _ = fcntl(fds[1], F_SETFD, FD_CLOEXEC)
        let errFD = open(stderrPath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard errFD >= 0 else {
            let reason = String(cString: strerror(errno))
            close(fds[0]); close(fds[1])
            throw ExportError.startFailed(step: step, reason: "\(stderrPath): \(reason)")
        }
        defer { close(errFD); close(fds[1]) }

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, fds[1], 1)
        posix_spawn_file_actions_adddup2(&actions, errFD, 2)

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        // Clean signal state: SIGPIPE back to its default so a step whose reader
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
            close(fds[0])
            throw ExportError.startFailed(step: step, reason: "\(executable): \(String(cString: strerror(status)))")
        }
        self.pid = child
        self.stdout = fds[0]
    }

    deinit {
        close(stdout)
        if !reaped {
            kill(pid, SIGKILL)
            var status: Int32 = 0
            while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        }
    }

    /// Sends `signal` to the child unless it was reaped already.
    func signal(_ signal: Int32) {
        if !reaped { kill(pid, signal) }
    }

    /// Waits for the child and returns its exit status (128 + signal number when a
    /// signal ended it, as a shell reports it).
    func wait() -> Int32 {
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 {
            if errno != EINTR { reaped = true; return 255 }
        }
        reaped = true
        let signal = status & 0x7F
        return signal == 0 ? (status >> 8) & 0xFF : 128 + signal
    }

    /// Reads up to `buffer.count` bytes of the child's stdout; 0 at end of file.
    func read(into buffer: UnsafeMutableRawBufferPointer) -> Int {
        while true {
            let count = Foundation.read(stdout, buffer.baseAddress, buffer.count)
            if count >= 0 || errno != EINTR { return count }
        }
    }
}
