import FrostbyteCore
import Engine
import InstallationState
import Isolation
import Stack
import FoundationEssentials
import Glibc

/// The Swarm gateway's firewall rules (`SwarmGatewayFirewall`) on the node that runs
/// it, recorded under that node's prefix (`state/firewall-rules.json`, as on one host):
///
/// - `install --swarm` applies them itself before `docker stack deploy` when the
///   gateway is pinned to the manager it runs on (the default): no window;
/// - a gateway pinned to another node gets them from that node's own
///   `frostbyte-bundle repair --prefix P`, which reads the stack and the published
///   address from the local engine (the label `SwarmRenderer.publishLabel` of the
///   gateway's task) and from the record; `check-isolation` there fails until then;
/// - `uninstall` on the manager removes the manager's; `uninstall --prefix P` on
///   another node removes that node's (the stack's tasks are gone from it by then).
/// Rules survive a dockerd restart (dockerd keeps DOCKER-USER and never touches
/// INPUT/OUTPUT rules of others); after a reboot `repair` puts them back, run before
/// dockerd by the boot unit `frostbyte-bundle-swarm-<stack>.service` that applying
/// them writes (where the node has a systemd unit folder) and removing them removes.
public enum SwarmNodeFirewall {
    /// The stack label Docker sets on a stack's containers, networks and services.
    public static let stackLabel = "com.docker.stack.namespace"

    /// Before the deploy: the rules on this node when it runs the gateway, else a
    /// sentence saying where and how they are applied (also returned, for `--json`).
    /// - Throws: `IsolationError.firewall` (exit 3) when iptables refuses.
    public static func beforeDeploy(stack: String, publish: String, gatewayNode: String?, thisNode: String?,
                                    layout: InstallationLayout, note: (String) -> Void) throws -> [String] {
        if let gatewayNode, gatewayNode == thisNode {
            let rules = try apply(stack: stack, publish: publish, layout: layout)
            let unit = try bootUnit(stack, layout).write(executable: executable)
            note("firewall on \(gatewayNode): \(rules.count) rules keep the gateway at \(publish) only and give it no way out through \(SwarmGatewayFirewall.gatewayBridge) (" + (unit.map { "boot unit \($0.path) puts them back before docker.service" } ?? "run 'repair --prefix \(layout.prefix)' at boot to put them back") + ")")
            return []
        }
        let node = gatewayNode ?? "the gateway's node"
        let line = "the gateway runs on \(node): run 'frostbyte-bundle repair --prefix P' there once its task runs (it applies the rules that keep the gateway at \(publish) only, with no way out); check-isolation on \(node) fails until then"
        note(line)
        return [line]
    }

    /// The boot unit that runs `repair --prefix P` before dockerd on a node holding
    /// the gateway rules of `stack` (`frostbyte-bundle-swarm-<stack>.service`).
    static func bootUnit(_ stack: String, _ layout: InstallationLayout) -> BootUnit {
        BootUnit(project: "swarm-\(stack)", prefix: layout.prefix)
    }

    /// This program, for the boot unit's `ExecStart`.
    static var executable: String { BootUnit.linkTarget("/proc/self/exe") ?? CommandLine.arguments[0] }

    /// Inserts (unless present) and records the gateway rules of `stack`.
    /// - Throws: `IsolationError.firewall`.
    @discardableResult
    public static func apply(stack: String, publish: String, layout: InstallationLayout) throws -> [FirewallRule] {
        let rules = SwarmGatewayFirewall.rules(stack: stack, publish: publish)
        for rule in rules { try HostFirewall.apply(rule, prefix: layout.prefix) }
        return rules
    }

    /// Gateways of Swarm stacks whose tasks run on this node: stack → `ADDR:PORT`,
    /// from the running local containers carrying `SwarmRenderer.publishLabel` (a
    /// node keeps exited containers of earlier tasks).
    /// - Throws: the engine's errors.
    public static func localGateways(engine: DockerEngine = DockerEngine()) throws -> [String: String] {
        var gateways: [String: String] = [:]
        for container in try engine.containers(try engine.containerIDs(label: SwarmRenderer.publishLabel)) {
            guard container.state.running, let stack = container.label(stackLabel),
                  let publish = container.label(SwarmRenderer.publishLabel) else { continue }
            gateways[stack] = publish
        }
        return gateways
    }

    /// The rules this node needs for `stack` (every stack when nil): those of the
    /// gateways running here, then those recorded under the prefix.
    public static func expectedRules(layout: InstallationLayout, stack: String?, gateways: [String: String]) -> [FirewallRule] {
        var rules: [FirewallRule] = []
        for (name, publish) in gateways.sorted(by: { $0.key < $1.key }) where stack == nil || stack == name {
            rules += SwarmGatewayFirewall.rules(stack: name, publish: publish)
        }
        for rule in (try? HostFirewall.recordedRules(prefix: layout.prefix)) ?? []
        where (stack.map { SwarmGatewayFirewall.belongs(rule, to: $0) } ?? (SwarmGatewayFirewall.stack(of: rule) != nil))
            && !rules.contains(where: { HostStateRepair.same($0, rule) }) {
            rules.append(rule)
        }
        return rules
    }

    /// `repair` of a prefix that holds no single-host receipt: puts back the Swarm
    /// gateway rules this node needs (`expectedRules`).
    /// Without an answering engine (at boot, before dockerd) only the recorded rules.
    /// - Throws: `InstallError.notInstalled` when the node runs no gateway and the prefix
    ///   records no rule; `IsolationError.firewall`.
    public static func repair(layout: InstallationLayout, stack: String?) throws -> RepairResult {
        // At boot dockerd is not up yet: the recorded rules are what is put back then.
        let gateways = (try? localGateways()) ?? [:]
        let rules = expectedRules(layout: layout, stack: stack, gateways: gateways)
        guard !rules.isEmpty else { throw InstallError.notInstalled(prefix: layout.prefix) }
        let stacks = Set(rules.compactMap(SwarmGatewayFirewall.stack(of:))).sorted()
        var result = RepairResult(prefix: layout.prefix, project: stacks.joined(separator: ","), rules: [], restored: 0, bootUnit: nil)
        for rule in rules {
            let present = HostFirewall.isPresent(rule)
            if !present { try HostFirewall.apply(rule, prefix: layout.prefix) }
            result.rules.append(.init(rule: HostStateRepair.describe(rule), network: rule.network, bridge: rule.bridge, restored: !present))
            if !present { result.restored += 1 }
        }
        for stack in stacks { result.bootUnit = try bootUnit(stack, layout).write(executable: executable) }
        return result
    }

    /// The recorded gateway rules of `stack` missing from the live firewall, described.
    public static func missingRules(layout: InstallationLayout, stack: String) -> [String] {
        ((try? HostFirewall.recordedRules(prefix: layout.prefix)) ?? [])
            .filter { SwarmGatewayFirewall.belongs($0, to: stack) && !HostFirewall.isPresent($0) }
            .map(HostStateRepair.describe)
    }

    /// Deletes the recorded gateway rules of `stack` (every Swarm stack when nil)
    /// from the live firewall and the record.
    /// - Returns: the rules removed, for the output.
    /// - Throws: `IsolationError.firewall`.
    public static func remove(layout: InstallationLayout, stack: String?) throws -> [FirewallRule] {
        let select: (FirewallRule) -> Bool = { rule in
            stack.map { SwarmGatewayFirewall.belongs(rule, to: $0) } ?? (SwarmGatewayFirewall.stack(of: rule) != nil)
        }
        let rules = ((try? HostFirewall.recordedRules(prefix: layout.prefix)) ?? []).filter(select)
        guard !rules.isEmpty else { return [] }
        try HostFirewall.removeRecordedRules(prefix: layout.prefix, only: select)
        for stack in Set(rules.compactMap(SwarmGatewayFirewall.stack(of:))) { bootUnit(stack, layout).remove() }
        return rules
    }
}
