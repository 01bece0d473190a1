import FrostbyteCore
import FoundationEssentials
import Glibc

/// One service of a stack as a manager lists it (`docker service ls --format '{{json .}}'`).
public struct SwarmServiceListing: Decodable, Sendable, Equatable {
    public var id: String
    public var name: String
    /// `replicated`, `global`, `replicated job`, ...
    public var mode: String
    /// `1/1`, `0/1`, `1/1 (max 1 per node)`: running / desired.
    public var replicas: String

    /// (running, desired), nil when unreadable.
    public var replicaCounts: (running: Int, desired: Int)? {
        let first = replicas.split(separator: " ").first ?? ""
        let parts = first.split(separator: "/")
        guard parts.count == 2, let running = Int(parts[0]), let desired = Int(parts[1]) else { return nil }
        return (running, desired)
    }

    enum CodingKeys: String, CodingKey {
        case id = "ID", name = "Name", mode = "Mode", replicas = "Replicas"
    }
}

/// One task as `docker stack ps` / `docker service ps` lists it, with its service.
public struct SwarmStackTask: Decodable, Sendable, Equatable {
    public var id: String
    /// `<service>.<slot>` (or `<service>.<node id>` for a global service).
    public var name: String
    public var node: String
    /// The state the orchestrator wants: `Running`, `Shutdown`, `Complete`.
    public var desiredState: String
    /// `Running 3 seconds ago`, `Starting 1 second ago`, `Failed ...`.
    public var currentState: String
    public var error: String

    /// The first word of `currentState`.
    public var state: String { currentState.split(separator: " ").first.map(String.init) ?? "" }

    enum CodingKeys: String, CodingKey {
        case id = "ID", name = "Name", node = "Node", desiredState = "DesiredState"
        case currentState = "CurrentState", error = "Error"
    }
}

/// Stacks, node labels and one-shot jobs, asked of a swarm manager. Every call is a
/// docker CLI run through `CommandRunner`; none changes anything but what it names.
extension DockerEngine {
    /// `docker stack deploy --detach=true --resolve-image never -c FILE NAME` with
    /// `environment` for the file's `${VAR}` substitutions (stack deploy has no
    /// --env-file). Converges: a second deploy of the same file changes nothing.
    /// - Throws: `DockerEngineError.failed` with docker's message.
    public func deployStack(_ name: String, file: String, environment: [String: String], timeout: Double = 300) throws {
        let result = try run(["stack", "deploy", "--detach=true", "--resolve-image", "never", "--prune",
                              "-c", file, name], timeout: timeout, environment: environment)
        guard result.status == 0 else {
            throw DockerEngineError.failed(operation: "deploy the stack \(name)", detail: result.errorOutput)
        }
    }

    /// `docker stack rm NAME`; nil when it went (or was not there), else docker's message.
    @discardableResult
    public func removeStack(_ name: String) -> String? {
        guard let result = try? run(["stack", "rm", name], timeout: 120) else { return "docker stack rm did not run" }
        let absent = result.errorOutput.contains("Nothing found in stack") || Self.isNotFound(result.errorOutput)
        return result.status == 0 || absent ? nil : result.errorOutput
    }

    /// The services whose name starts with `prefix` (`docker service ls --filter name=`).
    /// - Throws: `DockerEngineError.failed`, `.unreadableOutput`.
    public func services(named prefix: String) throws -> [SwarmServiceListing] {
        let result = try perform("list the services", ["service", "ls", "--filter", "name=\(prefix)", "--format", "{{json .}}"])
        return try result.output.split(separator: "\n").map {
            try decode(SwarmServiceListing.self, from: Data($0.utf8), command: "docker service ls")
        }.filter { $0.name.hasPrefix(prefix) }
    }

    /// The tasks of stack `name`, every state (`docker stack ps --no-trunc`); empty when none.
    /// - Throws: `DockerEngineError.failed`, `.unreadableOutput`.
    public func stackTasks(_ name: String) throws -> [SwarmStackTask] {
        let result = try run(["stack", "ps", "--no-trunc", "--format", "{{json .}}", name])
        if result.status != 0, result.errorOutput.contains("Nothing found in stack") { return [] }
        guard result.status == 0 else { throw DockerEngineError.failed(operation: "list the tasks of \(name)", detail: result.errorOutput) }
        return try result.output.split(separator: "\n").map {
            try decode(SwarmStackTask.self, from: Data($0.utf8), command: "docker stack ps \(name)")
        }
    }

    /// The labels of node `node` (hostname or ID).
    /// - Throws: `DockerEngineError.failed`, `.unreadableOutput`.
    public func nodeLabels(_ node: String) throws -> [String: String] {
        let result = try perform("inspect the node \(node)", ["node", "inspect", "--format", "{{json .Spec.Labels}}", node])
        if result.output.trimmed() == "null" { return [:] }
        return try decode([String: String].self, from: Data(result.output.utf8), command: "docker node inspect \(node)")
    }

    /// Adds (or replaces) and removes labels of node `node` in one update.
    /// - Throws: `DockerEngineError.failed`.
    public func updateNodeLabels(_ node: String, add: [String: String] = [:], remove: [String] = []) throws {
        guard !add.isEmpty || !remove.isEmpty else { return }
        let adds = add.sorted { $0.key < $1.key }.flatMap { ["--label-add", "\($0.key)=\($0.value)"] }
        let removes = remove.sorted().flatMap { ["--label-rm", $0] }
        try perform("label the node \(node)", ["node", "update"] + adds + removes + [node])
    }

    /// Creates a one-shot job (`replicated-job`, one task, never restarted) from
    /// `image` (an ID: never resolved or pulled), on `network`, on the node
    /// `constraint` allows, with the variables of `envFile` and `command`.
    /// - Throws: `DockerEngineError.failed`.
    public func createJob(name: String, image: String, network: String, constraint: String, envFile: String,
                          entrypoint: [String], labels: [String: String]) throws {
        let labelArguments = labels.sorted { $0.key < $1.key }.flatMap { ["--label", "\($0.key)=\($0.value)"] }
        let head = entrypoint.first ?? "sh"
        try perform("create the job \(name)", ["service", "create", "--detach", "--name", name, "--mode", "replicated-job",
                                              "--restart-condition", "none", "--no-resolve-image", "--network", network,
                                              "--constraint", constraint, "--env-file", envFile, "--entrypoint", head]
                    + labelArguments + [image] + entrypoint.dropFirst())
    }

    /// The job's output (`docker service logs --raw`): stdout and stderr as the task wrote them.
    /// - Throws: `CommandError`.
    public func serviceLogs(_ name: String) throws -> CommandResult {
        try run(["service", "logs", "--raw", "--no-task-ids", name], timeout: 60)
    }
}
