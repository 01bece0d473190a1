import InstallationState
import Isolation
import FoundationEssentials
import Glibc

/// Removes the host firewall rules the isolation checker added for an installation
/// (recorded under `<prefix>/state/`), so uninstall leaves the host firewall as it was.
public protocol FirewallCleanup {
    /// Removes every recorded rule; returns how many were removed.
    func removeRules(layout: InstallationLayout, note: (String) -> Void) throws -> Int
}

/// The rules `check-isolation --fix-host-exposure` recorded in
/// `<prefix>/state/firewall-rules.json`, deleted through `HostFirewall` (rules
/// already gone are skipped).
public struct RecordedFirewallRules: FirewallCleanup {
    public init() {}

    public func removeRules(layout: InstallationLayout, note: (String) -> Void) throws -> Int {
        let rules = (try? HostFirewall.recordedRules(prefix: layout.prefix)) ?? []
        guard !rules.isEmpty else { return 0 }
        let removed = try HostFirewall.removeRecordedRules(prefix: layout.prefix)
        for rule in rules { note("removed firewall rule: \(rule.command) -t \(rule.table) -D \(rule.chain) \(rule.args.joined(separator: " "))") }
        return removed
    }
}
