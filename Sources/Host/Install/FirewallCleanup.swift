import BundleFormat
import Foundation

/// Removes the host firewall rules the isolation checker added for an installation
/// (recorded under `<prefix>/state/`), so uninstall leaves the host firewall as it was.
public protocol FirewallCleanup {
    /// Removes every recorded rule; returns how many were removed.
    func removeRules(layout: InstallationLayout, note: (String) -> Void) throws -> Int
}

/// Reads rule records from `<prefix>/state/firewall*.json` and deletes each rule with
/// `iptables -t TABLE -D CHAIN ARGS...`. A record is `{"rules": [{"table", "chain",
/// "args": [...]}]}` or a bare array of such rules. A rule that is already gone is
/// not an error.
public struct RecordedFirewallRules: FirewallCleanup {
    public init() {}

    struct Rule: Decodable {
        var table: String?
        var chain: String
        var args: [String]
        var family: String?
    }

    struct Record: Decodable { var rules: [Rule] }

    public func removeRules(layout: InstallationLayout, note: (String) -> Void) throws -> Int {
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: layout.state)) ?? [])
            .filter { $0.hasPrefix("firewall") && $0.hasSuffix(".json") }.sorted()
        var removed = 0
        for name in names {
            guard let data = FileManager.default.contents(atPath: "\(layout.state)/\(name)") else { continue }
            let rules = (try? JSONDecoder().decode(Record.self, from: data).rules)
                ?? (try? JSONDecoder().decode([Rule].self, from: data)) ?? []
            for rule in rules {
                let tool = rule.family == "ipv6" ? "ip6tables" : "iptables"
                let arguments = [tool, "-w", "-t", rule.table ?? "filter", "-D", rule.chain] + rule.args
                let result = try? CommandRunner.run(arguments, timeout: 30)
                if result?.status == 0 {
                    removed += 1
                    note("removed firewall rule: \(arguments.dropFirst().joined(separator: " "))")
                }
            }
        }
        return removed
    }
}
