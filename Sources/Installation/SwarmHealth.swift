import FrostbyteCore
import Engine
import FoundationEssentials
import Glibc

/// One task of a stack's service, as `status` and `install --swarm` report it.
public struct SwarmTaskState: Codable, Sendable, Equatable {
    public var node: String
    /// `Running`, `Starting`, `Failed`, ... (a task with a healthcheck is `Running`
    /// only once the check passed: Swarm waits for `healthy` before it says so).
    public var state: String
    public var desiredState: String
    public var error: String?

    enum CodingKeys: String, CodingKey {
        case node, state, error
        case desiredState = "desired_state"
    }
}

/// One service of a stack: replicas and the tasks Swarm wants running.
public struct SwarmServiceState: Codable, Sendable, Equatable {
    public var service: String
    public var running: Int
    public var desired: Int
    /// Tasks whose desired state is `Running` (the current ones), each with its node.
    public var tasks: [SwarmTaskState]

    /// True when every desired replica runs (and so passed its healthcheck).
    public var healthy: Bool { desired > 0 && running >= desired }
}

/// The live state of a stack's services, asked of a manager.
public struct SwarmHealth: Sendable {
    public var engine: DockerEngine
    public var stack: String

    public init(engine: DockerEngine, stack: String) { self.engine = engine; self.stack = stack }

    /// Every service of the stack (jobs left out) with its current tasks. A task on a
    /// node of `nodesDown` is not counted as running: a manager keeps counting the task
    /// of a lost node as running in `docker service ls` (measured: a pinned postgres
    /// showed 1/1 with its node down and its replacement task pending).
    /// - Throws: `DockerEngineError`.
    public func services(nodesDown: Set<String> = []) throws -> [SwarmServiceState] {
        let listings = try engine.services(named: "\(stack)_").filter { !$0.mode.contains("job") }
        let tasks = try engine.stackTasks(stack)
        return listings.map { listing in
            let short = String(listing.name.dropFirst(stack.count + 1))
            let counts = listing.replicaCounts ?? (0, 0)
            let current = tasks.filter { $0.name.hasPrefix("\(listing.name).") && $0.desiredState == "Running" }
            let running = nodesDown.isEmpty ? counts.running
                : current.filter { $0.state == "Running" && !nodesDown.contains($0.node) }.count
            return SwarmServiceState(service: short, running: running, desired: counts.desired, tasks: current.map {
                SwarmTaskState(node: $0.node, state: $0.state, desiredState: $0.desiredState, error: $0.error.isEmpty ? nil : $0.error)
            })
        }.sorted { $0.service < $1.service }
    }

    /// Waits until `count` services (of `only`, when given) exist and every one runs
    /// its desired replicas.
    /// - Throws: `SwarmInstallError.notHealthy` naming the services that lag and their
    ///   tasks' errors, after `timeout` seconds.
    public func waitHealthy(count: Int, only: Set<String>? = nil, timeout: Double,
                            note: (String) -> Void) throws -> [SwarmServiceState] {
        let deadline = Date().addingTimeInterval(timeout)
        var last: [SwarmServiceState] = []
        var reported = ""
        while true {
            last = ((try? services()) ?? last).filter { only?.contains($0.service) ?? true }
            if last.count >= count, last.allSatisfy(\.healthy) { return last }
            let waiting = last.filter { !$0.healthy }.map { "\($0.service) \($0.running)/\($0.desired)" }.joined(separator: ", ")
            if waiting != reported, !waiting.isEmpty { note("waiting for \(waiting)"); reported = waiting }
            guard Date() < deadline else {
                throw SwarmInstallError.notHealthy(lagging: last.filter { !$0.healthy }, of: last.count, count: count,
                                                   stack: stack, timeout: timeout)
            }
            usleep(500_000)
        }
    }
}
