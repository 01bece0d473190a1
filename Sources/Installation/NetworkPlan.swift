import BundleFormat
import Stack
import InstallationState
import FoundationEssentials
import Glibc

/// The project name, subnet and gateway address one installation uses on this host:
/// the bundle's defaults, overridden by `--project` / `--subnet`, and on an upgrade the
/// values already installed under the prefix (one prefix holds one project).
public struct NetworkPlan: Sendable, Equatable {
    public var project: String
    /// The subnet of the bundle's primary network (the gateway's) on this host.
    public var subnet: String
    /// The gateway's fixed address in `subnet` (same offset as in the bundle).
    public var gatewayIP: String?
    /// Every network of the bundle with the subnet it gets on this host.
    public var networks: [Manifest.Network]
    /// Where the gateway is published on the host (`ADDRESS:PORT`); nil for a
    /// release without an ingress network.
    public var publish: String?
    /// The ingress network's subnet on this host; nil until `IngressPlan.chooseSubnet`
    /// picks one, and for a release without an ingress network.
    public var ingressSubnet: String?

    /// Compose v2 accepts only these project names.
    public static func isValidProject(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, isLowerAlnum(first) else { return false }
        return name.unicodeScalars.allSatisfy { isLowerAlnum($0) || $0 == "_" || $0 == "-" }
    }

    private static func isLowerAlnum(_ scalar: Unicode.Scalar) -> Bool {
        ("a"..."z").contains(scalar) || ("0"..."9").contains(scalar)
    }

    /// Validates `--subnet` syntax and privacy without looking at the host.
    public static func parseSubnet(_ text: String) throws -> IPv4Network {
        switch IPv4Network.parse(text) {
        case .failure(let problem): throw InstallError.invalidSubnet(text: text, reason: problem.description)
        case .success(let network):
            guard network.privateBlock != nil else { throw InstallError.subnetNotPrivate(subnet: text) }
            guard network.prefixLength <= 29 else {
                throw InstallError.invalidSubnet(text: text, reason: "is too small; use a /29 or larger")
            }
            return network
        }
    }

    /// Works out the plan.
    /// - Throws: `InstallError` (bad input) for an invalid project or subnet, a prefix
    ///   that holds another project, or a gateway offset that does not fit.
    public static func make(
        manifest: Manifest, project requestedProject: String?, subnet requestedSubnet: String?,
        publish requestedPublish: String? = nil, ingressSubnet requestedIngressSubnet: String? = nil,
        receipt: InstallationReceipt?, layout: InstallationLayout
    ) throws -> NetworkPlan {
        guard let compose = manifest.compose else { throw InstallError.bundleLacks(field: "compose") }
        let project = requestedProject ?? receipt?.project ?? compose.project
        guard isValidProject(project) else { throw InstallError.invalidProject(name: project) }
        if let receipt, receipt.project != project {
            throw InstallError.prefixHoldsOtherProject(prefix: layout.prefix, project: receipt.project)
        }
        guard !compose.networks.isEmpty else { throw InstallError.bundleLacks(field: "compose.networks") }

        let gatewayAddress = manifest.gateway.flatMap { IPv4Address($0.ipv4Address) }
        let primaryIndex = compose.networks.firstIndex { network in
            guard let gatewayAddress, let subnet = IPv4Network(network.subnet) else { return false }
            return subnet.contains(gatewayAddress)
        } ?? 0
        let bundleSubnetText = compose.networks[primaryIndex].subnet
        guard let bundleSubnet = IPv4Network(bundleSubnetText) else {
            throw InstallError.bundleLacks(field: "compose.networks[\(primaryIndex)].subnet as a CIDR")
        }
        let subnetText = requestedSubnet ?? receipt?.subnet ?? bundleSubnetText
        let subnet = try parseSubnet(subnetText)

        var gatewayIP: String?
        if let gatewayAddress {
            let offset = gatewayAddress.value &- bundleSubnet.address.value
            guard offset >= 2, UInt64(offset) < subnet.size - 1 else {
                throw InstallError.gatewayDoesNotFit(gateway: gatewayAddress.description, subnet: subnet.description)
            }
            gatewayIP = subnet.address(atOffset: offset).description
        }
        var networks = compose.networks
        networks[primaryIndex].subnet = subnet.description
        var plan = NetworkPlan(project: project, subnet: subnet.description, gatewayIP: gatewayIP, networks: networks)
        if let gateway = manifest.gateway, plan.ingressIndex != nil {
            plan.publish = requestedPublish ?? receipt?.publish ?? "127.0.0.1:\(gateway.port)"
            plan.ingressSubnet = requestedIngressSubnet ?? receipt?.ingressSubnet
            if let chosen = plan.ingressSubnet { plan.networks[plan.ingressIndex!].subnet = chosen }
        }
        return plan
    }

    /// The index in `networks` of the gateway's ingress network (not internal).
    public var ingressIndex: Int? {
        networks.firstIndex { !$0.internal && $0.name == IngressNetwork.name }
    }
}
