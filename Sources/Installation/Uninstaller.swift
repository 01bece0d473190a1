import Engine
import InstallationState
import FoundationEssentials
import Glibc

/// What `uninstall` removed and kept.
public struct UninstallResult: Codable, Sendable {
    public var project: String
    public var containersRemoved: [String]
    public var networksRemoved: [String]
    public var imagesRemoved: [String]
    /// Images kept with the reason (in use by another project's container).
    public var imagesKept: [String]
    public var volumesRemoved: [String]
    public var volumesKept: [String]
    public var firewallRulesRemoved: Int
    /// What is left of the prefix (secrets and evidence unless --purge-data).
    public var prefixKept: [String]

    enum CodingKeys: String, CodingKey {
        case project
        case containersRemoved = "containers_removed"
        case networksRemoved = "networks_removed"
        case imagesRemoved = "images_removed"
        case imagesKept = "images_kept"
        case volumesRemoved = "volumes_removed"
        case volumesKept = "volumes_kept"
        case firewallRulesRemoved = "firewall_rules_removed"
        case prefixKept = "prefix_kept"
    }
}

/// Removes one installation: stops the stack, removes the containers, networks and
/// images that belong to its project (by label `io.frostbyte.project` /
/// `com.docker.compose.project`, images by the IDs its releases loaded) and nothing
/// else; data volumes stay unless `purgeData`. Images still used by any other
/// container (another tenant of the same bundle) are kept: `docker rmi` without
/// force refuses them.
public struct Uninstaller {
    public var layout: InstallationLayout
    public var purgeData: Bool
    public var firewall: FirewallCleanup
    public var note: (String) -> Void
    public var engine: DockerEngine

    public init(layout: InstallationLayout, purgeData: Bool, firewall: FirewallCleanup = RecordedFirewallRules(),
                engine: DockerEngine = DockerEngine(), note: @escaping (String) -> Void = { _ in }) {
        self.layout = layout; self.purgeData = purgeData; self.firewall = firewall; self.engine = engine
        self.note = note
    }

    /// - Throws: `InstallError.notInstalled` when the prefix holds no installation,
    ///   `InstallError.locked` while an install runs.
    public func run() throws -> UninstallResult {
        try Preflight.checkRoot()
        _ = try Preflight.checkEngine(engine)
        let receipt = try? InstallationReceipt.load(layout)
        let journal = InstallJournal.load(layout)
        guard let project = receipt?.project ?? journal?.project else { throw InstallError.notInstalled(prefix: layout.prefix) }
        let lock = try InstallLock(layout: layout)
        defer { lock.release() }

        var result = UninstallResult(project: project, containersRemoved: [], networksRemoved: [], imagesRemoved: [],
                                     imagesKept: [], volumesRemoved: [], volumesKept: [], firewallRulesRemoved: 0, prefixKept: [])
        // What exists before compose down, so the report names what went away.
        let containersBefore = try names(.container, project: project)
        let networksBefore = try names(.network, project: project)
        let volumesBefore = try names(.volume, project: project)
        if let receipt, FileManager.default.fileExists(atPath: layout.release(receipt.bundleId)) {
            note("stopping project \(project)")
            try? InstalledStack(for: receipt, layout: layout).compose().down(removeVolumes: purgeData)
        }
        // Whatever compose did not remove (orphans, a failed first install): by label.
        for label in [OwnershipLabels.project, OwnershipLabels.composeProject] {
            for id in try engine.objectIDs(.container, label: label, value: project) {
                engine.remove(.container, id, withVolumes: purgeData)
            }
        }
        for label in [OwnershipLabels.project, OwnershipLabels.composeProject] {
            for id in try engine.objectIDs(.network, label: label, value: project) {
                engine.remove(.network, id)
            }
        }
        let containersLeft = try names(.container, project: project)
        let networksLeft = try names(.network, project: project)
        result.containersRemoved = containersBefore.filter { !containersLeft.contains($0) }
        result.networksRemoved = networksBefore.filter { !networksLeft.contains($0) }
        removeImages(into: &result)
        try handleVolumes(project: project, into: &result)
        let volumesLeft = try names(.volume, project: project)
        result.volumesRemoved = volumesBefore.filter { !volumesLeft.contains($0) }
        result.firewallRulesRemoved = try firewall.removeRules(layout: layout, note: note)
        let unit = BootUnit(project: project, prefix: layout.prefix)
        if unit.remove() { note("removed boot unit \(unit.path)") }
        try removePrefix(into: &result)
        return result
    }

    /// Removes the images this installation loaded itself (`state/images-loaded.json`),
    /// by name and only while the name still resolves to the recorded ID; never forced,
    /// so an image another container uses stays. Images that were on the host before
    /// the install are not touched.
    func removeImages(into result: inout UninstallResult) {
        for (name, id) in LoadedImagesRecord.read(layout).sorted(by: { $0.key < $1.key }) {
            guard (try? engine.image(name))??.id == id else { continue }
            if let reason = engine.removeImage(name) {
                let inUse = reason.contains("being used") || reason.contains("conflict")
                result.imagesKept.append("\(name): \(inUse ? "in use by another container" : reason)")
            } else {
                result.imagesRemoved.append(name)
            }
        }
    }

    /// Names of the project's containers, networks or volumes (either ownership label).
    func names(_ kind: DockerObjectKind, project: String) throws -> [String] {
        var names = Set<String>()
        for label in [OwnershipLabels.project, OwnershipLabels.composeProject] {
            for id in try engine.objectIDs(kind, label: label, value: project) {
                names.insert(engine.name(of: id, kind: kind))
            }
        }
        return names.sorted()
    }

    /// Removes the project's volumes with --purge-data, lists them as kept otherwise.
    func handleVolumes(project: String, into result: inout UninstallResult) throws {
        var names = Set<String>()
        for label in [OwnershipLabels.project, OwnershipLabels.composeProject] {
            names.formUnion(try engine.objectIDs(.volume, label: label, value: project))
        }
        for name in names.sorted() {
            if purgeData { engine.remove(.volume, name) }
        }
        result.volumesKept = try self.names(.volume, project: project)
    }

    /// Removes releases, `current` and state; keeps `secrets/` and `evidence/` (the
    /// kept volumes need the same secrets, auditors the evidence) unless purging.
    func removePrefix(into result: inout UninstallResult) throws {
        let fileManager = FileManager.default
        unlink(layout.current)
        for path in [layout.releases, layout.state] {
            try? fileManager.removeItem(atPath: path)
        }
        if purgeData {
            try? fileManager.removeItem(atPath: layout.prefix)
        } else {
            result.prefixKept = [layout.secrets, layout.evidence].filter { fileManager.fileExists(atPath: $0) }
        }
    }
}
