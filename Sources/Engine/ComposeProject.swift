import FrostbyteCore
import FoundationEssentials
import Glibc

/// The state of one compose container, from `docker compose ps --format json`.
public struct ServiceState: Codable, Sendable, Equatable {
    public var service: String
    public var container: String
    /// running, exited, restarting, created, paused, dead.
    public var state: String
    /// healthy, unhealthy, starting, or "" when the service has no healthcheck.
    public var health: String
    public var exitCode: Int
    public var status: String

    enum CodingKeys: String, CodingKey {
        case service, container, state, health, status
        case exitCode = "exit_code"
    }

    /// Running and, when it has a healthcheck, healthy.
    public var isHealthy: Bool { state == "running" && (health.isEmpty || health == "healthy") }
}

/// Drives one compose project through the Compose v2 CLI of the engine client,
/// always as `docker compose -p PROJECT -f FILE [--env-file ENV] ...` with
/// `environment` added (the variables the compose file interpolates).
public struct ComposeDriver: Sendable {
    public var engine: DockerEngine
    public var project: String
    public var composeFile: String
    public var envFile: String
    public var environment: [String: String]

    public init(engine: DockerEngine = DockerEngine(), project: String, composeFile: String, envFile: String,
                environment: [String: String]) {
        self.engine = engine; self.project = project; self.composeFile = composeFile
        self.envFile = envFile; self.environment = environment
    }

    /// The compose arguments before the subcommand: `compose -p .. -f .. [--env-file ..]`.
    public var baseArguments: [String] {
        var arguments = ["compose", "-p", project, "-f", composeFile]
        if FileManager.default.fileExists(atPath: envFile) { arguments += ["--env-file", envFile] }
        return arguments
    }

    /// Runs one compose subcommand and returns its result whatever the exit status.
    public func run(_ arguments: [String], stdin: Data? = nil, timeout: Double? = nil) throws -> CommandResult {
        try engine.run(baseArguments + arguments, stdin: stdin, timeout: timeout, environment: environment)
    }

    /// `up -d` without pulling or building; recreates only what changed, so data
    /// volumes of the same project survive an upgrade.
    /// - Throws: `InstallError.docker` with compose's own message.
    public func up(timeout: Double) throws {
        let result = try run(["up", "-d", "--remove-orphans", "--pull", "never", "--no-build"], timeout: timeout)
        guard result.status == 0 else {
            throw DockerEngineError.failed(operation: "start the stack (compose up)", detail: result.errorOutput)
        }
    }

    /// The services the compose file declares.
    public func services() throws -> [String] {
        let result = try run(["config", "--services"], timeout: 60)
        guard result.status == 0 else {
            throw DockerEngineError.failed(operation: "read the compose file \(composeFile)", detail: result.errorOutput)
        }
        return result.output.split(separator: "\n").map(String.init).sorted()
    }

    /// The state of every container of the project (stopped ones included).
    public func ps() throws -> [ServiceState] {
        let result = try run(["ps", "-a", "--format", "json"], timeout: 60)
        guard result.status == 0 else {
            throw DockerEngineError.failed(operation: "list the stack's containers (compose ps)", detail: result.errorOutput)
        }
        return Self.parsePS(result.stdout)
    }

    /// Parses `compose ps --format json`: one object per line (Compose >= 2.21) or
    /// one array (older v2).
    static func parsePS(_ data: Data) -> [ServiceState] {
        /// One row as Compose prints it; every field optional across Compose versions.
        struct Row: Decodable {
            var Service: String?
            var Name: String?
            var State: String?
            var Health: String?
            var ExitCode: Int?
            var Status: String?
        }
        let decoder = JSONDecoder()
        var rows: [Row] = []
        if let array = try? decoder.decode([Row].self, from: data) {
            rows = array
        } else {
            for line in data.split(separator: UInt8(ascii: "\n")) where !line.isEmpty {
                if let row = try? decoder.decode(Row.self, from: Data(line)) { rows.append(row) }
            }
        }
        return rows.map { row in
            ServiceState(
                service: row.Service ?? "", container: row.Name ?? "", state: (row.State ?? "").lowercased(),
                health: (row.Health ?? "").lowercased(), exitCode: row.ExitCode ?? 0, status: row.Status ?? "")
        }.sorted { $0.service < $1.service }
    }

    /// The last `lines` log lines of `service` (stdout and stderr), or a note why not.
    public func logs(_ service: String, lines: Int = 20) -> String {
        guard let result = try? run(["logs", "--no-color", "--no-log-prefix", "--tail", "\(lines)", service], timeout: 30)
        else { return "(logs unavailable)" }
        let text = String(decoding: result.stdout + result.stderr, as: UTF8.self)
        return text.split(separator: "\n", omittingEmptySubsequences: false).suffix(lines).joined(separator: "\n")
    }

    /// Runs a command in a running service's container with `exec -T` (no TTY), stdin fed from `stdin`.
    public func exec(_ service: String, _ command: [String], stdin: Data? = nil, timeout: Double) throws -> CommandResult {
        try run(["exec", "-T", service] + command, stdin: stdin, timeout: timeout)
    }

    /// `down --remove-orphans` (and `--volumes` when asked): stops and removes the
    /// project's containers and networks.
    public func down(removeVolumes: Bool, timeout: Double = 300) throws {
        var arguments = ["down", "--remove-orphans"]
        if removeVolumes { arguments.append("--volumes") }
        let result = try run(arguments, timeout: timeout)
        guard result.status == 0 else {
            throw DockerEngineError.failed(operation: "stop the stack (compose down)", detail: result.errorOutput)
        }
    }
}
