import FrostbyteCrypto
import BundleFormat
import Stack
import Engine
import InstallationState
import Isolation
import FoundationEssentials
import Glibc

/// The ingress side of an install: the operator's `--publish` and `--ingress-subnet`,
/// the ingress subnet chosen when none is given, and the firewall rules that keep
/// the project's bridges from reaching anything outside the project.
public enum IngressPlan {
    /// `PORT` (published on 127.0.0.1) or `IPV4:PORT` → `ADDRESS:PORT`.
    /// - Throws: `InstallError.invalidPublish` (exit 2).
    public static func parsePublish(_ text: String) throws -> String {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        guard parts.count <= 2 else { throw InstallError.invalidPublish(text: text, reason: "has more than one ':' (IPv6 is not supported)") }
        let portText = parts.last ?? ""
        guard let port = Int(portText), (1...65535).contains(port), String(port) == portText else {
            throw InstallError.invalidPublish(text: text, reason: "has no port between 1 and 65535")
        }
        guard parts.count == 2 else { return "127.0.0.1:\(port)" }
        guard let address = IPv4Address(parts[0]) else {
            throw InstallError.invalidPublish(text: text, reason: "has no valid IPv4 address before the ':'")
        }
        return "\(address):\(port)"
    }

    /// Validates `--ingress-subnet`: strict private IPv4 CIDR, /29 or larger.
    /// - Throws: `InstallError.invalidIngressSubnet` (exit 2).
    public static func parseSubnet(_ text: String) throws -> String {
        switch IPv4Network.parse(text) {
        case .failure(let problem): throw InstallError.invalidIngressSubnet(text: text, reason: problem.description)
        case .success(let network):
            guard network.privateBlock != nil else {
                throw InstallError.invalidIngressSubnet(text: text, reason: "is not inside 10.0.0.0/8, 172.16.0.0/12 or 192.168.0.0/16")
            }
            guard network.prefixLength <= 29 else {
                throw InstallError.invalidIngressSubnet(text: text, reason: "is too small; use a /29 or larger")
            }
            return network.description
        }
    }

    /// Gives a plan without an ingress subnet one: the project's own network keeps
    /// its subnet (Docker's live network with the ingress role), else the first /29
    /// of `IngressNetwork.autoBlock` that no docker network and no host route uses,
    /// starting at an offset taken from the project name (so installs started at
    /// the same time rarely pick the same one). `Preflight.checkOverlap` checks the
    /// result like every other planned subnet.
    /// - Throws: `InstallError.noFreeIngressSubnet`.
    public static func chooseSubnet(_ plan: inout NetworkPlan, networks: [DockerNetwork]) throws {
        guard let index = plan.ingressIndex, plan.ingressSubnet == nil else { return }
        if let own = networks.first(where: {
            $0.labels[OwnershipLabels.composeProject] == plan.project && $0.labels[IngressNetwork.roleLabel] == IngressNetwork.roleValue
        }), let subnet = own.ipv4Subnets.first {
            plan.ingressSubnet = subnet
        } else {
            guard let block = IPv4Network(IngressNetwork.autoBlock) else { throw InstallError.noFreeIngressSubnet(block: IngressNetwork.autoBlock) }
            var used = networks.flatMap(\.ipv4Subnets).compactMap { IPv4Network($0) }
            used += try HostProbe.routes().compactMap { IPv4Network($0.destination) }
            let count = Int(block.size / 8)
            let start = Int(SHA256Hasher.hash(Data(plan.project.utf8)).hex.prefix(4), radix: 16)! % count
            let free = (0..<count).lazy.map { (start + $0) % count }
                .compactMap { IPv4Network("\(block.address(atOffset: UInt32($0 * 8)))/29") }
                .first { candidate in !used.contains { $0.overlaps(candidate) } }
            guard let free else { throw InstallError.noFreeIngressSubnet(block: IngressNetwork.autoBlock) }
            plan.ingressSubnet = free.description
        }
        plan.networks[index].subnet = plan.ingressSubnet!
    }

    /// Inserts (unless present) and records under the prefix the rules that keep the
    /// project's bridges from reaching anything outside the project: INPUT rejects new
    /// connections from the internal and the ingress bridge to the host,
    /// DOCKER-USER rejects new connections the ingress bridge would forward. The
    /// bridges are named by `GatewayIngress.bridgeNames`, so this runs before
    /// `compose up` creates them. Nothing for a release without an ingress network.
    /// - Throws: `IsolationError.firewall` (exit 3) when iptables refuses.
    public static func applyFirewall(_ plan: NetworkPlan, layout: InstallationLayout) throws {
        guard plan.publish != nil, let internalNetwork = plan.networks.first(where: \.internal) else { return }
        for rule in HostFirewall.projectRules(project: plan.project, internalNetwork: internalNetwork.name) {
            try HostFirewall.apply(rule, prefix: layout.prefix)
        }
    }
}
