import Foundation
import FrostbyteCore

/// What a finished program printed and how it exited.
public struct CommandOutput: Sendable {
    public var status: Int32
    /// stdout as bytes.
    public var data: Data
    /// stderr as UTF-8 text.
    public var stderr: String
    /// stdout as UTF-8 text.
    public var stdout: String { String(decoding: data, as: UTF8.self) }
    /// stdout, then stderr (what a terminal would show, not interleaved).
    public var combined: String { stdout + stderr }

    public init(status: Int32, data: Data, stderr: String) {
        self.status = status; self.data = data; self.stderr = stderr
    }

    /// An output with text `stdout` (a recorded run read back).
    public init(status: Int32, stdout: String, stderr: String) {
        self.init(status: status, data: Data(stdout.utf8), stderr: stderr)
    }
}

/// The tests' one way to run a program, on the project's own `CommandRunner` /
/// `ChildProcess` (posix_spawn, no shell, output through files, killed and reaped
/// on timeout). Every run goes through `env`, so a test can name a working folder
/// (`env -C`), variables to drop (`env -u`) or an empty environment (`env -i`, as an
/// argument) without a shell.
public enum TestCommand {
    /// Runs `arguments[0]` (found on PATH) with the rest as arguments and returns its
    /// result, whatever its exit status.
    /// - Parameters:
    ///   - environment: added to this process's environment.
    ///   - removing: names the program does not get, even when set here or in
    ///     `environment` (a name ending in `*` drops every name with that prefix).
    ///   - stdin: bytes fed as stdin; else the file `stdinFile`; else /dev/null.
    ///   - folder: the working folder.
    ///   - timeout: seconds before the program is stopped and the call throws
    ///     (`CommandError.timedOut`); nil waits however long it takes. The default
    ///     bounds a hung program without cutting any real step short.
    @discardableResult
    public static func run(_ arguments: [String], environment: [String: String] = [:], removing: [String] = [],
                           stdin: Data? = nil, stdinFile: String? = nil, in folder: String? = nil,
                           timeout: Double? = 900) throws -> CommandOutput {
        var command = ["env"]
        if let folder { command += ["-C", folder] }
        let present = Set(ProcessInfo.processInfo.environment.keys).union(environment.keys)
        for name in removing {
            let names = name.hasSuffix("*") ? present.filter { $0.hasPrefix(name.dropLast()) }.sorted() : [name]
            for each in names { command += ["-u", each] }
        }
        var input = stdin
        if input == nil, let stdinFile {
            guard let data = FileManager.default.contents(atPath: stdinFile) else { throw TestFailure("cannot read \(stdinFile)") }
            input = data
        }
        let result = try CommandRunner.run(command + ["--"] + arguments, stdin: input, timeout: timeout,
                                           extraEnvironment: environment)
        return CommandOutput(status: result.status, data: result.stdout,
                             stderr: String(decoding: result.stderr, as: UTF8.self))
    }

    /// Runs a program and returns its trimmed stdout.
    /// - Throws: `TestFailure` with its stderr when it exits with a status other than 0.
    @discardableResult
    public static func check(_ arguments: [String], environment: [String: String] = [:], stdin: Data? = nil,
                             in folder: String? = nil, timeout: Double? = 900) throws -> String {
        let result = try run(arguments, environment: environment, stdin: stdin, in: folder, timeout: timeout)
        guard result.status == 0 else {
            throw TestFailure("\(arguments.joined(separator: " ")) exited \(result.status): \(result.stderr)")
        }
        return result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Runs the binary under test (`FrostbyteBinary.path`) with `arguments`.
    @discardableResult
    public static func tool(_ arguments: [String], environment: [String: String] = [:], stdin: Data? = nil,
                            in folder: String? = nil, timeout: Double? = 900) throws -> CommandOutput {
        try run([try FrostbyteBinary.path] + arguments, environment: environment, stdin: stdin, in: folder,
                timeout: timeout)
    }
}
