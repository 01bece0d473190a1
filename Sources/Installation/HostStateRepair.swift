import FrostbyteCore
import BundleFormat
import InstallationState
import Isolation
import FoundationEssentials
import Glibc

/// What `repair` found and put back.
public struct RepairResult: Codable, Sendable {
    /// One firewall rule the installation owns.
    public struct Rule: Codable, Sendable {
        public var rule: String
        public var network: String
        public var bridge: String
        /// Inserted now (it was missing); false when it was in place.
        public var restored: Bool
    }
    public var prefix: String
    public var project: String
    public var rules: [Rule]
    public var restored: Int
    /// The boot unit; nil on a host without a systemd unit folder.
    public var bootUnit: BootUnit.State?

    enum CodingKeys: String, CodingKey {
        case prefix, project, rules, restored
        case bootUnit = "boot_unit"
    }
}

/// The host state an installation owns outside Docker, and how to put it back:
/// its firewall rules (those `install` inserts for a release with an ingress
/// network, plus every rule recorded in `state/firewall-rules.json`, e.g. by
/// `check-isolation --fix-host-exposure`) and its boot unit (`BootUnit`). Runs no
/// docker command and touches no container, so it works at boot before dockerd
/// starts, and any number of runs leave the same state (rules are checked with
/// `iptables -C` before they are inserted; the unit is rewritten only when it differs).
public enum HostStateRepair {
    /// The rules the installation at `layout` needs: those of its receipt's release
    /// (project, internal network from the release's MANIFEST.json) when it publishes
    /// the gateway, then the recorded ones not already listed.
    public static func expectedRules(_ layout: InstallationLayout, receipt: InstallationReceipt) -> [FirewallRule] {
        var rules: [FirewallRule] = []
        if receipt.publish != nil,
           let data = FileManager.default.contents(atPath: "\(layout.release(receipt.bundleId))/MANIFEST.json"),
           let manifest = try? ManifestCoding.decodeManifest(data),
           let internalNetwork = manifest.compose?.networks.first(where: \.internal) {
            rules = HostFirewall.projectRules(project: receipt.project, internalNetwork: internalNetwork.name)
        }
        for rule in (try? HostFirewall.recordedRules(prefix: layout.prefix)) ?? []
        where !rules.contains(where: { same($0, rule) }) {
            rules.append(rule)
        }
        return rules
    }

    /// The expected rules that are not in the live firewall.
    public static func missingRules(_ layout: InstallationLayout, receipt: InstallationReceipt) -> [FirewallRule] {
        expectedRules(layout, receipt: receipt).filter { !HostFirewall.isPresent($0) }
    }

    /// Names `rule`: `the INPUT rule rejecting new connections from fb0123456789i (network p_ingress)`.
    public static func describe(_ rule: FirewallRule) -> String {
        "the \(rule.family == "ipv6" ? "ip6tables " : "")\(rule.chain) rule rejecting \(rule.purpose ?? "new connections from \(rule.bridge)") (network \(rule.network))"
    }

    /// Puts back every expected rule that is missing (recording it) and the boot
    /// unit, and reports what was there and what was restored.
    /// A prefix without a receipt is a Swarm node's: `SwarmNodeFirewall.repair`.
    /// - Throws: `InstallError.notRoot`, `InstallError.notInstalled` (exit 2),
    ///   `IsolationError.firewall` (exit 3) when iptables refuses.
    public static func run(layout: InstallationLayout) throws -> RepairResult {
        try Preflight.checkRoot()
        guard let receipt = try? InstallationReceipt.load(layout) else {
            // A Swarm node (the manager's install record, or only prepare's): the
            // gateway rules of the stacks whose gateway runs here (SwarmNodeFirewall).
            guard SwarmIsolationTarget.isSwarmPrefix(layout.prefix) else { throw InstallError.notInstalled(prefix: layout.prefix) }
            return try SwarmNodeFirewall.repair(layout: layout, stack: nil)
        }
        var result = RepairResult(prefix: layout.prefix, project: receipt.project, rules: [], restored: 0, bootUnit: nil)
        for rule in expectedRules(layout, receipt: receipt) {
            let present = HostFirewall.isPresent(rule)
            if !present { try HostFirewall.apply(rule, prefix: layout.prefix) }
            result.rules.append(.init(rule: describe(rule), network: rule.network, bridge: rule.bridge, restored: !present))
            if !present { result.restored += 1 }
        }
        let unit = BootUnit(project: receipt.project, prefix: layout.prefix)
        let executable = BootUnit.executable(prefix: layout.prefix, releaseFolder: layout.release(receipt.bundleId))
        result.bootUnit = try unit.write(executable: executable)
        return result
    }

    /// For `install`: the boot unit of `project`, pointing at the program of the
    /// release in `releaseFolder`; a note says where it is (or that the host has no
    /// systemd unit folder).
    public static func writeBootUnit(project: String, layout: InstallationLayout, releaseFolder: String,
                                     note: (String) -> Void) throws {
        let unit = BootUnit(project: project, prefix: layout.prefix)
        let executable = BootUnit.executable(prefix: layout.prefix, releaseFolder: releaseFolder)
        if let state = try unit.write(executable: executable) {
            if state.written || state.linked > 0 { note("boot unit \(state.path): puts the firewall rules back before docker.service starts") }
        } else {
            note("no \(unit.folder): no boot unit written; run 'frostbyte-bundle repair --prefix \(layout.prefix)' at boot before dockerd starts (docs/operator.md)")
        }
    }

    static func same(_ a: FirewallRule, _ b: FirewallRule) -> Bool {
        a.family == b.family && a.table == b.table && a.chain == b.chain && a.args == b.args
    }
}
