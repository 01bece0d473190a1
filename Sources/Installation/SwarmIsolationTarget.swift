import FrostbyteCore
import BundleFormat
import Engine
import InstallationState
import Isolation
import Stack
import FoundationEssentials
import Glibc

/// What `check-isolation --prefix P [--project STACK]` checks on a Swarm node: this
/// node's tasks of one stack (docs/SWARM.md, "Isolation on every node").
///
/// - **The stack**: `--project`, else the manager's record (`state/swarm.json`), else
///   the one stack whose tasks run here (containers labelled
///   `com.docker.stack.namespace` and `io.frostbyte.bundle`); several: `--project`
///   must choose. A worker holds only `prepare`'s record, so the local engine is
///   what tells it which stack runs here.
/// - **The release**: the record's bundle, else the release under the prefix whose
///   `name-version` is the tasks' `io.frostbyte.bundle` label (newest prepared first).
/// - **The internal overlay's subnet**: the record's (`--subnet`, else the bundle's)
///   on the manager; not compared on another node.
/// - **Where the gateway is published**: the record's `publish`, else the label
///   `SwarmRenderer.publishLabel` of the gateway's task on this node.
public enum SwarmIsolationTarget {
    /// True when `prefix` is a Swarm node's: no single-host `current/MANIFEST.json`,
    /// and the manager's record or a prepare record.
    public static func isSwarmPrefix(_ prefix: String) -> Bool {
        let layout = InstallationLayout(prefix: prefix)
        let files = FileManager.default
        return !files.fileExists(atPath: "\(layout.current)/MANIFEST.json")
            && (files.fileExists(atPath: SwarmInstallRecord.path(layout)) || files.fileExists(atPath: PreparedRelease.folder(layout)))
    }

    /// The target for this node's tasks of the stack.
    /// - Throws: `ValidationFailure` (exit 2) naming what is missing; the engine's errors.
    public static func load(prefix: String, stack asked: String?, engine: DockerEngine = DockerEngine()) throws -> IsolationTarget {
        let layout = InstallationLayout(prefix: prefix)
        let record = try SwarmInstallRecord.read(layout)
        let local = try engine.containers(try engine.containerIDs(label: SwarmNodeFirewall.stackLabel))
            .filter { $0.state.running && $0.label(IsolationLabels.frostbyteBundle) != nil }
        let stacks = Set(local.compactMap { $0.label(SwarmNodeFirewall.stackLabel) }).sorted()
        guard let stack = asked ?? record?.stack ?? (stacks.count == 1 ? stacks[0] : nil) else {
            throw ValidationFailure(stacks.isEmpty
                ? "no task of a Swarm stack runs on this node; nothing to check: run check-isolation where the stack's tasks run, or give --project STACK"
                : "tasks of several Swarm stacks run on this node (\(stacks.joined(separator: ", "))); give --project STACK")
        }
        let tasks = local.filter { $0.label(SwarmNodeFirewall.stackLabel) == stack }
        let ownRecord = record?.stack == stack ? record : nil
        let label = tasks.compactMap { $0.label(IsolationLabels.frostbyteBundle) }.first
        guard let (bundleId, manifest) = ownRecord.flatMap({ r in manifest(layout, r.bundleId).map { (r.bundleId, $0) } })
                ?? label.flatMap({ release(layout, label: $0) }) else {
            throw ValidationFailure("\(layout.prefix) holds no release of stack \(stack)\(label.map { " (its tasks run \($0))" } ?? ""); run 'frostbyte-bundle prepare BUNDLE --prefix \(layout.prefix)' on this node first")
        }
        let publish = ownRecord?.publish
            ?? tasks.compactMap { $0.label(SwarmRenderer.publishLabel) }.first
        var target = IsolationTarget(
            manifest: manifest, project: stack, prefix: layout.prefix,
            loadedImages: ownRecord?.images ?? [:], bundleId: bundleId, publish: publish)
        target.swarmServices = services(layout, bundleId: bundleId, manifest: manifest)
        // The internal overlay's subnet: the record's `--subnet` on the manager; a
        // worker does not know it (a second tenant has its own), so it is not compared.
        for index in target.networks.indices where target.networks[index].internal {
            target.networks[index].subnet = ownRecord.map { $0.subnet ?? target.networks[index].subnet } ?? nil
        }
        return target
    }

    /// The release's MANIFEST.json, nil when it cannot be read.
    static func manifest(_ layout: InstallationLayout, _ bundleId: String) -> Manifest? {
        FileManager.default.contents(atPath: "\(layout.release(bundleId))/MANIFEST.json").flatMap { try? ManifestCoding.decodeManifest($0) }
    }

    /// The release under the prefix whose `name-version` is `label`, newest prepare first.
    static func release(_ layout: InstallationLayout, label: String) -> (String, Manifest)? {
        let ids = (try? FileManager.default.contentsOfDirectory(atPath: layout.releases))?.filter { !$0.hasPrefix(".") } ?? []
        let matching = ids.compactMap { id in manifest(layout, id).map { (id, $0) } }.filter { "\($0.1.name)-\($0.1.version)" == label }
        return matching.max { prepared(layout, $0.0) < prepared(layout, $1.0) }
    }

    static func prepared(_ layout: InstallationLayout, _ bundleId: String) -> String {
        PreparedRelease.read(layout, bundleId: bundleId)?.preparedAt ?? ""
    }

    /// The services of the release's compose file.
    static func services(_ layout: InstallationLayout, bundleId: String, manifest: Manifest) -> [String] {
        guard let file = manifest.compose?.file,
              let data = FileManager.default.contents(atPath: "\(layout.release(bundleId))/\(file)"),
              let tree = try? YAMLParser(bytes: Array(data), file: file).parseSingleDocument() else { return [] }
        return (tree["services"]?.mappingPairs ?? []).compactMap(\.key.scalarValue).sorted()
    }
}
