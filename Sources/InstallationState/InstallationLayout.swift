import FoundationEssentials
import Glibc

/// The folders and files of one installation under `--prefix` (one prefix holds one
/// compose project). Paths only; creating and switching them is the installer's job.
public struct InstallationLayout: Sendable, Equatable {
    /// The default prefix of the command contract.
    public static let defaultPrefix = "/opt/frostbyte"

    public let prefix: String

    public init(prefix: String = InstallationLayout.defaultPrefix) {
        self.prefix = prefix.hasSuffix("/") && prefix.count > 1 ? String(prefix.dropLast()) : prefix
    }

    /// `releases/`: one verified, extracted bundle per subfolder named by bundle_id.
    public var releases: String { "\(prefix)/releases" }
    /// The folder of one release.
    public func release(_ bundleId: String) -> String { "\(releases)/\(bundleId)" }
    /// `current`: symlink to the active release (`releases/<bundle_id>`).
    public var current: String { "\(prefix)/current" }
    /// `state/`: journal, lock, receipt, firewall rules.
    public var state: String { "\(prefix)/state" }
    /// The receipt of the active installation.
    public var receipt: String { "\(state)/receipt.json" }
    /// `evidence/`: isolation evidence documents.
    public var evidence: String { "\(prefix)/evidence" }
    /// `secrets/.env` (0600), generated once.
    public var secretsEnv: String { "\(prefix)/secrets/.env" }
}

/// What an installation is, written atomically to `state/receipt.json` when a release
/// becomes `current`. status, check-isolation, uninstall and export read it.
public struct InstallationReceipt: Codable, Sendable, Equatable {
    public var bundleId: String
    public var name: String
    public var version: String
    /// Compose project name on this host.
    public var project: String
    /// The internal network's subnet on this host (the bundle's, or `--subnet`).
    public var subnet: String
    /// The gateway's fixed IPv4 address on this host.
    public var gatewayIP: String?
    /// ISO 8601 UTC time the release became current.
    public var installedAt: String
    /// Image reference → image ID as loaded.
    public var images: [String: String]
    /// SHA-256 of the isolation evidence document of the install.
    public var evidenceSHA256: String?
    /// Path of that evidence document.
    public var evidencePath: String?
    /// The release that was current before this one (for rollback), if any.
    public var previousBundleId: String?
    /// Where the gateway is published on the host, `ADDRESS:PORT` (`install
    /// --publish`); nil for releases without an ingress network.
    public var publish: String?
    /// The ingress network's subnet on this host; nil as for `publish`.
    public var ingressSubnet: String?

    public init(
        bundleId: String, name: String, version: String, project: String, subnet: String,
        gatewayIP: String?, installedAt: String, images: [String: String],
        evidenceSHA256: String? = nil, evidencePath: String? = nil, previousBundleId: String? = nil,
        publish: String? = nil, ingressSubnet: String? = nil
    ) {
        self.bundleId = bundleId; self.name = name; self.version = version; self.project = project
        self.subnet = subnet; self.gatewayIP = gatewayIP; self.installedAt = installedAt
        self.images = images; self.evidenceSHA256 = evidenceSHA256; self.evidencePath = evidencePath
        self.previousBundleId = previousBundleId; self.publish = publish; self.ingressSubnet = ingressSubnet
    }

    enum CodingKeys: String, CodingKey {
        case name, version, project, subnet, images, publish
        case bundleId = "bundle_id"
        case ingressSubnet = "ingress_subnet"
        case gatewayIP = "gateway_ip"
        case installedAt = "installed_at"
        case evidenceSHA256 = "evidence_sha256"
        case evidencePath = "evidence_path"
        case previousBundleId = "previous_bundle_id"
    }

    /// Reads the receipt of the installation at `layout`; nil when nothing is installed.
    public static func load(_ layout: InstallationLayout) throws -> InstallationReceipt? {
        guard FileManager.default.fileExists(atPath: layout.receipt) else { return nil }
        let data = try Data(contentsOf: URL(fileURLWithPath: layout.receipt))
        return try JSONDecoder().decode(InstallationReceipt.self, from: data)
    }
}
