import FrostbyteCore
import FoundationEssentials
import Glibc
import Synchronization

/// Tears down what a run built on the host (canary namespaces and veth pairs) when
/// the process is interrupted: every live `EgressCanary` registers here, and
/// `CleanupOnSignal` tears it down on SIGINT/SIGTERM/SIGHUP, whichever command runs
/// the checker (check-isolation, install). A canary
/// left by a run that was killed outright is removed by `sweepStale` at the start
/// of a later run.
public enum IsolationCleanup {
    private static let live = Mutex<[ObjectIdentifier: CleanupOnSignal.Token]>([:])

    static func register(_ canary: EgressCanary) {
        let token = CleanupOnSignal.register { [canary] in canary.tearDown() }
        live.withLock { $0[ObjectIdentifier(canary)] = token }
    }

    static func unregister(_ canary: EgressCanary) {
        CleanupOnSignal.unregister(live.withLock { $0.removeValue(forKey: ObjectIdentifier(canary)) })
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
