import FrostbyteCore

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
    /// default `nat` (ignored by engines before 27); set `isolated` on Engine >= 28
    /// so the bridge has no host address.
    public static let gatewayMode = "FROSTBYTE_GATEWAY_MODE_IPV4"

    /// `${NAME:-default}`, the interpolation form used in the hardened file.
    public static func reference(_ name: String, default value: String) -> String {
        "${\(name):-\(value)}"
    }
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
