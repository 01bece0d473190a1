import FrostbyteCore
import Engine
import FoundationEssentials
import Glibc

/// Waits until a stack's services run the spec the last `docker stack deploy` gave
/// them, healthy, as an upgrade (or a rollback) needs: `docker service ls` still says
/// 1/1 while the old task runs, before Swarm has even started the rolling update, so
/// replica counts alone would call an upgrade healthy before it began.
///
/// A service has converged when it runs its desired replicas, every task Swarm wants
/// running is `Running` (for a task with a healthcheck: healthy) and runs the service's
/// current container spec. A service whose update Swarm gave up (its
/// `failure_action: rollback` rolled it back, or paused it) after the deploy is a
/// failure at once: `SwarmUpgradeError.serviceFailed` names it.
public struct SwarmConvergence: Sendable {
    public var engine: DockerEngine
    public var stack: String

    public init(engine: DockerEngine, stack: String) { self.engine = engine; self.stack = stack }

    /// Service (short name) → the start time of its last update, read before a deploy:
    /// an update status with that start time is older than the deploy and is ignored.
    public func baseline() -> [String: String] {
        let names = ((try? engine.services(named: "\(stack)_")) ?? []).filter { !$0.mode.contains("job") }.map(\.name)
        let updates = (try? engine.serviceUpdates(names)) ?? []
        return Dictionary(updates.map { (String($0.name.dropFirst(stack.count + 1)), $0.startedAt) },
                          uniquingKeysWith: { first, _ in first })
    }

    /// Waits until `count` services (of `only`, when given) exist and each has converged.
    /// - Throws: `SwarmUpgradeError.serviceFailed` when Swarm gave up a service's update
    ///   after the deploy; `SwarmInstallError.notHealthy` naming the services that have
    ///   not converged (and their tasks' errors) after `timeout` seconds.
    public func wait(count: Int, only: Set<String>? = nil, baseline: [String: String], timeout: Double,
                     note: (String) -> Void) throws -> [SwarmServiceState] {
        let health = SwarmHealth(engine: engine, stack: stack)
        let deadline = Date().addingTimeInterval(timeout)
        var reported = ""
        var last: [SwarmServiceState] = []
        while true {
            last = ((try? health.services()) ?? last).filter { only?.contains($0.service) ?? true }
            let updates = (try? engine.serviceUpdates(last.map { "\(stack)_\($0.service)" })) ?? []
            let every = (try? engine.stackTasks(stack)) ?? []
            let tasks = every.filter { $0.desiredState == "Running" }
            let specs = (try? engine.taskContainerSpecs(tasks.map(\.id))) ?? [:]
            var lagging: [String] = []
            for service in last {
                let full = "\(stack)_\(service.service)"
                guard let update = updates.first(where: { $0.name == full }) else { lagging.append(service.service); continue }
                if update.givenUp, update.startedAt != baseline[service.service] {
                    let errors = Set(every.filter { $0.name.hasPrefix("\(full).") }.map(\.error).filter { !$0.isEmpty })
                    throw SwarmUpgradeError.serviceFailed(service: service.service, state: update.state,
                                                          detail: ([update.message] + errors.sorted()).filter { !$0.isEmpty }
                                                            .joined(separator: "; "))
                }
                let own = tasks.filter { $0.name.hasPrefix("\(full).") }
                let current = service.healthy && !own.isEmpty
                    && own.allSatisfy { $0.state == "Running" && specs[$0.id] == update.containerSpec }
                if !current { lagging.append(service.service) }
            }
            if last.count >= count, lagging.isEmpty { return last }
            let waiting = lagging.sorted().joined(separator: ", ")
            if waiting != reported, !waiting.isEmpty { note("waiting for \(waiting) to run the deployed spec, healthy"); reported = waiting }
            guard Date() < deadline else {
                throw SwarmInstallError.notHealthy(lagging: last.filter { lagging.contains($0.service) }, of: last.count,
                                                   count: count, stack: stack, timeout: timeout)
            }
            usleep(500_000)
        }
    }
}

extension SwarmInstallError {
    /// `notHealthy` naming each lagging service, its replicas and its tasks' errors
    /// (or how many of `count` services exist, when none lags but some are missing).
    static func notHealthy(lagging: [SwarmServiceState], of existing: Int, count: Int, stack: String,
                           timeout: Double) -> SwarmInstallError {
        let detail = lagging.map { service in
            let errors = Set(service.tasks.compactMap(\.error)).sorted().joined(separator: "; ")
            return "\(service.service) \(service.running)/\(service.desired)\(errors.isEmpty ? "" : ": \(errors)")"
        }.joined(separator: ", ")
        return .notHealthy(stack: stack, seconds: Int(timeout), detail: detail.isEmpty ? "\(existing) of \(count) services exist" : detail)
    }
}
