import FrostbyteCore
import BundleFormat
import Engine
import InstallationState
import Stack
import FoundationEssentials
import Glibc

/// The release a Swarm upgrade replaces, kept in the state folder until the upgrade
/// is healthy, so that a failing upgrade rolls the whole stack back to it:
/// `state/swarm-previous.json` (its install record and the node labels it ran under)
/// and `state/swarm-stack.previous.yml` (the stack file it was deployed from).
public struct SwarmPreviousRelease: Codable, Sendable, Equatable {
    /// The record of the release as it was deployed (phase `deployed`).
    public var record: SwarmInstallRecord
    /// The kept copy of its stack file.
    public var stackFile: String
    /// Node → this stack's labels (`io.frostbyte.<stack>.*`) there before the upgrade.
    public var labels: [String: [String: String]]

    enum CodingKeys: String, CodingKey {
        case record, labels
        case stackFile = "stack_file"
    }

    /// `state/swarm-previous.json`.
    public static func path(_ layout: InstallationLayout) -> String { "\(layout.state)/swarm-previous.json" }

    /// The kept previous release, nil when there is none (or it cannot be read).
    public static func read(_ layout: InstallationLayout) -> SwarmPreviousRelease? {
        guard let data = FileManager.default.contents(atPath: path(layout)) else { return nil }
        return try? JSONDecoder().decode(SwarmPreviousRelease.self, from: data)
    }

    /// Keeps `record` (deployed) before an upgrade replaces it: copies its stack file and
    /// reads this stack's labels on each node it labelled. Atomic; nothing else changes.
    /// - Throws: `FileSystemError`, `ValidationFailure` when its stack file is gone,
    ///   `DockerEngineError` when a node's labels cannot be read.
    public static func keep(_ record: SwarmInstallRecord, layout: InstallationLayout, engine: DockerEngine,
                            nodes: [SwarmNodeListing]) throws -> SwarmPreviousRelease {
        let copy = "\(layout.state)/swarm-stack.previous.yml"
        try AtomicFile.write(try SwarmInstaller.read(record.stackFile), to: copy, mode: 0o644)
        var labels: [String: [String: String]] = [:]
        for node in record.labelledNodes where nodes.contains(where: { $0.hostname == node }) {
            labels[node] = try engine.nodeLabels(node).filter { $0.key.hasPrefix("\(record.labelPrefix).") }
        }
        let previous = SwarmPreviousRelease(record: record, stackFile: copy, labels: labels)
        try AtomicFile.write(try DeterministicJSON.encode(previous), to: path(layout), mode: 0o644)
        return previous
    }

    /// Removes the kept files (the upgrade is healthy, or the rollback made them current).
    public static func discard(_ layout: InstallationLayout) {
        unlink(path(layout))
        unlink("\(layout.state)/swarm-stack.previous.yml")
    }
}

/// What a failed Swarm upgrade left behind, in the restored record and in `status`.
public struct SwarmRollbackNote: Codable, Sendable, Equatable {
    /// The release that failed.
    public var fromBundleId: String
    public var reason: String
    public var at: String

    enum CodingKeys: String, CodingKey {
        case reason, at
        case fromBundleId = "from_bundle_id"
    }
}

/// Rolls a whole stack back to the kept previous release after its upgrade failed:
/// its node labels restored, its stack file deployed again (`docker stack deploy`
/// converges every service to it, whether Swarm already rolled a service back or
/// not), every service waited for until it runs that spec healthy, then its record
/// made current again with a note of the failed release. Volumes are never touched:
/// data written before and during the upgrade stays.
struct SwarmRollback {
    var engine: DockerEngine
    var layout: InstallationLayout
    var timeout: Double
    var note: @Sendable (String) -> Void

    /// Restores `previous` after `failed` (the upgrade's bundle) failed with `error`;
    /// returns the error to throw (`SwarmUpgradeError.rolledBack` or `.rollbackFailed`).
    func restore(_ previous: SwarmPreviousRelease, failed: String, error: Error) -> Error {
        let reason = (error as? UserFacingError)?.message ?? "\(error)"
        note("\(failed) failed: \(reason)")
        note("rolling the whole stack \(previous.record.stack) back to \(previous.record.bundleId)")
        do {
            let known = Set(try engine.swarmNodes().map(\.hostname))
            let prefix = "\(previous.record.labelPrefix)."
            for (node, wanted) in previous.labels.sorted(by: { $0.key < $1.key }) where known.contains(node) {
                let current = try engine.nodeLabels(node).filter { $0.key.hasPrefix(prefix) }
                try engine.updateNodeLabels(node, add: wanted.filter { current[$0.key] != $0.value },
                                            remove: current.keys.filter { wanted[$0] == nil })
            }
            let stackYAML = try SwarmInstaller.read(previous.stackFile)
            try AtomicFile.write(stackYAML, to: previous.record.stackFile, mode: 0o644)
            let environment = Dictionary(
                try Secrets.parse(String(decoding: try SwarmInstaller.read(layout.secretsEnv), as: UTF8.self),
                                  origin: layout.secretsEnv).map { ($0.key, $0.value) },
                uniquingKeysWith: { _, last in last })
            let convergence = SwarmConvergence(engine: engine, stack: previous.record.stack)
            let baseline = convergence.baseline()
            try engine.deployStack(previous.record.stack, file: previous.record.stackFile, environment: environment,
                                   timeout: timeout)
            _ = try convergence.wait(count: SwarmRollback.serviceCount(stackYAML), baseline: baseline, timeout: timeout, note: note)
        } catch let rollbackError {
            return SwarmUpgradeError.rollbackFailed(release: failed, reason: reason, restored: previous.record.bundleId,
                                                    detail: (rollbackError as? UserFacingError)?.message ?? "\(rollbackError)")
        }
        var record = previous.record
        record.phase = .deployed
        record.failure = nil
        record.rollback = SwarmRollbackNote(fromBundleId: failed, reason: reason, at: UTCTime.now())
        do {
            try record.save(layout, step: "rolled-back")
        } catch let saveError {
            return saveError
        }
        SwarmPreviousRelease.discard(layout)
        return SwarmUpgradeError.rolledBack(release: failed, reason: reason, restored: record.bundleId)
    }

    /// The number of services a stack file declares.
    static func serviceCount(_ yaml: Data) -> Int {
        guard let tree = try? YAMLParser(bytes: Array(yaml), file: "stack").parseSingleDocument() else { return 1 }
        return max(1, tree["services"]?.mappingPairs?.count ?? 1)
    }
}

/// A Swarm upgrade that failed (exit 1).
public enum SwarmUpgradeError: UserFacingError, Equatable {
    /// Swarm gave up the rolling update of `service` (its `failure_action: rollback`).
    case serviceFailed(service: String, state: String, detail: String)
    case rolledBack(release: String, reason: String, restored: String)
    case rollbackFailed(release: String, reason: String, restored: String, detail: String)

    public var message: String {
        switch self {
        case .serviceFailed(let service, let state, let detail):
            return "service '\(service)' did not become healthy on the new release: Swarm gave its update up (\(state))\(detail.isEmpty ? "" : ": \(detail)")"
        case .rolledBack(let release, let reason, let restored):
            return "\(release) failed: \(reason); the whole stack was rolled back to \(restored), which is healthy again (volumes kept)"
        case .rollbackFailed(let release, let reason, let restored, let detail):
            return "\(release) failed: \(reason); rolling the stack back to \(restored) failed too: \(detail); the record says 'failed': fix the cause and run install again, or uninstall"
        }
    }

    public var exitStatus: ExitStatus { .checkFailed }
}

/// Whether an `install --swarm` is an upgrade, and of which release.
enum SwarmUpgradePlan {
    /// The release to roll back to if this install fails: the deployed release it
    /// replaces (kept now), or, when it resumes an unfinished upgrade, the one kept
    /// then; nil for a first install or a re-run of the deployed release.
    /// - Throws: what `SwarmPreviousRelease.keep` throws.
    static func previous(existing: SwarmInstallRecord?, resumed: Bool, manifest: Manifest, layout: InstallationLayout,
                         engine: DockerEngine, nodes: [SwarmNodeListing],
                         note: (String) -> Void) throws -> SwarmPreviousRelease? {
        guard let existing else { return nil }
        if existing.bundleId != manifest.bundleId, existing.phase == .deployed {
            note("upgrading \(existing.bundleId) to \(manifest.bundleId); \(existing.bundleId) is kept to roll back to")
            return try SwarmPreviousRelease.keep(existing, layout: layout, engine: engine, nodes: nodes)
        }
        if resumed, let kept = SwarmPreviousRelease.read(layout), kept.record.bundleId == existing.previousBundleId {
            return kept
        }
        return nil
    }
}

extension SwarmUpgradePlan {
    /// Once an upgrade is healthy: removes the prepared-node labels of the stack's other
    /// releases from every node it labelled (best effort; a label left over constrains
    /// nothing, and uninstall removes every label of the stack).
    static func dropOtherReleaseLabels(_ record: SwarmInstallRecord, engine: DockerEngine, nodes: [SwarmNodeListing]) {
        for node in record.labelledNodes where nodes.contains(where: { $0.hostname == node }) {
            let stale = ((try? engine.nodeLabels(node)) ?? [:]).keys.filter {
                SwarmInstallRecord.isPreparedLabel($0, prefix: record.labelPrefix) && $0 != record.preparedLabel
            }
            try? engine.updateNodeLabels(node, remove: stale)
        }
    }
}
