import FrostbyteCore
import FoundationEssentials
import Glibc

/// The firewall rules that carry, on the node running a Swarm stack's gateway, what
/// a stack file cannot say (docs/SWARM.md, "Isolation on every node"):
///
/// - **published only at `ADDR:PORT`.** Swarm publishes a host-mode port on every
///   address of the node (docker-proxy on `0.0.0.0`/`::`, and a DNAT for every local
///   address but loopback). Three rules reject new connections to `PORT` that were
///   not addressed to `ADDR`: INPUT (the docker-proxy path, e.g. loopback when `ADDR`
///   is a LAN address), DOCKER-USER (DNAT'd connections forwarded into
///   `docker_gwbridge`: from the LAN, from other nodes) and OUTPUT (DNAT'd connections
///   the node opens itself to one of its own addresses; matched by conntrack alone,
///   as such a packet still names `lo` as its output device there); ip6tables INPUT rejects
///   `PORT` over IPv6 (`ADDR` is IPv4). None when `ADDR` is `0.0.0.0`.
/// - **no egress.** The gateway's non-internal overlay attaches it to
///   `docker_gwbridge`, whose NAT would carry its connections off the node:
///   DOCKER-USER rejects every new connection forwarded from `docker_gwbridge`, and
///   INPUT every new connection from it to the node's own addresses (host services).
///   Replies (to published-port traffic) are not new and pass. These two hold for
///   every task on the node that has a non-internal network, not only this stack's:
///   a node that runs a stack's gateway gives no task a way out through
///   `docker_gwbridge`.
///
/// Every rule carries the comment `frostbyte-bundle swarm stack=<stack> …`, so the
/// rules of one stack are found and removed without touching another's (two stacks
/// each hold their own copy of the two shared rules; removing one leaves the other).
public enum SwarmGatewayFirewall {
    /// The interface Swarm attaches a task's non-internal networks through.
    public static let gatewayBridge = "docker_gwbridge"

    /// The comment that keys a rule to `stack`.
    public static func comment(stack: String, what: String) -> String {
        "frostbyte-bundle swarm stack=\(stack) \(what)"
    }

    /// The rules for the gateway of `stack` published at `publish` (`ADDR:PORT`), in
    /// the order they are inserted.
    public static func rules(stack: String, publish: String) -> [FirewallRule] {
        let network = "\(stack) (swarm gateway)"
        func rule(_ family: String, _ chain: String, _ args: [String], _ what: String, purpose: String) -> FirewallRule {
            var made = FirewallRule(
                family: family, table: "filter", chain: chain,
                args: args + ["-m", "comment", "--comment", comment(stack: stack, what: what)]
                    + ["-j", "REJECT", "--reject-with", family == "ipv6" ? "icmp6-adm-prohibited" : "icmp-admin-prohibited"],
                network: network, bridge: gatewayBridge, addedAt: IsolationClock.now())
            made.purpose = purpose
            return made
        }
        var rules: [FirewallRule] = []
        if let colon = publish.lastIndex(of: ":"), let port = UInt16(publish[publish.index(after: colon)...]) {
            let address = String(publish[..<colon])
            if address != "0.0.0.0" {
                let notAsked = ["-m", "conntrack", "--ctstate", "NEW", "-m", "conntrack", "--ctstate", "DNAT",
                                "--ctorigdstport", "\(port)", "!", "--ctorigdst", address]
                rules.append(rule("ipv4", "INPUT",
                                  ["-p", "tcp", "--dport", "\(port)", "!", "-d", address, "-m", "conntrack", "--ctstate", "NEW"],
                                  "port=\(port) input", purpose: "new connections to port \(port) not addressed to \(address)"))
                rules.append(rule("ipv4", "DOCKER-USER", ["-o", gatewayBridge, "-p", "tcp"] + notAsked, "port=\(port) forward",
                                  purpose: "new connections forwarded to the gateway's port \(port) not addressed to \(address)"))
                // No `-o`: a locally generated packet keeps the output device of its
                // first route (lo) through the filter hook, even after the DNAT.
                rules.append(rule("ipv4", "OUTPUT", ["-p", "tcp"] + notAsked, "port=\(port) output",
                                  purpose: "new connections from this node to its own port \(port) not addressed to \(address)"))
                rules.append(rule("ipv6", "INPUT", ["-p", "tcp", "--dport", "\(port)", "-m", "conntrack", "--ctstate", "NEW"],
                                  "port=\(port) input6", purpose: "new IPv6 connections to port \(port)"))
            }
        }
        rules.append(rule("ipv4", "DOCKER-USER", ["-i", gatewayBridge, "-m", "conntrack", "--ctstate", "NEW"], "egress",
                          purpose: "new connections forwarded from \(gatewayBridge) (the gateway's way out)"))
        rules.append(rule("ipv4", "INPUT", ["-i", gatewayBridge, "-m", "conntrack", "--ctstate", "NEW"], "host",
                          purpose: "new connections from \(gatewayBridge) to this node's addresses"))
        return rules
    }

    /// True when `rule` is one of this type's rules for `stack` (its comment says so).
    public static func belongs(_ rule: FirewallRule, to stack: String) -> Bool {
        rule.args.contains { $0.hasPrefix(comment(stack: stack, what: "")) }
    }

    /// The stack a recorded rule of this type belongs to; nil for any other rule.
    public static func stack(of rule: FirewallRule) -> String? {
        let marker = "frostbyte-bundle swarm stack="
        guard let text = rule.args.first(where: { $0.hasPrefix(marker) }) else { return nil }
        return text.dropFirst(marker.count).split(separator: " ").first.map(String.init)
    }
}
