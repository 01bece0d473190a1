import FrostbyteCore
import BundleFormat
import Stack
import Engine
import InstallationState
import Isolation
import FoundationEssentials
import Glibc

/// The checks `install` runs before it changes anything on the host: root, a
/// reachable engine, Compose v2 >= 2.29, the project name free (or ours), the subnet
/// free of overlap with docker networks and host routes, and enough free space. Every
/// check only reads; a failure leaves the host exactly as it was.
public enum Preflight {
    /// The oldest Compose v2 the hardened compose files are tested with.
    public static let minimumCompose = "2.29.0"

    /// What the preflight found, reported by `install --json`.
    public struct Report: Codable, Sendable, Equatable {
        public var engineVersion: String
        public var composeVersion: String
        public var prefixFreeBytes: Int64?
        public var prefixNeededBytes: Int64
        public var dockerFreeBytes: Int64?
        public var dockerNeededBytes: Int64

        enum CodingKeys: String, CodingKey {
            case engineVersion = "engine_version"
            case composeVersion = "compose_version"
            case prefixFreeBytes = "prefix_free_bytes"
            case prefixNeededBytes = "prefix_needed_bytes"
            case dockerFreeBytes = "docker_free_bytes"
            case dockerNeededBytes = "docker_needed_bytes"
        }
    }

    /// True when `manifest` is the installed bundle (same name) at a lower version
    /// (numeric comparison of the dotted parts: 1.10.0 is newer than 1.9.0).
    public static func isDowngrade(from receipt: InstallationReceipt?, to manifest: Manifest) -> Bool {
        guard let receipt, receipt.name == manifest.name else { return false }
        return isVersion(receipt.version, newerThan: manifest.version)
    }

    /// Dotted versions compared part by part, digits as numbers (1.10.0 > 1.9.0), other
    /// text as text; a version with more parts is newer when the common parts are equal.
    static func isVersion(_ a: String, newerThan b: String) -> Bool {
        let left = a.split(separator: "."), right = b.split(separator: ".")
        for (x, y) in zip(left, right) where x != y {
            if let m = Int(x), let n = Int(y) { return m > n }
            return x > y
        }
        return left.count > right.count
    }

    /// Refuses an older version of the installed bundle unless the operator asked for
    /// it (TUF's rollback attack: a validly signed but old release replayed).
    /// - Throws: `InstallError.downgrade` (exit 2).
    public static func checkDowngrade(receipt: InstallationReceipt?, manifest: Manifest, allowed: Bool) throws {
        guard !allowed, isDowngrade(from: receipt, to: manifest), let receipt else { return }
        throw InstallError.downgrade(name: manifest.name, installed: receipt.version, offered: manifest.version)
    }

    /// Refuses to run without root.
    public static func checkRoot() throws {
        guard geteuid() == 0 else { throw InstallError.notRoot }
    }

    /// The engine's version and data root.
    /// - Throws: `InstallError.dockerUnreachable`.
    public static func checkEngine(_ engine: DockerEngine) throws -> DockerEngineInfo {
        do {
            return try engine.capabilities()
        } catch let error as CommandError {
            throw InstallError.dockerUnreachable(detail: error.message)
        } catch let error as DockerEngineError {
            if case .engineUnreachable(let detail) = error { throw InstallError.dockerUnreachable(detail: detail) }
            throw InstallError.dockerUnreachable(detail: error.message)
        }
    }

    /// The Compose v2 plugin's version, which must be >= `minimumCompose`.
    /// - Throws: `.composeV1Only`, `.composeMissing`, `.composeTooOld`.
    public static func checkCompose(_ engine: DockerEngine) throws -> String {
        guard let version = engine.composeVersion() else {
            if let legacy = engine.legacyComposeVersion(), legacy.hasPrefix("1.") {
                throw InstallError.composeV1Only(version: legacy)
            }
            throw InstallError.composeMissing(detail: "'docker compose version' failed")
        }
        if version.hasPrefix("1.") { throw InstallError.composeV1Only(version: version) }
        guard isVersion(version, atLeast: minimumCompose) else {
            throw InstallError.composeTooOld(version: version, minimum: minimumCompose)
        }
        return version
    }

    /// Numeric comparison of dotted versions (`2.40.3` >= `2.29.0`); suffixes after `-`/`+` are ignored.
    public static func isVersion(_ version: String, atLeast minimum: String) -> Bool {
        func numbers(_ text: String) -> [Int] {
            let core = text.split(whereSeparator: { $0 == "-" || $0 == "+" }).first.map(String.init) ?? text
            return core.split(separator: ".").map { Int($0) ?? 0 }
        }
        let a = numbers(version), b = numbers(minimum)
        for index in 0..<max(a.count, b.count) {
            let x = index < a.count ? a[index] : 0, y = index < b.count ? b[index] : 0
            if x != y { return x > y }
        }
        return true
    }

    /// Refuses a project that exists on this host but is not this bundle's under this
    /// prefix: its containers, networks or volumes carry other ownership labels, or its
    /// containers were created from another prefix's compose file.
    /// `networks`: every network of the engine (`DockerEngine.allNetworks()`), listed
    /// once for this check and `checkOverlap`.
    /// - Returns: true when the project has containers on this engine (all of them ours).
    public static func checkOwnership(plan: NetworkPlan, manifest: Manifest, layout: InstallationLayout,
                                      engine: DockerEngine, networks: [DockerNetwork]) throws -> Bool {
        let project = plan.project
        let bundlePrefix = "\(manifest.name)-"
        func ownedByUs(_ labels: [String: String]) -> Bool {
            guard labels[OwnershipLabels.project] == project else { return false }
            if let name = labels[OwnershipLabels.name] { return name == manifest.name }
            return labels[OwnershipLabels.bundle]?.hasPrefix(bundlePrefix) ?? false
        }
        func describe(_ labels: [String: String]) -> String {
            if let bundle = labels[OwnershipLabels.bundle] ?? labels[OwnershipLabels.name] { return "bundle '\(bundle)'" }
            return "a compose stack that is not a frostbyte bundle"
        }
        let prefixes = Set([layout.prefix, URL(fileURLWithPath: layout.prefix).resolvingSymlinksInPath().path].map { $0 + "/" })
        let ids = try engine.objectIDs(.container, label: OwnershipLabels.composeProject, value: project)
        for labels in try engine.containers(ids).map(\.config.labels) {
            guard ownedByUs(labels) else { throw InstallError.projectOwned(project: project, owner: describe(labels)) }
            if let files = labels["com.docker.compose.project.config_files"], !files.isEmpty,
               !prefixes.contains(where: { files.hasPrefix($0) }) {
                throw InstallError.projectOwned(project: project, owner: "the installation whose compose file is \(files)")
            }
        }
        for network in networks where network.labels[OwnershipLabels.composeProject] == project {
            guard ownedByUs(network.labels) else {
                throw InstallError.projectOwned(project: project, owner: "\(describe(network.labels)) (network \(network.name))")
            }
        }
        for (name, labels) in try engine.volumeLabels(label: OwnershipLabels.composeProject, value: project) {
            guard ownedByUs(labels) else {
                throw InstallError.projectOwned(project: project, owner: "\(describe(labels)) (volume \(name))")
            }
        }
        return !ids.isEmpty
    }

    /// Refuses a `--publish` address (`IPV4:PORT`) the gateway could not be published
    /// at: something on this host listens there already, or the address is not one of
    /// this host's. Skipped when the project already has containers, since its own
    /// gateway may hold the port (an upgrade, a re-run, a resumed install).
    /// - Throws: `InstallError.publishBusy`, `.publishAddressNotLocal` (exit 2).
    public static func checkPublish(_ publish: String?, projectHasContainers: Bool, timeout: Double = 20) throws {
        guard let publish, !projectHasContainers, let (address, port) = GatewayIngress.binding(publish: publish) else { return }
        switch HostFacts.tcpBindError(address: address, port: port) {
        case nil:
            return
        case EADDRNOTAVAIL?:
            throw InstallError.publishAddressNotLocal(publish: publish)
        case EADDRINUSE?:
            let holders = ((try? HostFacts.listeners(timeout: timeout)) ?? [])
                .filter { $0.proto == "tcp" && $0.port == Int(port) }.map(\.process)
            throw InstallError.publishBusy(publish: publish, holder: holders.first ?? "another process")
        default:
            return  // not a conflict this check can name; compose up reports it
        }
    }

    /// Refuses subnets that overlap a docker network of another project or a host route
    /// (routes through this project's own bridges are ignored: they are ours).
    /// `networks`: every network of the engine, as for `checkOwnership`.
    public static func checkOverlap(plan: NetworkPlan, networks: [DockerNetwork]) throws {
        let own = networks.filter { $0.labels[OwnershipLabels.composeProject] == plan.project }
        let ownBridges = Set(own.filter { $0.driver == "bridge" }.map(\.bridgeInterface))
        let routes = try HostProbe.routes()
        for planned in plan.networks {
            guard let subnet = IPv4Network(planned.subnet) else { continue }
            for network in networks where network.labels[OwnershipLabels.composeProject] != plan.project {
                for other in network.ipv4Subnets {
                    if let otherNet = IPv4Network(other), otherNet.overlaps(subnet) {
                        throw InstallError.subnetOverlaps(subnet: subnet.description, other: other, owner: "docker network '\(network.name)'")
                    }
                }
            }
            for route in routes where !ownBridges.contains(route.device) {
                guard let destination = IPv4Network(route.destination) ?? normalised(route.destination) else { continue }
                if destination.overlaps(subnet) {
                    throw InstallError.subnetOverlaps(subnet: subnet.description, other: route.destination, owner: "a host route via \(route.device)")
                }
            }
        }
    }

    /// A route destination with host bits set, masked to its network.
    private static func normalised(_ text: String) -> IPv4Network? {
        let parts = text.split(separator: "/")
        guard parts.count == 2, let address = IPv4Address(String(parts[0])), let length = Int(parts[1]),
              (0...32).contains(length) else { return nil }
        return IPv4Network(address: address, prefixLength: length)
    }

    /// Refuses when the prefix's filesystem cannot hold the extracted release, or the
    /// engine's data root cannot hold the images not yet loaded (both summed when they
    /// share a filesystem). Sizes come from the manifest: the files the bundle carries
    /// plus those a delta copies from its base (never the base's images), where a
    /// `streamed` bundle file counts only the image payload staged at once
    /// (`prefixBytes`), and the archives (v1) or carried blobs (v2) of the images not present.
    public static func checkSpace(
        manifest: Manifest, layout: InstallationLayout, dockerRootDir: String, releaseExists: Bool,
        streamed: Bool = false, isPresent: (Manifest.Image) -> Bool
    ) throws -> (prefixFree: Int64?, prefixNeeded: Int64, dockerFree: Int64?, dockerNeeded: Int64) {
        let margin: Int64 = 1 << 20
        let prefixNeeded = releaseExists ? 0 : prefixBytes(manifest, streamed: streamed) + margin
        let dockerNeeded = imageBytes(manifest, of: manifest.images.filter { !isPresent($0) })
        let prefixSpace = HostProbe.freeSpace(at: layout.prefix)
        let dockerSpace = HostProbe.freeSpace(at: dockerRootDir)
        if let prefixSpace, let dockerSpace, prefixSpace.device == dockerSpace.device {
            let needed = prefixNeeded + dockerNeeded
            if needed > prefixSpace.bytes {
                throw InstallError.notEnoughSpace(path: layout.prefix, needed: needed, available: prefixSpace.bytes)
            }
        } else {
            if let prefixSpace, prefixNeeded > prefixSpace.bytes {
                throw InstallError.notEnoughSpace(path: layout.prefix, needed: prefixNeeded, available: prefixSpace.bytes)
            }
            if let dockerSpace, dockerNeeded > dockerSpace.bytes {
                throw InstallError.notEnoughSpace(path: dockerRootDir, needed: dockerNeeded, available: dockerSpace.bytes)
            }
        }
        return (prefixSpace?.bytes, prefixNeeded, dockerSpace?.bytes, dockerNeeded)
    }

    /// The most the prefix holds at once while the release is extracted: with `streamed`
    /// (a bundle file, verified and extracted in one pass while its images load), the
    /// release's other files plus the image payload staged at once
    /// (`StagedPayload.peakBytes`, about the largest image); otherwise (a bundle folder,
    /// copied whole first) every file, `releaseBytes`.
    static func prefixBytes(_ manifest: Manifest, streamed: Bool) -> Int64 {
        guard streamed else { return releaseBytes(manifest) }
        let payload = Set(manifest.images.flatMap { StagedPayload.payload(of: $0, in: manifest) })
        let others = manifest.files.filter { ($0.isCarried || !BundleLayout.isImagesEntry($0.path)) && !payload.contains($0.path) }
        return others.reduce(Int64(0)) { $0 + $1.size } + StagedPayload.peakBytes(manifest)
    }

    /// The bytes of the extracted release: the files the bundle carries plus those a
    /// delta copies from its base (never the base's images).
    static func releaseBytes(_ manifest: Manifest) -> Int64 {
        manifest.files.filter { $0.isCarried || !BundleLayout.isImagesEntry($0.path) }
            .reduce(Int64(0)) { $0 + $1.size }
    }

    /// The bytes `docker load` reads for `images`: their v1 archives, or the v2 blobs
    /// the bundle carries for them (each blob once).
    static func imageBytes(_ manifest: Manifest, of images: [Manifest.Image]) -> Int64 {
        var sizes: [String: Int64] = [:]
        let carried = Set(manifest.files.filter(\.isCarried).map(\.path))
        for blob in manifest.blobs ?? [] where carried.contains(blob.path) { sizes[blob.digest] = blob.size }
        var counted: Set<String> = []
        var total: Int64 = 0
        for image in images {
            if let size = image.size { total += size; continue }
            for digest in [image.manifestDigest ?? "", image.digest] + (image.layers ?? [])
            where counted.insert(digest).inserted { total += sizes[digest] ?? 0 }
        }
        return total
    }
}
