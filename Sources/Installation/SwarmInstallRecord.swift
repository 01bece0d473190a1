import FrostbyteCore
import BundleFormat
import InstallationState
import FoundationEssentials
import Glibc

/// The manager's record of a Swarm install under a prefix, `<prefix>/state/swarm.json`:
/// journal and receipt in one, rewritten atomically after every step (0644: it names
/// nodes, images and labels, never a secret). `status` and `uninstall` on the manager
/// read it; a re-run of `install --swarm` reads its pins (a pinned service never moves)
/// and resumes a deploy it finds unfinished (`docker stack deploy` converges).
public struct SwarmInstallRecord: Codable, Sendable, Equatable {
    /// Where the install stands: `deploying` until every service is healthy and the
    /// migrations ran, then `deployed`; `failed` with `failure` set.
    public enum Phase: String, Codable, Sendable { case deploying, deployed, failed }

    public var stack: String
    public var bundleId: String
    public var name: String
    public var version: String
    public var phase: Phase
    /// Step name (`labelled`, `deployed`, `healthy`, `migrated`) → time it completed.
    public var completed: [String: String]
    public var failure: String?
    /// Service → node hostname it is pinned to (volume owners and the gateway).
    public var pins: [String: String]
    /// Nodes this install labelled (`prepared`, pins): uninstall removes the labels there.
    public var labelledNodes: [String]
    /// The label keys this install sets: `<labelPrefix>.prepared` and `<labelPrefix>.<service>`.
    public var labelPrefix: String
    public var gatewayService: String
    /// `ADDRESS:PORT` the gateway answers at on its node.
    public var publish: String
    /// Image name → ID (`sha256:…`), what every service runs.
    public var images: [String: String]
    /// The stack file deployed (under the prefix).
    public var stackFile: String
    /// The release deployed before this one, if any.
    public var previousBundleId: String?
    public var startedAt: String
    public var updatedAt: String
    /// `install --subnet`: the internal overlay's subnet when not the bundle's (kept
    /// for every later install: an overlay's subnet cannot change).
    public var subnet: String? = nil
    /// Set when this release is current again because an upgrade to another one
    /// failed and the whole stack was rolled back to it.
    public var rollback: SwarmRollbackNote? = nil

    enum CodingKeys: String, CodingKey {
        case stack, name, version, phase, completed, failure, pins, publish, images, subnet, rollback
        case bundleId = "bundle_id"
        case labelledNodes = "labelled_nodes"
        case labelPrefix = "label_prefix"
        case gatewayService = "gateway_service"
        case stackFile = "stack_file"
        case previousBundleId = "previous_bundle_id"
        case startedAt = "started_at"
        case updatedAt = "updated_at"
    }

    /// `state/swarm.json` under the prefix.
    public static func path(_ layout: InstallationLayout) -> String { "\(layout.state)/swarm.json" }

    /// The record under the prefix, nil when there is none.
    /// - Throws: `InstallError.filesystem`-like `SwarmInstallError.unreadableRecord` when it exists but cannot be read.
    public static func read(_ layout: InstallationLayout) throws -> SwarmInstallRecord? {
        let path = path(layout)
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        guard let record = try? JSONDecoder().decode(SwarmInstallRecord.self, from: data) else {
            throw SwarmInstallError.unreadableRecord(path: path)
        }
        return record
    }

    /// Marks `step` done (or sets the phase) and writes the record atomically.
    /// - Throws: `FileSystemError`.
    public mutating func save(_ layout: InstallationLayout, step: String? = nil) throws {
        updatedAt = UTCTime.now()
        if let step { completed[step] = updatedAt }
        try AtomicFile.makeFolder(layout.state, mode: 0o755)
        try AtomicFile.write(try DeterministicJSON.encode(self), to: Self.path(layout), mode: 0o644)
    }

    /// The node label key that marks a node prepared for this stack's release
    /// (`<labelPrefix>.prepared.<bundle_id>=true`): one key per release, so that during
    /// an upgrade a node carries the old release's and the new one's, and the old
    /// tasks keep running until the new ones are healthy.
    public var preparedLabel: String { "\(labelPrefix).prepared.\(bundleId)" }

    /// True for a prepared-node label key of any release of the stack (and the
    /// single `<labelPrefix>.prepared` key of earlier installs).
    public static func isPreparedLabel(_ key: String, prefix: String) -> Bool {
        key == "\(prefix).prepared" || key.hasPrefix("\(prefix).prepared.")
    }

    /// The label prefix for stack `stack`: `io.frostbyte.<stack>`.
    public static func labelPrefix(stack: String) -> String { "io.frostbyte.\(stack)" }

    /// The gateway's URL on its node (`http://ADDRESS:PORT`, 0.0.0.0 as loopback).
    public var gatewayURL: String { GatewayIngress.url(publish: publish) ?? "" }
}

/// What `install --swarm`, and `status`/`uninstall` of a Swarm install, refuse (exit 2)
/// or report as failed (exit 1).
public enum SwarmInstallError: UserFacingError, Equatable {
    case notAManager(state: String)
    case unpreparedNodes(bundleId: String, nodes: [String])
    case tooFewNodes(prepared: Int, needed: Int)
    case engineVersionsDiffer(versions: [String])
    case unknownNode(service: String, node: String)
    case unreadableRecord(path: String)
    case otherStack(prefix: String, stack: String)
    case notHealthy(stack: String, seconds: Int, detail: String)
    case migrationJob(detail: String)

    public var message: String {
        switch self {
        case .notAManager(let state):
            return "this engine is not a swarm manager (swarm state: \(state)); nothing was changed: run install --swarm on a manager ('docker node ls' works there)"
        case .unpreparedNodes(let bundleId, let nodes):
            return "not prepared for \(bundleId): \(nodes.joined(separator: ", ")); nothing was changed: run 'frostbyte-bundle prepare' on \(nodes.count == 1 ? "that node" : "those nodes") (or drain \(nodes.count == 1 ? "it" : "them") with 'docker node update --availability drain'), then install again; a node listed although prepare passed there uses another image store than this manager (the containerd store names images by other IDs): use one store on every node"
        case .tooFewNodes(let prepared, let needed):
            return "only \(prepared) node(s) of the swarm are prepared and take tasks, \(needed) are needed; nothing was changed: prepare more nodes, then install again"
        case .engineVersionsDiffer(let versions):
            return "the swarm's nodes run different engine versions (\(versions.joined(separator: ", "))); nothing was changed: run one engine version on every node that takes tasks"
        case .unknownNode(let service, let node):
            return "--pin \(service)=\(node): no prepared node of the swarm is called \(node); nothing was changed: name a node 'docker node ls' lists as prepared"
        case .unreadableRecord(let path):
            return "\(path) is not a Swarm install record; nothing was changed: move it away or restore it"
        case .otherStack(let prefix, let stack):
            return "\(prefix) holds the Swarm install of stack \(stack); nothing was changed: use another --prefix, or the same --project"
        case .notHealthy(let stack, let seconds, let detail):
            return "stack \(stack) was not healthy within \(seconds) s (\(detail)); the stack is left deployed and the record says 'failed': run install again to resume, or uninstall"
        case .migrationJob(let detail):
            return "the migration job did not finish: \(detail)"
        }
    }

    public var exitStatus: ExitStatus {
        switch self {
        case .notHealthy, .migrationJob: return .checkFailed
        default: return .badInput
        }
    }
}
