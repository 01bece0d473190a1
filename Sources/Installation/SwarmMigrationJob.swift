import FrostbyteCore
import BundleFormat
import Engine
import InstallationState
import FoundationEssentials
import Glibc

/// Runs a psql session of `MigrationRunner` on a swarm, from the manager, which cannot
/// `docker exec` into a task on another node: a one-shot job (`replicated-job`, never
/// restarted) of the database's own image (by ID), on the stack's internal overlay,
/// placed on the database's node, connects to the database service by name over TCP.
/// The SQL reaches it base64-encoded in a 0600 env file together with the install's
/// secrets (`PGPASSWORD`, else `POSTGRES_PASSWORD`, is psql's password), never on a
/// command line; the file is removed and the job deleted before `run` returns. Its
/// stdout/stderr come back through `docker service logs`, its exit status from the
/// task's state (`Complete` → 0, `Failed … non-zero exit (N)` → N).
public struct SwarmMigrationJob: Sendable {
    public var engine: DockerEngine
    public var layout: InstallationLayout
    /// The database's image ID, its service name (the DNS name on the overlay), the
    /// overlay's full name and the placement constraint of the database's node.
    public var image: String
    public var host: String
    public var network: String
    public var constraint: String
    public var stack: String

    public init(engine: DockerEngine, layout: InstallationLayout, image: String, host: String, network: String,
                constraint: String, stack: String) {
        self.engine = engine; self.layout = layout; self.image = image; self.host = host
        self.network = network; self.constraint = constraint; self.stack = stack
    }

    /// One psql session: `command` (psql's argv) with `stdin` as its input.
    /// - Throws: `SwarmInstallError.migrationJob` when the job cannot run or gives no
    ///   answer within `timeout`; `FileSystemError` for the env file.
    public func run(_ command: [String], stdin: Data, timeout: Double) throws -> CommandResult {
        let name = "\(stack)_fbmigrate-\(TextFormat.hex(UInt64.random(in: 0...UInt64.max), width: 16).prefix(8))"
        let envFile = "\(layout.state)/.\(name).env"
        var lines = [String]()
        if let secrets = FileManager.default.contents(atPath: layout.secretsEnv) {
            lines += String(decoding: secrets, as: UTF8.self).split(separator: "\n").map(String.init)
                .filter { !$0.hasPrefix("#") && $0.contains("=") }
        }
        lines.append("FROSTBYTE_SQL_B64=\(stdin.base64EncodedString())")
        try AtomicFile.write(Data((lines.joined(separator: "\n") + "\n").utf8), to: envFile, mode: 0o600)
        defer { unlink(envFile); engine.removeService(name) }
        var psql = command
        psql.insert(contentsOf: ["-h", host], at: 1)
        let script = "export PGPASSWORD=\"${PGPASSWORD:-$POSTGRES_PASSWORD}\"; unset POSTGRES_PASSWORD; echo \"$FROSTBYTE_SQL_B64\" | base64 -d | \"$@\""
        do {
            try engine.createJob(name: name, image: image, network: network, constraint: constraint, envFile: envFile,
                                 entrypoint: ["sh", "-c", script, "sh"] + psql,
                                 labels: ["com.docker.stack.namespace": stack, "io.frostbyte.job": "migrations"])
        } catch {
            throw SwarmInstallError.migrationJob(detail: "\(error)")
        }
        let deadline = Date().addingTimeInterval(timeout)
        while true {
            let tasks = (try? engine.serviceTasks(name)) ?? []
            if let task = tasks.first, let status = Self.exitStatus(task) {
                let logs = try engine.serviceLogs(name)
                return CommandResult(status: status, stdout: logs.stdout, stderr: logs.stderr)
            }
            guard Date() < deadline else {
                let state = tasks.first.map { "\($0.currentState) on \($0.node)\($0.error.isEmpty ? "" : ": \($0.error)")" } ?? "no task"
                throw SwarmInstallError.migrationJob(detail: "no answer within \(Int(timeout)) s (\(state))")
            }
            usleep(300_000)
        }
    }

    /// The exit status a finished task reports, nil while it runs.
    static func exitStatus(_ task: SwarmTaskListing) -> Int32? {
        let state = task.currentState.split(separator: " ").first.map(String.init) ?? ""
        switch state {
        case "Complete": return 0
        case "Failed", "Rejected", "Shutdown", "Orphaned":
            if let open = task.error.firstRange(of: "exit ("), let close = task.error[open.upperBound...].firstIndex(of: ")"),
               let code = Int32(task.error[open.upperBound..<close]) {
                return code
            }
            return 125
        default: return nil
        }
    }
}
