/// The result of hardening a bundle's compose stack: the compose file bytes the
/// bundle carries, what was changed, and the facts MANIFEST.json records.
public struct RenderedStack: Sendable, Equatable {
    /// The hardened compose file (UTF-8 YAML, deterministic for the same inputs).
    public var composeYAML: [UInt8]
    /// Changes and notes, in source order (e.g. each removed `ports:`).
    public var warnings: [HardeningWarning]
    /// Default compose project name (the spec's `project`).
    public var project: String
    /// The networks the hardened file declares (compose keys; Docker names them
    /// `<project>_<name>`).
    public var networks: [Network]
    /// Service names in source order.
    public var services: [String]

    /// One network of the hardened stack, as MANIFEST.json's `compose.networks[]`.
    public struct Network: Sendable, Equatable, Codable {
        /// Compose key (the spec's `network.name`).
        public var name: String
        /// Default subnet (install may override it with `FROSTBYTE_SUBNET`).
        public var subnet: String
        /// Always true for bundles.
        public var `internal`: Bool
    }
}

/// Variables the hardened compose file interpolates, so the installer can choose
/// another project name, subnet or gateway address without changing the file
/// (its hash is part of the bundle). Compose must get the same values on every
/// invocation for one installation: they are part of Compose's network and
/// volume configuration hashes, and a changed volume hash makes Compose ask
/// "Recreate (data will be lost)?".
public enum ComposeVariables {
    /// Project name, used in `name:` and in the `io.frostbyte.project` labels.
    public static let project = "FROSTBYTE_PROJECT"
    /// The internal network's subnet (IPv4 CIDR).
    public static let subnet = "FROSTBYTE_SUBNET"
    /// The gateway service's fixed address.
    public static let gatewayIP = "FROSTBYTE_GATEWAY_IP"
    /// `com.docker.network.bridge.gateway_mode_ipv4` of the internal network:
    /// default `nat` on every engine (the bridge keeps its host address; engines
    /// before 27 ignore the option). `isolated` is not used: on Engine >= 28 it
    /// removes the bridge's host address (docs/TENANT_ISOLATION.md).
    public static let gatewayMode = "FROSTBYTE_GATEWAY_MODE_IPV4"
    /// Where the gateway's port is published on the host, `ADDRESS:PORT`
    /// (default `127.0.0.1:<gateway.port>`): Docker's own published-port machinery
    /// exposes the gateway there through the ingress network.
    public static let publish = "FROSTBYTE_PUBLISH"
    /// The ingress network's subnet (IPv4 CIDR, default `IngressNetwork.defaultSubnet`).
    public static let ingressSubnet = "FROSTBYTE_INGRESS_SUBNET"
    /// Host interface name of the internal network's bridge (empty: Docker's `br-<id>`).
    /// The installer names it so its firewall rules exist before the bridge does.
    public static let bridge = "FROSTBYTE_BRIDGE"
    /// Host interface name of the ingress network's bridge (empty: Docker's `br-<id>`).
    public static let ingressBridge = "FROSTBYTE_INGRESS_BRIDGE"

    /// `${NAME:-default}`, the interpolation form used in the hardened file.
    public static func reference(_ name: String, default value: String) -> String {
        "${\(name):-\(value)}"
    }
}

/// The gateway's second network: a non-internal bridge without IP masquerading that
/// only the gateway joins, so that Docker publishes the gateway's port on a host
/// address. It gives the gateway no egress only together with the installer's
/// firewall rules (`HostFirewall.ingressRules`): DOCKER-USER rejects new
/// connections from its bridge, INPUT rejects new connections from both bridges.
public enum IngressNetwork {
    /// The compose key of the ingress network (Docker names it `<project>_ingress`).
    public static let name = "ingress"
    /// Default subnet of the ingress network in the hardened file; the installer
    /// always passes its own (`--ingress-subnet`, else a free /29 of `autoBlock`).
    public static let defaultSubnet = "172.31.255.0/29"
    /// The block the installer picks a free /29 from when none is given.
    public static let autoBlock = "172.31.255.0/24"
    /// Labels the ingress network with its role (also readable without a manifest).
    public static let roleLabel = "io.frostbyte.network-role"
    public static let roleValue = "ingress"
    /// Bridge option that turns IP masquerading off; must be `"false"`.
    public static let masqueradeOption = "com.docker.network.bridge.enable_ip_masquerade"
    /// Bridge option that names the host interface.
    public static let bridgeNameOption = "com.docker.network.bridge.name"
}

/// Label keys the hardened file sets.
public enum BundleLabels {
    /// `<name>-<version>` on services (containers) only: a version on networks or
    /// volumes would change Compose's configuration hash on every upgrade.
    public static let bundle = "io.frostbyte.bundle"
    /// The bundle name, on services, networks and volumes.
    public static let name = "io.frostbyte.name"
    /// `${FROSTBYTE_PROJECT:-<project>}` on services, networks and volumes.
    public static let project = "io.frostbyte.project"
}

extension BundleSpec {
    /// The gateway address for the same host offset in `subnet`, for installs
    /// that override the subnet: 172.29.0.10 in 172.29.0.0/16 becomes 10.9.0.10
    /// in 10.9.0.0/24.
    /// - Throws: `SpecError.invalidValue` if the offset does not fit or lands on a
    ///   reserved address.
    public func gatewayAddress(in subnet: IPv4Network) throws -> IPv4Address {
        let offset = gateway.ipv4Address.value &- network.subnet.address.value
        let candidate = subnet.address(atOffset: offset)
        if UInt64(offset) >= subnet.size || BundleSpec.problem(withGatewayAddress: candidate, in: subnet) != nil {
            throw SpecError.invalidValue(
                path: "subnet", value: subnet.description,
                reason: "cannot hold the gateway at offset \(offset) (\(gateway.ipv4Address) in \(network.subnet)); choose a larger subnet",
                at: .synthesized)
        }
        return candidate
    }
}
