import Engine
import FoundationEssentials
import Glibc

/// Waits until every service of a compose project is up: running and healthy (or
/// running without a healthcheck, or a one-shot that exited 0). Fails fast on a
/// container that Docker marks unhealthy or that exited with an error, naming the
/// service and showing its last log lines.
public struct HealthWaiter: Sendable {
    public var compose: ComposeDriver
    public var timeout: Double
    public var pollInterval: Double

    public init(compose: ComposeDriver, timeout: Double, pollInterval: Double = 1) {
        self.compose = compose; self.timeout = timeout; self.pollInterval = pollInterval
    }

    /// Blocks until all services are up; returns their final states.
    /// - Throws: `InstallError.unhealthy` (one service failed) or
    ///   `InstallError.healthTimeout` (some still starting at the deadline).
    @discardableResult
    public func wait(progress: (String) -> Void = { _ in }) throws -> [ServiceState] {
        let expected = try compose.services()
        let deadline = Date().addingTimeInterval(timeout)
        var lastPending: [String] = []
        while true {
            let states = try compose.ps()
            let verdict = Self.judge(expected: expected, states: states)
            if let failed = verdict.failed {
                throw InstallError.unhealthy(
                    service: failed.service, state: Self.describe(failed), logs: compose.logs(failed.service))
            }
            if verdict.pending.isEmpty { return states }
            if verdict.pending != lastPending {
                progress("waiting for: \(verdict.pending.joined(separator: ", "))")
                lastPending = verdict.pending
            }
            if Date() >= deadline {
                let logs = verdict.pending.map { "--- \($0) ---\n\(compose.logs($0))" }.joined(separator: "\n")
                throw InstallError.healthTimeout(services: verdict.pending, seconds: Int(timeout), logs: logs)
            }
            usleep(UInt32(pollInterval * 1_000_000))
        }
    }

    /// Sorts services into failed (first one), pending and done.
    static func judge(expected: [String], states: [ServiceState]) -> (failed: ServiceState?, pending: [String]) {
        var pending: [String] = []
        for service in expected {
            let containers = states.filter { $0.service == service }
            if containers.isEmpty { pending.append(service); continue }
            for container in containers {
                if container.health == "unhealthy" || container.state == "dead"
                    || (container.state == "exited" && container.exitCode != 0) {
                    return (container, [])
                }
                let completed = container.state == "exited" && container.exitCode == 0
                if !(container.isHealthy || completed) {
                    pending.append(service)
                    break
                }
            }
        }
        return (nil, pending)
    }

    static func describe(_ state: ServiceState) -> String {
        if state.health == "unhealthy" { return "unhealthy (its healthcheck fails: \(state.status))" }
        if state.state == "exited" { return "exited with status \(state.exitCode)" }
        return state.status.isEmpty ? state.state : "\(state.state) (\(state.status))"
    }
}
