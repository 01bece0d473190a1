import FrostbyteCore
import FoundationEssentials
import Glibc

/// This engine's place in a Docker Swarm (`docker info`'s `Swarm` object; the same
/// keys from API 1.41 to 1.51).
public struct SwarmNode: Codable, Sendable, Equatable {
    /// The swarm's ID of this node; empty when the engine is in no swarm.
    public var nodeID: String
    /// The address the node advertises to the swarm.
    public var nodeAddress: String
    /// `inactive`, `pending`, `active`, `error` or `locked`.
    public var localNodeState: String
    /// True on a manager (it answers the swarm API: `docker node ls`, `docker stack deploy`).
    public var controlAvailable: Bool

    public init(nodeID: String, nodeAddress: String, localNodeState: String, controlAvailable: Bool) {
        self.nodeID = nodeID; self.nodeAddress = nodeAddress
        self.localNodeState = localNodeState; self.controlAvailable = controlAvailable
    }

    /// True when the node is a working member of a swarm.
    public var isActive: Bool { localNodeState == "active" }

    enum CodingKeys: String, CodingKey {
        case nodeID = "NodeID"
        case nodeAddress = "NodeAddr"
        case localNodeState = "LocalNodeState"
        case controlAvailable = "ControlAvailable"
    }
}

extension DockerEngine {
    /// The engine's swarm membership, asked afresh (joining or leaving a swarm
    /// changes it; `capabilities()` is cached).
    /// - Throws: `CommandError.notFound` (no docker CLI), `DockerEngineError.engineUnreachable`,
    ///   `.unreadableOutput`.
    public func swarmNode() throws -> SwarmNode {
        let result = try run(["info", "--format", "{{json .Swarm}}"])
        guard result.status == 0 else {
            throw DockerEngineError.engineUnreachable(detail: result.errorOutput.isEmpty
                ? "docker info exited with status \(result.status)" : result.errorOutput)
        }
        return try decode(SwarmNode.self, from: result.stdout, command: "docker info --format {{json .Swarm}}")
    }
}

/// One node as a manager lists it (`docker node ls --format '{{json .}}'`).
public struct SwarmNodeListing: Decodable, Sendable, Equatable {
    public var id: String
    public var hostname: String
    /// `Ready`, `Down`, `Unknown`, `Disconnected`.
    public var status: String
    /// `Active`, `Pause`, `Drain`.
    public var availability: String
    /// `Leader`, `Reachable`, `Unreachable`, or empty for a worker.
    public var managerStatus: String
    public var engineVersion: String

    /// True when the scheduler may give the node tasks now.
    public var takesTasks: Bool { status == "Ready" && availability == "Active" }

    enum CodingKeys: String, CodingKey {
        case id = "ID", hostname = "Hostname", status = "Status", availability = "Availability"
        case managerStatus = "ManagerStatus", engineVersion = "EngineVersion"
    }
}

/// One task of a service as a manager lists it (`docker service ps --no-trunc`).
public struct SwarmTaskListing: Decodable, Sendable, Equatable {
    /// The node's hostname.
    public var node: String
    /// `Running 3 seconds ago`, `Failed 1 second ago`, `Rejected ...`, ...
    public var currentState: String
    /// The task's error as the CLI prints it (quoted), empty when none.
    public var error: String

    enum CodingKeys: String, CodingKey {
        case node = "Node", currentState = "CurrentState", error = "Error"
    }
}

/// Swarm objects, asked of a manager.
extension DockerEngine {
    /// Every node of the swarm (`docker node ls`).
    /// - Throws: `DockerEngineError.failed` (e.g. this engine is not a manager), `.unreadableOutput`.
    public func swarmNodes() throws -> [SwarmNodeListing] {
        let result = try perform("list the swarm's nodes", ["node", "ls", "--format", "{{json .}}"])
        return try result.output.split(separator: "\n").map {
            try decode(SwarmNodeListing.self, from: Data($0.utf8), command: "docker node ls")
        }
    }

    /// Creates a one-shot job that starts one task on every node taking tasks, from
    /// `image` (an image ID: never resolved against a registry) with `entrypoint`.
    /// - Throws: `DockerEngineError.failed`.
    public func createGlobalJob(name: String, image: String, entrypoint: String, labels: [String: String]) throws {
        let labelArguments = labels.sorted { $0.key < $1.key }.flatMap { ["--label", "\($0.key)=\($0.value)"] }
        try perform("create the job \(name)", ["service", "create", "--detach", "--name", name, "--mode", "global-job",
                                              "--restart-condition", "none", "--no-resolve-image",
                                              "--entrypoint", entrypoint] + labelArguments + [image])
    }

    /// The tasks of service `name`, every state (`docker service ps --no-trunc`).
    /// - Throws: `DockerEngineError.failed`, `.unreadableOutput`.
    public func serviceTasks(_ name: String) throws -> [SwarmTaskListing] {
        let result = try perform("list the tasks of \(name)", ["service", "ps", "--no-trunc", "--format", "{{json .}}", name])
        return try result.output.split(separator: "\n").map {
            try decode(SwarmTaskListing.self, from: Data($0.utf8), command: "docker service ps \(name)")
        }
    }

    /// Removes service `name`; returns docker's error text when that failed.
    @discardableResult
    public func removeService(_ name: String) -> String? {
        guard let result = try? run(["service", "rm", name]) else { return "docker service rm did not run" }
        return result.status == 0 || Self.isNotFound(result.errorOutput) ? nil : result.errorOutput
    }
}
