import Foundation

/// Tears down what a run built on the host (canary namespaces and veth pairs) when
/// the process is interrupted: every live `EgressCanary` registers here, and the
/// command line calls `tearDownAll()` from its SIGINT/SIGTERM handler. A canary
/// left by a run that was killed outright is removed by `sweepStale` at the start
/// of a later run.
public enum IsolationCleanup {
    private static let lock = NSLock()
    nonisolated(unsafe) private static var live: [ObjectIdentifier: EgressCanary] = [:]

    static func register(_ canary: EgressCanary) {
        lock.lock(); live[ObjectIdentifier(canary)] = canary; lock.unlock()
    }

    static func unregister(_ canary: EgressCanary) {
        lock.lock(); live[ObjectIdentifier(canary)] = nil; lock.unlock()
    }

    /// Removes every canary of this process that still exists. Safe to call from a
    /// signal-handling queue; idempotent.
    public static func tearDownAll() {
        lock.lock()
        let canaries = Array(live.values)
        lock.unlock()
        for canary in canaries { canary.tearDown() }
    }

    /// Removes canary namespaces (`/run/netns/fbcanary-*`) and their host veth
    /// older than `age` seconds: a run takes well under a minute, so these belong
    /// to runs that were killed. Returns the names removed.
    @discardableResult
    public static func sweepStale(olderThan age: TimeInterval = 600, timeout: Double = 10) -> [String] {
        let cutoff = Date().addingTimeInterval(-age)
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: "/run/netns")) ?? [])
            .filter { $0.hasPrefix("fbcanary-") }
        var removed: [String] = []
        for name in names {
            let attributes = try? FileManager.default.attributesOfItem(atPath: "/run/netns/\(name)")
            guard let date = attributes?[.modificationDate] as? Date, date < cutoff else { continue }
            let run = name.dropFirst("fbcanary-".count)
            _ = try? CommandRunner.run(["ip", "netns", "del", name], timeout: timeout)
            _ = try? CommandRunner.run(["ip", "link", "del", "fbc\(run)h"], timeout: timeout)
            removed.append(name)
        }
        return removed
    }
}
