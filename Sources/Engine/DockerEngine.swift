import FrostbyteCore
import FoundationEssentials
import Glibc

/// Errors talking to the Docker engine.
public enum DockerEngineError: UserFacingError, Equatable {
    /// The engine does not answer (not running, or no permission on its socket).
    case engineUnreachable(detail: String)
    /// The CLI printed something that is not the JSON the Engine API documents.
    case unreadableOutput(command: String, detail: String)
    /// A docker or compose command failed; `operation` says what it was for.
    case failed(operation: String, detail: String)

    public var message: String {
        switch self {
        case .engineUnreachable(let detail):
            return "the Docker engine does not answer (\(detail)); start dockerd (scripts/setup) and run as root"
        case .unreadableOutput(let command, let detail):
            return "'\(command)' printed output this tool cannot read (\(detail)); check the docker CLI version"
        case .failed(let operation, let detail):
            return "docker failed to \(operation): \(detail)"
        }
    }

    public var exitStatus: ExitStatus { .environment }
}

/// The engine client: every docker and `docker compose` call of the tool goes
/// through a value of this type, never through a shell. One choice of CLI
/// (`docker`, or `$DOCKER` when set and not empty; the CLI itself honours
/// `DOCKER_HOST`), every call bounded by a timeout, typed results, and one
/// capability query (`capabilities()`, asked once per process and CLI).
public struct DockerEngine: Sendable {
    /// The docker CLI: a name on PATH or a path.
    public var docker: String
    /// Default bound, in seconds, for one call that lists or inspects.
    public var timeout: Double

    /// The CLI of this process: `$DOCKER` when set and not empty, else `docker`.
    public static var defaultCLI: String {
        ProcessInfo.processInfo.environment["DOCKER"].flatMap { $0.isEmpty ? nil : $0 } ?? "docker"
    }

    public init(docker: String? = nil, timeout: Double = 60) {
        self.docker = docker ?? Self.defaultCLI
        self.timeout = timeout
    }

    /// Runs `docker ARGUMENTS` and returns its result whatever the exit status.
    /// - Throws: `CommandError.notFound` (no docker CLI), `.timedOut`.
    func run(_ arguments: [String], stdin: Data? = nil, timeout: Double? = nil,
             environment: [String: String] = [:]) throws -> CommandResult {
        try CommandRunner.run([docker] + arguments, stdin: stdin, timeout: timeout ?? self.timeout,
                              extraEnvironment: environment)
    }

    /// Runs `docker ARGUMENTS` and returns its trimmed stdout.
    /// - Throws: `CommandError.failed` with docker's stderr when it exits non-zero.
    @discardableResult
    func check(_ arguments: [String], timeout: Double? = nil) throws -> String {
        try CommandRunner.check([docker] + arguments, timeout: timeout ?? self.timeout)
    }

    /// Runs `docker ARGUMENTS`, failing with `DockerEngineError.failed(operation:)`
    /// (docker's own stderr as the detail) when it exits non-zero.
    @discardableResult
    func perform(_ operation: String, _ arguments: [String], timeout: Double? = nil) throws -> CommandResult {
        let result = try run(arguments, timeout: timeout)
        guard result.status == 0 else {
            throw DockerEngineError.failed(operation: operation, detail: result.errorOutput)
        }
        return result
    }

    /// Starts `docker ARGUMENTS` with stdout on a pipe the caller reads (a stream of
    /// unknown length: `docker exec` of an export step, `docker save`).
    /// - Throws: `CommandError.notFound`, `.startFailed`.
    public func start(_ arguments: [String], stderrPath: String) throws -> ChildProcess {
        try ChildProcess([docker] + arguments, stdout: .pipe, stderrPath: stderrPath)
    }

    /// True when the CLI's error says the object does not exist (any CLI version:
    /// 20.10 "No such network: X", 28 "network X not found").
    public static func isNotFound(_ stderr: String) -> Bool {
        let text = stderr.lowercased()
        return text.contains("no such") || text.contains("not found")
    }

    func decode<T: Decodable>(_ type: T.Type, from data: Data, command: String) throws -> T {
        do {
            return try JSONDecoder().decode(T.self, from: data)
        } catch {
            throw DockerEngineError.unreadableOutput(command: command, detail: "\(error)")
        }
    }
}
