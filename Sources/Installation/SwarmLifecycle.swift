import FrostbyteCore
import Engine
import InstallationState
import Stack
import FoundationEssentials
import Glibc

/// `status` of a Swarm install, asked of the manager (`--json`).
public struct SwarmStatus: Codable, Sendable {
    public var stack: String
    public var bundleId: String
    public var version: String
    /// The record's phase (`deploying`, `deployed`, `failed`) and failure.
    public var phase: String
    public var failure: String?
    public var services: [SwarmServiceState]
    /// Nodes of the swarm that are not `Ready`.
    public var nodesDown: [String]
    /// Services running fewer tasks than desired.
    public var lackingReplicas: [String]
    public var pins: [String: String]
    public var gatewayURL: String
    /// Every node of the swarm, and whether this install labelled it (`SwarmNodeFaults`).
    public var nodes: [SwarmNodeState] = []
    /// One per service lacking replicas: pinned (to which node, down or not) or moved by Swarm.
    public var faults: [SwarmServiceFault] = []
    /// The gateway's firewall rules recorded on this node that are missing from its
    /// live firewall, described (`repair --prefix P` puts them back).
    public var firewallRulesMissing: [String] = []
    /// Set when this release is current because an upgrade failed and the whole stack
    /// was rolled back to it (which release, why, when).
    public var rollback: SwarmRollbackNote? = nil

    /// True when deployed, every service at its replicas, no node this install
    /// labelled is down (a lost node degrades the stack even once Swarm moved its
    /// unpinned tasks: its pinned services and data are there) and no firewall rule
    /// of this node missing.
    public var healthy: Bool {
        phase == "deployed" && lackingReplicas.isEmpty && !services.isEmpty
            && !nodes.contains { $0.labelled && $0.status != "Ready" } && firewallRulesMissing.isEmpty
    }

    enum CodingKeys: String, CodingKey {
        case stack, version, phase, failure, services, pins, nodes, faults, rollback
        case bundleId = "bundle_id"
        case nodesDown = "nodes_down"
        case lackingReplicas = "lacking_replicas"
        case gatewayURL = "gateway_url"
        case firewallRulesMissing = "firewall_rules_missing"
    }

    /// Reads the record under the prefix and asks the swarm; nil when the prefix holds
    /// no Swarm install.
    /// - Throws: `SwarmInstallError.unreadableRecord`, `DockerEngineError` (not a manager).
    public static func read(layout: InstallationLayout, engine: DockerEngine = DockerEngine()) throws -> SwarmStatus? {
        guard let record = try SwarmInstallRecord.read(layout) else { return nil }
        let nodes = try engine.swarmNodes()
        let services = try SwarmHealth(engine: engine, stack: record.stack)
            .services(nodesDown: Set(nodes.filter { $0.status != "Ready" }.map(\.hostname)))
        var status = SwarmStatus(stack: record.stack, bundleId: record.bundleId, version: record.version, phase: record.phase.rawValue,
                                 failure: record.failure, services: services,
                                 nodesDown: nodes.filter { $0.status != "Ready" }.map(\.hostname).sorted(),
                                 lackingReplicas: services.filter { !$0.healthy }.map(\.service), pins: record.pins,
                                 gatewayURL: record.gatewayURL,
                                 nodes: SwarmNodeFaults.nodeStates(nodes, labelled: record.labelledNodes),
                                 faults: SwarmNodeFaults.faults(services: services, nodes: nodes, pins: record.pins),
                                 rollback: record.rollback)
        status.firewallRulesMissing = SwarmNodeFirewall.missingRules(layout: layout, stack: record.stack)
        return status
    }
}

/// What `uninstall` of a Swarm install did (`--json`).
public struct SwarmUninstallResult: Codable, Sendable {
    public var stack: String
    public var servicesRemoved: [String]
    public var networksRemoved: [String]
    /// node → label keys removed there.
    public var labelsRemoved: [String: [String]]
    public var volumesRemoved: [String]
    /// What the manager cannot do itself: one sentence per node (volumes on other nodes).
    public var nodeNotes: [String]
    /// The gateway's firewall rules removed on this node (`SwarmNodeFirewall`), described.
    public var firewallRulesRemoved: [String] = []

    enum CodingKeys: String, CodingKey {
        case stack
        case servicesRemoved = "services_removed"
        case networksRemoved = "networks_removed"
        case labelsRemoved = "labels_removed"
        case volumesRemoved = "volumes_removed"
        case nodeNotes = "node_notes"
        case firewallRulesRemoved = "firewall_rules_removed"
    }
}

/// Removes a Swarm install from the manager: the stack (`docker stack rm`), waiting
/// until its tasks and networks are gone, the node labels it set on every node, the
/// record and the stack file. Volumes stay unless `purgeData`; Docker offers no way
/// to remove a volume on another node from a manager, so the manager removes its own
/// and names, per other node, the volumes to remove there (`docker volume rm …`);
/// with `purgeData` the prefix goes too.
public struct SwarmUninstaller: Sendable {
    public var layout: InstallationLayout
    public var purgeData: Bool
    public var engine: DockerEngine

    public init(layout: InstallationLayout, purgeData: Bool, engine: DockerEngine = DockerEngine()) {
        self.layout = layout; self.purgeData = purgeData; self.engine = engine
    }

    /// - Throws: `DockerEngineError` when the stack or a label cannot be removed (the
    ///   record stays, a re-run finishes the job).
    public func run(_ record: SwarmInstallRecord, note: (String) -> Void) throws -> SwarmUninstallResult {
        let services = try engine.services(named: "\(record.stack)_").map(\.name)
        let networks = try engine.objectIDs(.network, label: "com.docker.stack.namespace", value: record.stack)
            .map { engine.name(of: $0, kind: .network) }
        if let error = engine.removeStack(record.stack) {
            throw DockerEngineError.failed(operation: "remove the stack \(record.stack)", detail: error)
        }
        note("removed stack \(record.stack); waiting for its tasks and networks to go")
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline {
            let left = (try? engine.objectIDs(.network, label: "com.docker.stack.namespace", value: record.stack)) ?? []
            let tasks = (try? engine.stackTasks(record.stack)) ?? []
            if left.isEmpty && tasks.isEmpty { break }
            usleep(500_000)
        }
        var labels: [String: [String]] = [:]
        let known = Set(try engine.swarmNodes().map(\.hostname))
        for node in record.labelledNodes where known.contains(node) {
            let keys = try engine.nodeLabels(node).keys.filter { $0.hasPrefix("\(record.labelPrefix).") }.sorted()
            try engine.updateNodeLabels(node, remove: keys)
            if !keys.isEmpty { labels[node] = keys }
        }
        var removed: [String] = [], notes: [String] = []
        let here = Set(try engine.objectIDs(.volume, label: "com.docker.stack.namespace", value: record.stack))
        for (node, volumes) in volumesByNode(record).sorted(by: { $0.key < $1.key }) {
            let local = volumes.filter(here.contains), remote = volumes.filter { !here.contains($0) }
            if purgeData {
                for volume in local where removeVolume(volume) { removed.append(volume) }
                if !remote.isEmpty { notes.append("on \(node): docker volume rm \(remote.joined(separator: " "))") }
            } else if !volumes.isEmpty {
                notes.append("kept on \(node): \(volumes.joined(separator: ", ")) (--purge-data removes them)")
            }
        }
        let rules = try SwarmNodeFirewall.remove(layout: layout, stack: record.stack)
        if rules.isEmpty, let node = record.pins[record.gatewayService] {
            notes.append("on \(node): frostbyte-bundle uninstall --prefix P removes the gateway's firewall rules there")
        }
        try? FileManager.default.removeItem(atPath: record.stackFile)
        try? FileManager.default.removeItem(atPath: SwarmInstallRecord.path(layout))
        if purgeData { try? FileManager.default.removeItem(atPath: layout.prefix) }
        return SwarmUninstallResult(stack: record.stack, servicesRemoved: services.sorted(), networksRemoved: networks.sorted(),
                                    labelsRemoved: labels, volumesRemoved: removed.sorted(), nodeNotes: notes,
                                    firewallRulesRemoved: rules.map(HostStateRepair.describe))
    }

    /// Removes a volume of this node, retrying for up to 20 s: a task's container
    /// goes a moment after `docker stack ps` stops listing the task.
    func removeVolume(_ volume: String) -> Bool {
        for _ in 0..<40 {
            if engine.remove(.volume, volume) == nil { return true }
            usleep(500_000)
        }
        return false
    }

    /// node → the stack's volumes its pinned services own (`<stack>_<volume>`), read
    /// from the deployed stack file.
    func volumesByNode(_ record: SwarmInstallRecord) -> [String: [String]] {
        guard let data = FileManager.default.contents(atPath: record.stackFile),
              let tree = try? YAMLParser(bytes: Array(data), file: record.stackFile).parseSingleDocument() else { return [:] }
        var result: [String: [String]] = [:]
        for pair in tree["services"]?.mappingPairs ?? [] {
            guard let service = pair.key.scalarValue, let node = record.pins[service] else { continue }
            for volume in pair.value["volumes"]?.sequenceItems ?? [] {
                let source = volume.scalarValue.flatMap { $0.split(separator: ":").first.map(String.init) }
                    ?? volume["source"]?.scalarValue
                if let source, !source.hasPrefix("/"), !source.hasPrefix("."), volume["type"]?.scalarValue != "tmpfs" {
                    result[node, default: []].append("\(record.stack)_\(source)")
                }
            }
        }
        return result
    }
}
