import Foundation
import Testing
@testable import Engine
@testable import Installation

/// `status` of a Swarm install with a node lost, from listings as a manager gives
/// them (no swarm needed): which service waits for its pinned node, which one Swarm
/// moves, and when the stack counts as whole.
@Suite("Swarm status: faults of a lost node")
struct SwarmNodeFaultsTests {
    func node(_ name: String, _ status: String) throws -> SwarmNodeListing {
        let json = #"{"ID":"id-\#(name)","Hostname":"\#(name)","Status":"\#(status)","Availability":"Active","ManagerStatus":"","EngineVersion":"28.5.2"}"#
        return try JSONDecoder().decode(SwarmNodeListing.self, from: Data(json.utf8))
    }

    func service(_ name: String, _ running: Int, _ desired: Int, on nodes: [String] = []) -> SwarmServiceState {
        SwarmServiceState(service: name, running: running, desired: desired,
                          tasks: nodes.map { SwarmTaskState(node: $0, state: "Running", desiredState: "Running", error: nil) })
    }

    @Test func pinnedServiceOnADownNodeIsReportedAsNotMoved() throws {
        let nodes = [try node("n1", "Ready"), try node("n2", "Ready"), try node("n3", "Down")]
        let services = [service("gateway", 1, 1, on: ["n1"]), service("postgres", 0, 1), service("redis", 0, 1),
                        service("worker", 2, 3, on: ["n1", "n2"])]
        let faults = SwarmNodeFaults.faults(services: services, nodes: nodes,
                                            pins: ["gateway": "n1", "postgres": "n3", "redis": "n2"])
        #expect(faults.map(\.service) == ["postgres", "redis", "worker"])
        let postgres = try #require(faults.first { $0.service == "postgres" })
        #expect(postgres.pinnedTo == "n3" && postgres.pinnedNodeDown)
        #expect(postgres.detail == "postgres 0/1: pinned to n3, which is down: not moved; its data is there (bring n3's engine back)")
        // Control: pinned to a node that is up is not "down".
        let redis = try #require(faults.first { $0.service == "redis" })
        #expect(redis.pinnedTo == "n2" && !redis.pinnedNodeDown && redis.detail.contains("(up)"))
        let worker = try #require(faults.first { $0.service == "worker" })
        #expect(worker.pinnedTo == nil && !worker.pinnedNodeDown)
        #expect(worker.detail.contains("not pinned; Swarm starts its missing tasks on the other prepared nodes"))
    }

    @Test func aPinnedNodeRemovedFromTheSwarmIsReported() throws {
        let faults = SwarmNodeFaults.faults(services: [service("postgres", 0, 1)], nodes: [try node("n1", "Ready")],
                                            pins: ["postgres": "n9"])
        #expect(faults.first?.pinnedNodeDown == true)
        #expect(faults.first?.detail.contains("which is no longer in the swarm") == true)
    }

    @Test func noFaultWhenEveryServiceRuns() throws {
        let faults = SwarmNodeFaults.faults(services: [service("worker", 3, 3, on: ["n1", "n1", "n2"])],
                                            nodes: [try node("n1", "Ready"), try node("n2", "Ready"), try node("n3", "Down")],
                                            pins: [:])
        #expect(faults.isEmpty)
    }

    @Test func aLabelledNodeDownKeepsTheStackDegraded() throws {
        let nodes = [try node("n1", "Ready"), try node("n3", "Down"), try node("n4", "Down")]
        var status = SwarmStatus(stack: "s", bundleId: "b", version: "1", phase: "deployed", failure: nil,
                                 services: [service("worker", 1, 1, on: ["n1"])], nodesDown: ["n3", "n4"],
                                 lackingReplicas: [], pins: [:], gatewayURL: "",
                                 nodes: SwarmNodeFaults.nodeStates(nodes, labelled: ["n1", "n3"]), faults: [])
        #expect(!status.healthy, "n3 holds this stack's label and is down")
        // Control: only a node this install never labelled is down.
        status.nodes = SwarmNodeFaults.nodeStates(nodes, labelled: ["n1"])
        #expect(status.healthy)
    }
}
