import BundleFormat
import Foundation

/// Errors running external commands (docker, docker compose, nsenter, ip, ...).
public enum CommandError: UserFacingError, Equatable {
    case notFound(command: String)
    case failed(command: String, status: Int32, stderr: String)
    case timedOut(command: String, seconds: Double)

    public var message: String {
        switch self {
        case .notFound(let command):
            return "'\(command)' was not found on PATH; install it (see scripts/setup) and run again"
        case .failed(let command, let status, let stderr):
            let detail = stderr.trimmingCharacters(in: .whitespacesAndNewlines)
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
    /// stdout as UTF-8 text without the trailing newline.
    public var output: String {
        String(decoding: stdout, as: UTF8.self).trimmingCharacters(in: .newlines)
    }
    /// stderr as UTF-8 text, trimmed.
    public var errorOutput: String {
        String(decoding: stderr, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }
}

/// Runs external programs with arguments (never through a shell), bounded by an
/// optional timeout. stdout and stderr are collected through temporary files, so a
/// chatty program can never deadlock on a full pipe.
public enum CommandRunner {
    /// Finds `name` on PATH (or returns it unchanged when it contains a slash).
    public static func locate(_ name: String) -> String? {
        if name.contains("/") { return FileManager.default.isExecutableFile(atPath: name) ? name : nil }
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        for folder in path.split(separator: ":") {
            let candidate = "\(folder)/\(name)"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }

    /// Runs `arguments[0]` with the rest as arguments and returns its result, whatever
    /// its exit status. `stdin` is fed from a file when given; `extraEnvironment` is
    /// added to this process's environment.
    /// - Throws: `CommandError.notFound`, `CommandError.timedOut`.
    public static func run(
        _ arguments: [String], stdin: Data? = nil, timeout: Double? = nil,
        extraEnvironment: [String: String] = [:], stdoutTo output: FileHandle? = nil
    ) throws -> CommandResult {
        guard let first = arguments.first, let executable = locate(first) else {
            throw CommandError.notFound(command: arguments.first ?? "")
        }
        let scratch = FileManager.default.temporaryDirectory
            .appendingPathComponent("fb-cmd-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: scratch) }
        let outURL = scratch.appendingPathComponent("out")
        let errURL = scratch.appendingPathComponent("err")
        // A file that could not be created makes FileHandle(forWritingTo:) below throw.
        _ = FileManager.default.createFile(atPath: outURL.path, contents: nil)
        _ = FileManager.default.createFile(atPath: errURL.path, contents: nil)
        let outHandle = try FileHandle(forWritingTo: outURL)
        let errHandle = try FileHandle(forWritingTo: errURL)
        defer { try? outHandle.close(); try? errHandle.close() }

        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = Array(arguments.dropFirst())
        process.standardOutput = output ?? outHandle
        process.standardError = errHandle
        if let stdin {
            let inURL = scratch.appendingPathComponent("in")
            try stdin.write(to: inURL)
            process.standardInput = try FileHandle(forReadingFrom: inURL)
        } else {
            process.standardInput = FileHandle.nullDevice
        }
        if !extraEnvironment.isEmpty {
            process.environment = ProcessInfo.processInfo.environment.merging(extraEnvironment) { $1 }
        }
        try process.run()
        let timedOut = waitBounded(process, timeout: timeout)
        if timedOut {
            throw CommandError.timedOut(command: arguments.joined(separator: " "), seconds: timeout ?? 0)
        }
        return CommandResult(
            status: process.terminationStatus,
            stdout: (try? Data(contentsOf: outURL)) ?? Data(),
            stderr: (try? Data(contentsOf: errURL)) ?? Data())
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

    /// Waits for `process`; past `timeout` seconds sends SIGTERM, then SIGKILL after
    /// 2 s. Returns true when the deadline was hit.
    private static func waitBounded(_ process: Process, timeout: Double?) -> Bool {
        guard let timeout else {
            process.waitUntilExit()
            return false
        }
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning {
            if Date() >= deadline {
                process.terminate()
                let killDeadline = Date().addingTimeInterval(2)
                while process.isRunning && Date() < killDeadline { usleep(20_000) }
                if process.isRunning { kill(process.processIdentifier, SIGKILL) }
                process.waitUntilExit()
                return true
            }
            usleep(10_000)
        }
        return false
    }
}
