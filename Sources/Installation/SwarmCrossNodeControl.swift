import FrostbyteCore
import Engine
import Isolation
import FoundationEssentials
import Glibc

/// The cross-node positive control `install --swarm --encrypt-overlay` runs right
/// after the deploy: from a task of the stack on this manager, each service pinned to
/// another node, by name over the stack's overlay (`SwarmPeerProbe`). An encrypted
/// overlay needs ESP (IP protocol 50) between the nodes; where the kernel or the
/// network passes none, every cross-node packet is dropped silently, the stack never
/// becomes healthy, and this control says why within `timeout` instead.
public struct SwarmCrossNodeControl: Sendable {
    public var engine: DockerEngine
    public var stack: String
    /// Service → node it is pinned to; only those on other nodes are probed.
    public var pins: [String: String]
    public var thisNode: String?

    public init(engine: DockerEngine, stack: String, pins: [String: String], thisNode: String?) {
        self.engine = engine; self.stack = stack; self.pins = pins; self.thisNode = thisNode
    }

    /// Waits for a running task of the stack here and a DNS answer for each remote
    /// service, then probes; returns the observations once every remote service is
    /// reached.
    /// - Throws: `CrossNodeControlFailed` (exit 1) when a remote service's address
    ///   does not answer (or no task here runs) within `timeout` seconds.
    public func run(timeout: Double, note: (String) -> Void) throws -> [String] {
        let remote = pins.filter { $0.value != thisNode }.sorted { $0.key < $1.key }
        guard !remote.isEmpty else { return [] }
        let deadline = Date().addingTimeInterval(timeout)
        var last: [String: String] = [:]
        var reached: [String: String] = [:]
        note("cross-node control: from a task on \(thisNode ?? "this node") to \(remote.map { "\($0.key) on \($0.value)" }.joined(separator: ", "))")
        while Date() < deadline {
            let ids = (try? engine.containerIDs(label: SwarmNodeFirewall.stackLabel, value: stack)) ?? []
            let here = ((try? engine.containers(ids)) ?? []).filter { $0.state.running && $0.state.pid > 0 }
            if let task = here.first {
                for (service, _) in remote where reached[service] == nil {
                    let result = SwarmPeerProbe.probe(pid: Int32(task.state.pid), service: service, timeout: 1)
                    last[service] = "\(task.name) → \(result.detail)"
                    if result.reached == true { reached[service] = last[service] }
                }
                if reached.count == remote.count { return remote.compactMap { reached[$0.key] } }
            } else {
                last["(here)"] = "no task of \(stack) runs on \(thisNode ?? "this node") yet"
            }
            usleep(500_000)
        }
        throw CrossNodeControlFailed(stack: stack, observed: last.sorted { $0.key < $1.key }.map(\.value))
    }
}

/// The cross-node control failed: the stack's tasks cannot reach each other across
/// nodes (exit 1).
public struct CrossNodeControlFailed: UserFacingError {
    public var stack: String
    public var observed: [String]

    public var message: String {
        "the encrypted overlay of stack \(stack) carries no traffic between nodes (\(observed.joined(separator: "; "))): the kernel or the network passes no ESP (IP protocol 50) between the nodes; the stack is left deployed and the record says 'failed': uninstall, then install again without --encrypt-overlay (or let ESP pass between the nodes)"
    }

    public var exitStatus: ExitStatus { .checkFailed }
}
