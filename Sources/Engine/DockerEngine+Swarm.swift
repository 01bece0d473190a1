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
