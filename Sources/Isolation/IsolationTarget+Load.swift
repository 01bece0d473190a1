import FrostbyteCore
import BundleFormat
import Stack
import InstallationState
import FoundationEssentials
import Glibc

extension IsolationTarget {
    /// Compose v2 accepts project names matching this pattern only.
    static func isValidProjectName(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, !name.isEmpty else { return false }
        let lowerOrDigit: (Unicode.Scalar) -> Bool = { ("a"..."z").contains($0) || ("0"..."9").contains($0) }
        return lowerOrDigit(first) && name.unicodeScalars.allSatisfy { lowerOrDigit($0) || $0 == "_" || $0 == "-" }
    }

    /// The installation at `prefix`: `current/MANIFEST.json` for the networks, the
    /// gateway and the image IDs; `state/receipt.json` for the project name, the
    /// subnet and gateway address actually used on this host and the loaded image
    /// IDs (the receipt wins where both speak).
    /// - Throws: `IsolationError.notInstalled` when the manifest is missing,
    ///   `IsolationError.unreadableInstallation` when a file cannot be decoded.
    public static func load(prefix: String) throws -> IsolationTarget {
        let layout = InstallationLayout(prefix: prefix)
        let manifestPath = "\(layout.current)/MANIFEST.json"
        guard FileManager.default.fileExists(atPath: manifestPath) else {
            throw IsolationError.notInstalled(prefix: layout.prefix, missing: "current/MANIFEST.json")
        }
        let manifest: Manifest
        do {
            manifest = try ManifestCoding.decodeManifest(Data(contentsOf: URL(fileURLWithPath: manifestPath)))
        } catch let error as UserFacingError {
            throw IsolationError.unreadableInstallation(path: manifestPath, detail: error.message)
        }
        let receipt: InstallationReceipt?
        do {
            receipt = try InstallationReceipt.load(layout)
        } catch {
            throw IsolationError.unreadableInstallation(path: layout.receipt, detail: "\(error)")
        }
        guard let project = receipt?.project ?? manifest.compose?.project else {
            throw IsolationError.unreadableInstallation(
                path: manifestPath, detail: "neither the receipt nor the manifest names the compose project")
        }
        return IsolationTarget(manifest: manifest, receipt: receipt, project: project, prefix: layout.prefix)
    }

    /// Combines a manifest and (optionally) a receipt; the receipt's subnet replaces
    /// the first internal network's and its gateway address the manifest's.
    public init(manifest: Manifest, receipt: InstallationReceipt?, project: String, prefix: String?) {
        var networks = manifest.compose?.networks ?? []
        if let subnet = receipt?.subnet, !subnet.isEmpty,
           let index = networks.firstIndex(where: \.internal) ?? networks.indices.first {
            networks[index].subnet = subnet
        }
        if let subnet = receipt?.ingressSubnet,
           let index = networks.firstIndex(where: { !$0.internal && $0.name == IngressNetwork.name }) {
            networks[index].subnet = subnet
        }
        self.init(
            manifest: manifest, project: project, prefix: prefix, networks: networks,
            gatewayIP: receipt?.gatewayIP, loadedImages: receipt?.images ?? [:],
            bundleId: receipt?.bundleId, publish: receipt?.publish)
    }

    /// The target for a release that is up but not yet `current` (the installer's
    /// isolation step): the manifest of the release, the networks with the subnets
    /// they got on this host, the gateway's address there and the image IDs as loaded.
    /// - Parameters:
    ///   - networks: the networks as planned on this host; nil keeps the manifest's.
    ///   - gatewayIP: the gateway's address on this host; nil keeps the manifest's.
    ///   - loadedImages: image reference → ID from `docker load`; wins over the manifest.
    ///   - publish: where the installation publishes the gateway (`ADDRESS:PORT`).
    public init(
        manifest: Manifest, project: String, prefix: String?, networks: [Manifest.Network]? = nil,
        gatewayIP: String? = nil, loadedImages: [String: String] = [:], bundleId: String? = nil,
        publish: String? = nil
    ) {
        let expected = (networks ?? manifest.compose?.networks ?? []).map {
            ExpectedNetwork(name: $0.name, subnet: $0.subnet, internal: $0.internal)
        }
        var gateway = manifest.gateway
        if let gatewayIP, !gatewayIP.isEmpty { gateway?.ipv4Address = gatewayIP }
        var images: [String: String] = [:]
        for image in manifest.images { images[image.name] = image.digest }
        for (name, id) in loadedImages { images[name] = id }
        self.init(
            project: project, bundleId: bundleId ?? manifest.bundleId, prefix: prefix,
            networks: expected, gateway: gateway, expectedImages: images, hasManifest: true, publish: publish)
    }

    /// A project known only by name: networks, containers and images are taken from
    /// live Docker state at run time, with no manifest to compare them against.
    /// - Throws: `IsolationError.invalidProjectName`.
    public static func discover(project: String) throws -> IsolationTarget {
        guard isValidProjectName(project) else { throw IsolationError.invalidProjectName(project) }
        return IsolationTarget(project: project)
    }
}
