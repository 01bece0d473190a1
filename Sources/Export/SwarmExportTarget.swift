import FrostbyteCore
import BundleFormat
import Engine
import InstallationState
import FoundationEssentials
import Glibc

/// The installation an export reads from on a node of a Swarm install (docs/SWARM.md,
/// "Export from the data's node"): the stack's tasks whose services the export steps
/// name must run on this node, because a step runs with `docker exec` in its service's
/// container and a task on another node cannot be reached from here.
///
/// On the manager (`state/swarm.json` under the prefix) the stack and release are the
/// record's. On any other node the prefix holds only `prepare`'s records
/// (`state/prepared/<bundle_id>.json`) and releases: the stack is found from the
/// running containers, as the one whose containers of every step's service run an
/// image of a prepared release (`project` picks one when several would do).
///
/// Guarantees: a target names, for every step, one running container of that stack's
/// service on this node, running an image of the release whose steps it runs;
/// otherwise loading fails before any step runs, and on the manager the error names
/// the node(s) where the services' tasks run.
public struct SwarmExportTarget: Sendable {
    public let stack: String
    public let manifest: Manifest
    public let steps: [Manifest.ExportStep]
    /// Service (short name) → the container a step of it runs in.
    public let containers: [String: String]

    /// True when the prefix holds a Swarm record or a prepared release and no
    /// single-host receipt.
    public static func applies(_ layout: InstallationLayout) -> Bool {
        let files = FileManager.default
        guard !files.fileExists(atPath: layout.receipt) else { return false }
        return files.fileExists(atPath: "\(layout.state)/swarm.json")
            || !((try? files.contentsOfDirectory(atPath: "\(layout.state)/prepared")) ?? []).isEmpty
    }

    /// Finds the stack and the containers of its export steps on this node.
    /// - Throws: `ExportError.dataOnAnotherNode` (the manager, tasks elsewhere),
    ///   `.noLocalStack`, `.severalStacks`, `.noExports`, `.unreadable`, step-name errors.
    public static func load(_ layout: InstallationLayout, project: String?, engine: DockerEngine = DockerEngine()) throws -> SwarmExportTarget {
        let record = try read(RecordHead.self, "\(layout.state)/swarm.json")
        let stack = record?.stack ?? project
        var releases: [(bundleId: String, images: Set<String>?)] = []
        if let record {
            releases = [(record.bundleId, Set(record.images.values))]
        } else {
            let folder = "\(layout.state)/prepared"
            for file in ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []).sorted() where file.hasSuffix(".json") {
                if let prepared = try read(PreparedHead.self, "\(folder)/\(file)") {
                    releases.append((prepared.bundleId, Set(prepared.images.values)))
                }
            }
        }
        let local: [StackContainer]
        do {
            local = try engine.runningStackContainers(stack: stack)
        } catch let error as CommandError {
            throw ExportError.startFailed(step: "(finding the stack's containers)", reason: error.message)
        }
        var candidates: [SwarmExportTarget] = []
        var wanted = Set<String>()
        for release in releases {
            let manifest = try manifest(layout, release.bundleId)
            let steps = try checkedSteps(manifest)
            for name in Set(local.map(\.stack)).sorted() where stack == nil || name == stack {
                var containers: [String: String] = [:]
                for service in Set(steps.map(\.service)) {
                    let match = local.first { $0.stack == name && $0.service == "\(name)_\(service)"
                        && (release.images?.contains($0.imageID) ?? true) }
                    if let match { containers[service] = match.id }
                }
                if containers.count == Set(steps.map(\.service)).count {
                    candidates.append(SwarmExportTarget(stack: name, manifest: manifest, steps: steps, containers: containers))
                }
            }
            wanted.formUnion(steps.map(\.service))
        }
        if candidates.count == 1 { return candidates[0] }
        if candidates.count > 1 { throw ExportError.severalStacks(stacks: candidates.map(\.stack).sorted()) }
        let services = wanted.sorted()
        if let record {
            var placement: [String: [String]] = [:]
            for service in services {
                let tasks = (try? engine.serviceTasks("\(record.stack)_\(service)")) ?? []
                placement[service] = Set(tasks.filter { $0.currentState.hasPrefix("Running") }.map(\.node)).sorted()
            }
            throw ExportError.dataOnAnotherNode(stack: record.stack, placement: placement, here: hostName(), prefix: layout.prefix)
        }
        throw ExportError.noLocalStack(prefix: layout.prefix, services: services, here: hostName())
    }

    /// The steps of a release's manifest, names checked as `ExportTarget` checks them.
    static func checkedSteps(_ manifest: Manifest) throws -> [Manifest.ExportStep] {
        let steps = manifest.exports ?? []
        guard !steps.isEmpty else { throw ExportError.noExports(bundleId: manifest.bundleId) }
        var seen = Set<String>()
        for step in steps {
            guard ExportTarget.isSafeFileName(step.name) else { throw ExportError.invalidStepName(name: step.name) }
            guard seen.insert(step.name).inserted else { throw ExportError.duplicateStepName(name: step.name) }
        }
        return steps
    }

    /// `releases/<bundle_id>/MANIFEST.json`, kept by `prepare` and `install --swarm`.
    static func manifest(_ layout: InstallationLayout, _ bundleId: String) throws -> Manifest {
        let path = "\(layout.release(bundleId))/MANIFEST.json"
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ExportError.unreadable(path: path, reason: "missing; run prepare with the release's bundle on this node again")
        }
        do { return try ManifestCoding.decodeManifest(data) } catch {
            throw ExportError.unreadable(path: path, reason: (error as? UserFacingError)?.message ?? "\(error)")
        }
    }

    /// A JSON file decoded, nil when it does not exist.
    static func read<T: Decodable>(_ type: T.Type, _ path: String) throws -> T? {
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        guard let value = try? JSONDecoder().decode(T.self, from: data) else {
            throw ExportError.unreadable(path: path, reason: "not the record frostbyte-bundle writes there")
        }
        return value
    }

    static func hostName() -> String { Exporter.hostName() }

    /// What an export reads of the manager's `state/swarm.json`.
    struct RecordHead: Decodable {
        var stack: String
        var bundleId: String
        var images: [String: String]
        enum CodingKeys: String, CodingKey {
            case stack, images
            case bundleId = "bundle_id"
        }
    }

    /// What an export reads of a node's `state/prepared/<bundle_id>.json`.
    struct PreparedHead: Decodable {
        var bundleId: String
        var images: [String: String]
        enum CodingKeys: String, CodingKey {
            case images
            case bundleId = "bundle_id"
        }
    }
}
