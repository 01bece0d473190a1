import BundleFormat
import FoundationEssentials
import Glibc

/// How an installed release's compose project is described on this host: one place
/// that turns a release folder, the project, subnet and gateway address into the
/// compose file, env file and FROSTBYTE_* variables the hardened compose file
/// interpolates. Only a description of what is on disk: whoever drives compose
/// (install, rollback, status, uninstall in Installation; export in Export) hands it
/// to Engine's `ComposeDriver`, so they all drive the stack the same way.
public struct InstalledStack: Sendable, Equatable {
    public var project: String
    /// The release's compose file (absolute).
    public var composeFile: String
    /// The installation's secrets env file.
    public var envFile: String
    /// The FROSTBYTE_* variables (see `environment(project:subnet:gatewayIP:publish:ingressSubnet:)`).
    public var environment: [String: String]

    /// The project of the release in `folder` (its MANIFEST.json names the compose
    /// file; `docker-compose.yml` when it cannot be read).
    public init(releaseFolder folder: String, project: String, subnet: String, gatewayIP: String?,
                publish: String? = nil, ingressSubnet: String? = nil, layout: InstallationLayout) {
        let manifest = FileManager.default.contents(atPath: "\(folder)/MANIFEST.json")
            .flatMap { try? ManifestCoding.decodeManifest($0) }
        let file = manifest?.compose?.file ?? "docker-compose.yml"
        self.project = project
        composeFile = "\(folder)/\(file)"
        envFile = layout.secretsEnv
        environment = Self.environment(project: project, subnet: subnet, gatewayIP: gatewayIP,
                                       publish: publish, ingressSubnet: ingressSubnet)
    }

    /// The project of the installed release a receipt describes.
    public init(for receipt: InstallationReceipt, layout: InstallationLayout) {
        self.init(releaseFolder: layout.release(receipt.bundleId), project: receipt.project, subnet: receipt.subnet,
                  gatewayIP: receipt.gatewayIP, publish: receipt.publish, ingressSubnet: receipt.ingressSubnet,
                  layout: layout)
    }

    /// The FROSTBYTE_* variables of the hardened compose file. The internal bridge
    /// keeps its host address on every engine (gateway mode `nat`); the bridges get
    /// the names of `GatewayIngress.bridgeNames`, so the installer's firewall rules
    /// (INPUT for both bridges, DOCKER-USER for the ingress bridge) are in place
    /// before they exist; the gateway is published on `publish` through the ingress
    /// network (docs/TENANT_ISOLATION.md). Compose ignores variables a release's
    /// file does not use.
    public static func environment(project: String, subnet: String, gatewayIP: String?,
                                   publish: String? = nil, ingressSubnet: String? = nil) -> [String: String] {
        let bridges = GatewayIngress.bridgeNames(project: project)
        var environment = ["FROSTBYTE_PROJECT": project, "FROSTBYTE_SUBNET": subnet,
                           "FROSTBYTE_BRIDGE": bridges.internal, "FROSTBYTE_INGRESS_BRIDGE": bridges.ingress]
        if let gatewayIP { environment["FROSTBYTE_GATEWAY_IP"] = gatewayIP }
        if let publish { environment["FROSTBYTE_PUBLISH"] = publish }
        if let ingressSubnet { environment["FROSTBYTE_INGRESS_SUBNET"] = ingressSubnet }
        return environment
    }
}
