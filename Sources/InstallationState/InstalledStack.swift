import FrostbyteCore
import BundleFormat
import Engine
import FoundationEssentials
import Glibc

/// How an installed release's compose project is driven on this host: one place
/// that turns a release folder, the project, subnet and gateway address into a
/// `ComposeDriver` with the FROSTBYTE_* variables the hardened compose file
/// interpolates. Install, rollback, status, uninstall and export all use it, so they
/// drive the stack the same way.
public enum InstalledStack {
    /// The compose driver for the release in `folder` (its MANIFEST.json names the
    /// compose file; `docker-compose.yml` when it cannot be read).
    public static func compose(
        releaseFolder folder: String, project: String, subnet: String, gatewayIP: String?,
        publish: String? = nil, ingressSubnet: String? = nil,
        layout: InstallationLayout, engine: DockerEngine = DockerEngine()
    ) -> ComposeDriver {
        let manifest = FileManager.default.contents(atPath: "\(folder)/MANIFEST.json")
            .flatMap { try? ManifestCoding.decodeManifest($0) }
        let file = manifest?.compose?.file ?? "docker-compose.yml"
        return ComposeDriver(engine: engine, project: project, composeFile: "\(folder)/\(file)",
                             envFile: layout.secretsEnv,
                             environment: environment(project: project, subnet: subnet, gatewayIP: gatewayIP,
                                                      publish: publish, ingressSubnet: ingressSubnet))
    }

    /// The compose driver of the installed release a receipt describes.
    public static func compose(for receipt: InstallationReceipt, layout: InstallationLayout,
                               engine: DockerEngine = DockerEngine()) -> ComposeDriver {
        compose(releaseFolder: layout.release(receipt.bundleId), project: receipt.project, subnet: receipt.subnet,
                gatewayIP: receipt.gatewayIP, publish: receipt.publish, ingressSubnet: receipt.ingressSubnet,
                layout: layout, engine: engine)
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
