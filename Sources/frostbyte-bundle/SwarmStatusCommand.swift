import FrostbyteCore
import Installation
import InstallationState
import ArgumentParser
import FoundationEssentials

extension FrostbyteBundle.Status {
    /// `status` of a Swarm install (`SwarmStatus`): exit 1 when a service lacks
    /// replicas or the deploy is not finished, as for a single-host install.
    func reportSwarm(_ status: SwarmStatus, json: Bool) throws {
        if json {
            try Console.json(status)
        } else {
            Console.out("stack: \(status.stack)  release: \(status.bundleId)  phase: \(status.phase)")
            if let failure = status.failure { Console.out("last failure: \(failure)") }
            if let rollback = status.rollback {
                Console.out("rolled back from \(rollback.fromBundleId) at \(rollback.at): \(rollback.reason)")
            }
            Console.out("gateway: \(status.gatewayURL) (on \(status.pins.values.isEmpty ? "its node" : "the gateway's node"))")
            if !status.nodesDown.isEmpty {
                let labelled = Set(status.nodes.filter(\.labelled).map(\.node))
                Console.out("nodes down: \(status.nodesDown.map { labelled.contains($0) ? "\($0) (prepared for this stack)" : $0 }.joined(separator: ", "))")
            }
            for service in status.services {
                let tasks = service.tasks.map { "\($0.node) \($0.state)\($0.error.map { " (\($0))" } ?? "")" }
                Console.out("  \(service.service): \(service.running)/\(service.desired)\(status.pins[service.service].map { ", pinned to \($0)" } ?? "")  \(tasks.isEmpty ? "no task running" : tasks.joined(separator: "; "))")
            }
            if !status.lackingReplicas.isEmpty { Console.out("lacking replicas: \(status.lackingReplicas.joined(separator: ", "))") }
            for fault in status.faults { Console.out("  \(fault.detail)") }
            for rule in status.firewallRulesMissing { Console.out("firewall rule missing on this node: \(rule) (repair --prefix puts it back)") }
            Console.out(status.healthy ? "healthy" : "NOT healthy")
        }
        if !status.healthy { throw ExitCode(ExitStatus.checkFailed.rawValue) }
    }
}

extension FrostbyteBundle.Uninstall {
    /// `uninstall` of a Swarm install (`SwarmUninstaller`).
    /// On a Swarm node other than the manager (a prefix without a receipt): removes the
    /// gateway firewall rules the node's `repair` recorded. False when there are none.
    func uninstallSwarmNode(json: Bool) throws -> Bool {
        guard !FileManager.default.fileExists(atPath: location.layout.receipt) else { return false }
        let rules = try CommandFailure.reporting(json: json) { try SwarmNodeFirewall.remove(layout: location.layout, stack: nil) }
        guard !rules.isEmpty else { return false }
        let described = rules.map(HostStateRepair.describe)
        if json { try Console.json(["firewall_rules_removed": described]); return true }
        for rule in described { Console.out("firewall rule removed: \(rule)") }
        Console.out("removed the Swarm gateway's \(rules.count) firewall rules of this node (the stack itself is removed by uninstall on its manager)")
        return true
    }

    func uninstallSwarm(_ record: SwarmInstallRecord, json: Bool) throws {
        let result = try CommandFailure.reporting(json: json) {
            try SwarmUninstaller(layout: location.layout, purgeData: purgeData).run(record) { Console.note($0) }
        }
        if json { return try Console.json(result) }
        Console.out("uninstalled stack \(result.stack)")
        Console.out("services removed: \(result.servicesRemoved.joined(separator: ", "))")
        Console.out("networks removed: \(result.networksRemoved.joined(separator: ", "))")
        for (node, keys) in result.labelsRemoved.sorted(by: { $0.key < $1.key }) {
            Console.out("labels removed on \(node): \(keys.joined(separator: ", "))")
        }
        if !result.volumesRemoved.isEmpty { Console.out("volumes removed: \(result.volumesRemoved.joined(separator: ", "))") }
        for line in result.nodeNotes { Console.out(line) }
        for rule in result.firewallRulesRemoved { Console.out("firewall rule removed: \(rule)") }
    }
}
