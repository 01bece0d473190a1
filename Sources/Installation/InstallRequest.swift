import BundleFormat
import Engine
import InstallationState
import FoundationEssentials
import Glibc

/// What the operator asked `install` to do.
public struct InstallRequest: Sendable {
    /// The bundle: a `.tar.zst`/`.tar` file or an extracted bundle folder.
    public var bundlePath: String
    /// Paths of trusted public keys (`--trust`).
    public var trustKeyPaths: [String]
    public var allowUnsigned: Bool
    public var layout: InstallationLayout
    /// `--project`; nil keeps the installed one or the bundle's default.
    public var project: String?
    /// `--subnet`; nil keeps the installed one or the bundle's default.
    public var subnet: String?
    /// Seconds allowed for compose up and for every service to become healthy.
    public var timeout: Double
    /// `--publish [ADDRESS:]PORT`; nil keeps the installed one, else 127.0.0.1 and the gateway's port.
    public var publish: String?
    /// `--ingress-subnet`; nil keeps the installed one, else a free /29 is chosen.
    public var ingressSubnet: String?
    /// `--allow-downgrade`: install a release of the installed bundle with a lower version.
    public var allowDowngrade: Bool

    public init(bundlePath: String, trustKeyPaths: [String] = [], allowUnsigned: Bool = false,
                layout: InstallationLayout = InstallationLayout(), project: String? = nil,
                subnet: String? = nil, timeout: Double = 300, publish: String? = nil, ingressSubnet: String? = nil,
                allowDowngrade: Bool = false) {
        self.bundlePath = bundlePath; self.trustKeyPaths = trustKeyPaths; self.allowUnsigned = allowUnsigned
        self.layout = layout; self.project = project; self.subnet = subnet; self.timeout = timeout
        self.publish = publish; self.ingressSubnet = ingressSubnet; self.allowDowngrade = allowDowngrade
    }

    /// Checks the request itself, before anything on the host is looked at.
    /// - Throws: `InstallError` (bad input) or `SigningError` for an unreadable key.
    func validate() throws -> [TrustedKey] {
        if !trustKeyPaths.isEmpty && allowUnsigned { throw InstallError.trustAndUnsigned }
        if trustKeyPaths.isEmpty && !allowUnsigned { throw InstallError.trustRequired }
        guard timeout > 0, timeout.isFinite else { throw InstallError.invalidTimeout(seconds: timeout) }
        if let project, !NetworkPlan.isValidProject(project) { throw InstallError.invalidProject(name: project) }
        if let subnet { _ = try NetworkPlan.parseSubnet(subnet) }
        if let publish { _ = try IngressPlan.parsePublish(publish) }
        if let ingressSubnet { _ = try IngressPlan.parseSubnet(ingressSubnet) }
        // A .tar.zst/.tar file, or an extracted bundle folder.
        guard FileManager.default.fileExists(atPath: bundlePath),
              FileManager.default.isReadableFile(atPath: bundlePath) else {
            throw InstallError.bundleNotFound(path: bundlePath)
        }
        return try trustKeyPaths.map { try TrustedKey(contentsOf: $0) }
    }
}

/// What an install did, printed by `install --json`.
public struct InstallResult: Codable, Sendable {
    /// installed (first install), upgraded, rolled-back (an earlier release, by hand), unchanged.
    public var action: String
    public var bundleId: String
    public var project: String
    public var subnet: String
    public var gatewayIP: String?
    /// Where the host reaches the gateway (`http://127.0.0.1:8080`).
    public var gatewayURL: String?
    /// The gateway's host binding (`ADDRESS:PORT`), when the release publishes it.
    public var publish: String?
    public var previousBundleId: String?
    public var resumed: Bool
    public var imagesLoaded: [String]
    public var images: [String: String]
    public var migrationsApplied: [String]
    public var services: [ServiceState]
    public var evidencePath: String?
    public var evidenceSHA256: String?
    public var preflight: Preflight.Report
    /// Seconds spent per step (verify_extract, load, compose_up, health, migrations, isolation, total).
    public var timings: [String: Double]

    enum CodingKeys: String, CodingKey {
        case action, project, subnet, resumed, images, services, preflight, timings
        case bundleId = "bundle_id"
        case gatewayIP = "gateway_ip"
        case gatewayURL = "gateway_url"
        case publish
        case previousBundleId = "previous_bundle_id"
        case imagesLoaded = "images_loaded"
        case migrationsApplied = "migrations_applied"
        case evidencePath = "evidence_path"
        case evidenceSHA256 = "evidence_sha256"
    }
}
