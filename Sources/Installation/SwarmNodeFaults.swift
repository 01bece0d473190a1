import Engine
import FoundationEssentials

/// A service of a Swarm install that runs fewer tasks than it should, and what that
/// means for the operator (`status` on the manager).
public struct SwarmServiceFault: Codable, Sendable, Equatable {
    public var service: String
    public var running: Int
    public var desired: Int
    /// The node the service is pinned to (it owns a named volume, or is the gateway),
    /// nil for a service Swarm may place on any prepared node.
    public var pinnedTo: String?
    /// True when `pinnedTo` is down: the service is not moved (its data is there).
    public var pinnedNodeDown: Bool
    /// One sentence: what lacks, and whether Swarm moves it or it waits for its node.
    public var detail: String

    enum CodingKeys: String, CodingKey {
        case service, running, desired, detail
        case pinnedTo = "pinned_to"
        case pinnedNodeDown = "pinned_node_down"
    }
}

/// One node of the swarm as `status` shows it.
public struct SwarmNodeState: Codable, Sendable, Equatable {
    public var node: String
    /// `Ready`, `Down`, `Unknown`, `Disconnected` (`docker node ls`).
    public var status: String
    /// `Active`, `Pause`, `Drain`.
    public var availability: String
    /// True when this install labelled the node (prepared for the stack, or a pin).
    public var labelled: Bool
}

/// Reads faults from what a manager knows: which services lack replicas, which nodes
/// are down, and the install's pins. Pure: it asks nothing itself.
///
/// Guarantees: every service that runs fewer tasks than desired gets exactly one
/// fault; a pinned service whose node is down is reported as not moved (Swarm never
/// places it elsewhere: its constraint is the pin label of that node); a service
/// without a pin is reported as one Swarm reschedules on the other prepared nodes.
public enum SwarmNodeFaults {
    /// The faults of `services`, given the swarm's `nodes` and the install's `pins`.
    public static func faults(services: [SwarmServiceState], nodes: [SwarmNodeListing],
                              pins: [String: String]) -> [SwarmServiceFault] {
        let down = Set(nodes.filter { $0.status != "Ready" }.map(\.hostname))
        let known = Set(nodes.map(\.hostname))
        return services.filter { !$0.healthy }.map { service in
            let count = "\(service.running)/\(service.desired)"
            let errors = Set(service.tasks.compactMap(\.error)).sorted().joined(separator: "; ")
            guard let node = pins[service.service] else {
                let moving = down.isEmpty ? "" : "; Swarm starts its missing tasks on the other prepared nodes (restart policy)"
                return SwarmServiceFault(service: service.service, running: service.running, desired: service.desired,
                                         pinnedTo: nil, pinnedNodeDown: false,
                                         detail: "\(service.service) \(count): not pinned\(moving)\(errors.isEmpty ? "" : " (\(errors))")")
            }
            if down.contains(node) || !known.contains(node) {
                let state = known.contains(node) ? "which is down" : "which is no longer in the swarm"
                return SwarmServiceFault(service: service.service, running: service.running, desired: service.desired,
                                         pinnedTo: node, pinnedNodeDown: true,
                                         detail: "\(service.service) \(count): pinned to \(node), \(state): not moved; its data is there (bring \(node)'s engine back)")
            }
            return SwarmServiceFault(service: service.service, running: service.running, desired: service.desired,
                                     pinnedTo: node, pinnedNodeDown: false,
                                     detail: "\(service.service) \(count): pinned to \(node) (up), its task is not running yet\(errors.isEmpty ? "" : " (\(errors))")")
        }
    }

    /// Every node of the swarm, each marked when this install labelled it.
    public static func nodeStates(_ nodes: [SwarmNodeListing], labelled: [String]) -> [SwarmNodeState] {
        nodes.map { SwarmNodeState(node: $0.hostname, status: $0.status, availability: $0.availability,
                                   labelled: labelled.contains($0.hostname)) }
            .sorted { $0.node < $1.node }
    }
}
