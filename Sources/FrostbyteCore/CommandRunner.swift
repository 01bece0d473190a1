import FoundationEssentials
import Glibc

/// Errors running external commands (docker, docker compose, nsenter, ip, ...).
public enum CommandError: UserFacingError, Equatable {
    case notFound(command: String)
    case startFailed(command: String, reason: String)
    case failed(command: String, status: Int32, stderr: String)
    case timedOut(command: String, seconds: Double)

    public var message: String {
        switch self {
        case .notFound(let command):
            return "'\(command)' was not found on PATH; install it (see scripts/setup) and run again"
        case .startFailed(let command, let reason):
            return "'\(command)' could not be started (\(reason))"
        case .failed(let command, let status, let stderr):
            let detail = stderr.trimmed()
            return "'\(command)' exited with status \(status)" + (detail.isEmpty ? "" : ": \(detail)")
        case .timedOut(let command, let seconds):
            return "'\(command)' did not finish within \(Int(seconds)) s and was stopped"
        }
    }

    public var exitStatus: ExitStatus { .environment }
}

/// What a finished command printed and how it exited.
public struct CommandResult: Sendable {
    public var status: Int32
    public var stdout: Data
    public var stderr: Data

    public init(status: Int32, stdout: Data, stderr: Data) {
        self.status = status; self.stdout = stdout; self.stderr = stderr
    }

    /// stdout as UTF-8 text without the trailing newline.
    public var output: String {
        String(decoding: stdout, as: UTF8.self).trimmed(.newlines)
    }
    /// stderr as UTF-8 text, trimmed.
    public var errorOutput: String {
        String(decoding: stderr, as: UTF8.self).trimmed()
    }
}

/// Runs external programs to completion with arguments (never through a shell),
/// bounded by an optional timeout, on top of `ChildProcess`. stdout and stderr are
/// collected through temporary files, so a chatty program can never deadlock on a
/// full pipe.
public enum CommandRunner {
    /// Finds `name` on PATH (or returns it unchanged when it contains a slash).
    public static func locate(_ name: String) -> String? {
        if name.contains("/") { return access(name, X_OK) == 0 ? name : nil }
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        for folder in path.split(separator: ":") {
            let candidate = "\(folder)/\(name)"
            var info = stat()
            if stat(candidate, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG, access(candidate, X_OK) == 0 {
                return candidate
            }
        }
        return nil
    }

    /// Runs `arguments[0]` with the rest as arguments and returns its result, whatever
    /// its exit status. `stdin` is fed from a file when given; `extraEnvironment` is
    /// added to this process's environment; `output`, when given, receives stdout
    /// instead of the result.
    /// - Throws: `CommandError.notFound`, `.startFailed`, `.timedOut`.
    public static func run(
        _ arguments: [String], stdin: Data? = nil, timeout: Double? = nil,
        extraEnvironment: [String: String] = [:], stdoutTo output: Int32? = nil
    ) throws -> CommandResult {
        let scratch = try ScratchFolder(prefix: "fb-cmd")
        let outPath = "\(scratch.path)/out", errPath = "\(scratch.path)/err"
        var input = ChildProcess.Input.null
        if let stdin {
            let inPath = "\(scratch.path)/in"
            try AtomicFile.write(stdin, to: inPath, mode: 0o600, sync: false)
            input = .file(inPath)
        }
        let outFD = output ?? open(outPath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard outFD >= 0 else {
            throw CommandError.startFailed(command: arguments.joined(separator: " "),
                                           reason: "\(outPath): \(String(cString: strerror(errno)))")
        }
        defer { if output == nil { close(outFD) } }
        let child = try ChildProcess(arguments, environment: extraEnvironment, stdin: input,
                                     stdout: .descriptor(outFD), stderrPath: errPath)
        guard let status = child.wait(seconds: timeout) else {
            throw CommandError.timedOut(command: arguments.joined(separator: " "), seconds: timeout ?? 0)
        }
        return CommandResult(
            status: status,
            stdout: output == nil ? (FileManager.default.contents(atPath: outPath) ?? Data()) : Data(),
            stderr: FileManager.default.contents(atPath: errPath) ?? Data())
    }

    /// Runs a command and returns its trimmed stdout.
    /// - Throws: `CommandError.failed` with its stderr when the exit status is not 0.
    @discardableResult
    public static func check(
        _ arguments: [String], stdin: Data? = nil, timeout: Double? = nil,
        extraEnvironment: [String: String] = [:]
    ) throws -> String {
        let result = try run(arguments, stdin: stdin, timeout: timeout, extraEnvironment: extraEnvironment)
        guard result.status == 0 else {
            throw CommandError.failed(
                command: arguments.joined(separator: " "), status: result.status, stderr: result.errorOutput)
        }
        return result.output
    }
}

/// A private temporary folder (0700) removed with everything in it when the value
/// goes away.
public final class ScratchFolder {
    public let path: String

    /// - Throws: `CommandError.startFailed` when the folder cannot be created.
    public init(prefix: String) throws {
        let base = ProcessInfo.processInfo.environment["TMPDIR"].flatMap { $0.isEmpty ? nil : $0 } ?? "/tmp"
        var template = Array("\(base)/\(prefix)-XXXXXX".utf8CString)
        guard let made = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
            throw CommandError.startFailed(command: prefix, reason: "mkdtemp in \(base): \(String(cString: strerror(errno)))")
        }
        path = String(cString: made)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }
}
