import FrostbyteCore
import BundleFormat
import Stack
import InstallationState
import FoundationEssentials
import Glibc

/// One host firewall rule the checker added, as recorded under
/// `<prefix>/state/firewall-rules.json` (`{"rules": [...]}`) so `uninstall` can
/// remove exactly it: `iptables|ip6tables -w -t <table> -D <chain> <args...>`.
public struct FirewallRule: Codable, Sendable, Equatable {
    /// `ipv4` (iptables) or `ipv6` (ip6tables).
    public var family: String
    public var table: String
    public var chain: String
    /// The rule specification after the chain (`-i br-x ... -j REJECT ...`).
    public var args: [String]
    /// The compose network and bridge the rule guards.
    public var network: String
    public var bridge: String
    public var addedAt: String
    /// What the rule rejects, in words, when it is not "new connections from `bridge`"
    /// (the Swarm gateway's rules); nil for the single-host rules.
    public var purpose: String?

    enum CodingKeys: String, CodingKey {
        case family, table, chain, args, network, bridge, purpose
        case addedAt = "added_at"
    }

    /// The firewall command of the family.
    public var command: String { family == "ipv6" ? "ip6tables" : "iptables" }

    public init(family: String, table: String, chain: String, args: [String], network: String, bridge: String,
                addedAt: String, purpose: String? = nil) {
        self.family = family; self.table = table; self.chain = chain; self.args = args
        self.network = network; self.bridge = bridge; self.addedAt = addedAt; self.purpose = purpose
    }
}

/// The record file's shape.
struct FirewallRecord: Codable {
    var rules: [FirewallRule]
}

/// The host-exposure remedy: a rule in the host's INPUT chain that rejects new
/// connections from one project bridge to any host address. INPUT, not
/// DOCKER-USER: DOCKER-USER is called from FORWARD only, and traffic from a
/// container to the host's own addresses is never forwarded. Replies to
/// connections the host opens (e.g. to the gateway) are not NEW and pass.
/// `icmp-admin-prohibited` makes a blocked connect fail at once (EHOSTUNREACH),
/// distinct from "nothing listens" (a reset).
public enum HostFirewall {
    /// The file under the prefix that lists the rules the checker added.
    public static func recordPath(prefix: String) -> String {
        "\(InstallationLayout(prefix: prefix).state)/firewall-rules.json"
    }

    /// The rule for `bridge` of `project`.
    public static func rejectRule(project: String, network: String, bridge: String) -> FirewallRule {
        FirewallRule(
            family: "ipv4", table: "filter", chain: "INPUT",
            args: ["-i", bridge, "-m", "conntrack", "--ctstate", "NEW", "-m", "comment",
                   "--comment", "frostbyte-bundle project=\(project) network=\(network)",
                   "-j", "REJECT", "--reject-with", "icmp-admin-prohibited"],
            network: network, bridge: bridge, addedAt: IsolationClock.now())
    }

    /// The rule in DOCKER-USER (called first from FORWARD, on Engine 20.10 as on 28)
    /// that rejects every new connection coming in from `bridge`: a container on the
    /// ingress network (not internal) could otherwise open connections through the
    /// host to anything it routes to. Connections into the bridge (published-port
    /// traffic, the host's requests) and their replies are not affected.
    public static func forwardRejectRule(project: String, network: String, bridge: String) -> FirewallRule {
        var rule = rejectRule(project: project, network: network, bridge: bridge)
        rule.chain = "DOCKER-USER"
        return rule
    }

    /// The rules `install` applies for a release with an ingress network (before
    /// `compose up`, on the bridge names of `GatewayIngress.bridgeNames`): INPUT
    /// rejects new connections from the internal and from the ingress bridge to
    /// any host address; DOCKER-USER rejects new connections forwarded from the
    /// ingress bridge. Together with Docker's own isolation of the internal network,
    /// no container of the project opens a connection to anything outside it.
    public static func projectRules(project: String, internalNetwork: String) -> [FirewallRule] {
        let bridges = GatewayIngress.bridgeNames(project: project)
        let internalName = "\(project)_\(internalNetwork)"
        let ingressName = "\(project)_\(IngressNetwork.name)"
        return [
            rejectRule(project: project, network: internalName, bridge: bridges.internal),
            rejectRule(project: project, network: ingressName, bridge: bridges.ingress),
            forwardRejectRule(project: project, network: ingressName, bridge: bridges.ingress),
        ]
    }

    /// True when `rule` is in the live firewall (`iptables -C`).
    public static func isPresent(_ rule: FirewallRule, timeout: Double = 20) -> Bool {
        let result = try? CommandRunner.run(
            [rule.command, "-w", "-t", rule.table, "-C", rule.chain] + rule.args, timeout: timeout)
        return result?.status == 0
    }

    /// Inserts `rule` at the top of its chain unless it is there already (creating a
    /// missing non-built-in chain such as DOCKER-USER), and records it under `prefix`.
    /// - Throws: `IsolationError.firewall` when iptables or the record fails.
    public static func apply(_ rule: FirewallRule, prefix: String, timeout: Double = 20) throws {
        if !isPresent(rule, timeout: timeout) {
            let insert = [rule.command, "-w", "-t", rule.table, "-I", rule.chain, "1"] + rule.args
            var result = try CommandRunner.run(insert, timeout: timeout)
            if result.status != 0, !["INPUT", "FORWARD", "OUTPUT"].contains(rule.chain) {
                // Before dockerd has run (at boot) DOCKER-USER does not exist yet; dockerd
                // keeps a chain it finds and only adds its jump and RETURN rule.
                _ = try CommandRunner.run([rule.command, "-w", "-t", rule.table, "-N", rule.chain], timeout: timeout)
                result = try CommandRunner.run(insert, timeout: timeout)
            }
            guard result.status == 0 else {
                throw IsolationError.firewall(detail: "\(rule.command) -I \(rule.chain) failed: \(result.errorOutput)")
            }
        }
        var rules = (try? recordedRules(prefix: prefix)) ?? []
        if !rules.contains(where: { $0.family == rule.family && $0.chain == rule.chain && $0.args == rule.args }) {
            rules.append(rule)
        }
        do {
            try IsolationFiles.writeAtomically(DeterministicJSON.encode(FirewallRecord(rules: rules)), to: recordPath(prefix: prefix))
        } catch {
            throw IsolationError.firewall(detail: "recording the rule in \(recordPath(prefix: prefix)): \(error)")
        }
    }

    /// The rules recorded under `prefix` (empty when none).
    public static func recordedRules(prefix: String) throws -> [FirewallRule] {
        let path = recordPath(prefix: prefix)
        guard FileManager.default.fileExists(atPath: path) else { return [] }
        return try JSONDecoder().decode(FirewallRecord.self, from: Data(contentsOf: URL(fileURLWithPath: path))).rules
    }

    /// Deletes every recorded rule from the live firewall (those already gone are
    /// skipped) and then the record. For `uninstall`.
    /// - Returns: how many rules were deleted.
    /// With `only`, deletes only the recorded rules it selects and keeps the others
    /// in the record (which is removed once it lists none).
    @discardableResult
    public static func removeRecordedRules(
        prefix: String, timeout: Double = 20, only: ((FirewallRule) -> Bool)? = nil
    ) throws -> Int {
        var removed = 0
        let recorded = try recordedRules(prefix: prefix)
        let kept = only.map { select in recorded.filter { !select($0) } } ?? []
        for rule in recorded where only?(rule) ?? true {
            while isPresent(rule, timeout: timeout) {
                let result = try CommandRunner.run(
                    [rule.command, "-w", "-t", rule.table, "-D", rule.chain] + rule.args, timeout: timeout)
                guard result.status == 0 else {
                    throw IsolationError.firewall(detail: "\(rule.command) -D \(rule.chain) failed: \(result.errorOutput)")
                }
                removed += 1
            }
        }
        if kept.isEmpty {
            try? FileManager.default.removeItem(atPath: recordPath(prefix: prefix))
        } else {
            try IsolationFiles.writeAtomically(DeterministicJSON.encode(FirewallRecord(rules: kept)), to: recordPath(prefix: prefix))
        }
        return removed
    }
}

/// What the host firewall looks like, read once per run.
struct FirewallFacts: Sendable {
    /// Docker's IPv4 filter chains exist (dockerd runs with iptables on).
    var dockerIPv4Chains: Bool
    /// Docker's IPv6 filter chains exist.
    var dockerIPv6Chains: Bool
    /// `nf_tables` or `legacy`, from `iptables --version`.
    var iptablesBackend: String
    /// Bridges with an INPUT rule that rejects new connections from them.
    var guardedBridges: Set<String>
    /// Bridges with a DOCKER-USER rule that rejects new connections from them.
    var forwardGuardedBridges: Set<String> = []

    static func gather(timeout: Double) -> FirewallFacts {
        let v4 = (try? CommandRunner.run(["iptables", "-w", "-S"], timeout: timeout))?.output ?? ""
        let v6 = (try? CommandRunner.run(["ip6tables", "-w", "-S"], timeout: timeout))?.output ?? ""
        let version = (try? CommandRunner.run(["iptables", "--version"], timeout: timeout))?.output ?? ""
        let backend = version.contains("nf_tables") ? "nf_tables" : version.contains("legacy") ? "legacy" : "unknown"
        return FirewallFacts(
            dockerIPv4Chains: hasDockerChains(v4), dockerIPv6Chains: hasDockerChains(v6),
            iptablesBackend: backend, guardedBridges: guardedBridges(v4),
            forwardGuardedBridges: guardedBridges(v4, chain: "DOCKER-USER"))
    }

    static func hasDockerChains(_ rules: String) -> Bool {
        rules.contains("-N DOCKER-ISOLATION-STAGE-1") || rules.contains("-N DOCKER-FORWARD")
            || rules.contains("-N DOCKER-INTERNAL")
    }

    /// Bridges `X` with a rule `-A <chain> -i X ... -j REJECT|DROP` that restricts
    /// neither protocol, destination nor port (so it guards every destination).
    static func guardedBridges(_ rules: String, chain: String = "INPUT") -> Set<String> {
        var bridges = Set<String>()
        for line in rules.split(separator: "\n") where line.hasPrefix("-A \(chain) ") {
            let fields = line.split(separator: " ").map(String.init)
            guard let index = fields.firstIndex(of: "-i"), index + 1 < fields.count,
                  fields.contains("-j"), fields.contains("REJECT") || fields.contains("DROP"),
                  !fields.contains("--dport"), !fields.contains("--dports"), !fields.contains("-d"),
                  !fields.contains("-p"), !fields.contains("-o") else { continue }
            bridges.insert(fields[index + 1])
        }
        return bridges
    }
}
