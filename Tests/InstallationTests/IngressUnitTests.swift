import BundleFormat
import FrostbyteCrypto
import Foundation
@testable import InstallationState
@testable import Isolation
@testable import Installation
import Testing

/// The pure parts of the gateway's ingress: `--publish` and `--ingress-subnet`
/// parsing, the plan's publish address and subnet, `gateway_url`, bridge names and
/// the firewall rules, and the parser that recognises those rules in `iptables -S`.
@Suite("Install: ingress plan and rules")
struct IngressUnitTests {
    static func manifest(ingress: Bool = true) -> Manifest {
        var networks: [Manifest.Network] = [.init(name: "demo-internal", subnet: "172.29.0.0/16", internal: true)]
        if ingress { networks.append(.init(name: "ingress", subnet: "172.31.255.0/29", internal: false)) }
        return Manifest(
            name: "demo", version: "1.0.0", bundleId: "demo-1.0.0-abc", createdAt: "2026-01-01T00:00:00Z",
            builder: .init(name: "t", version: "1"),
            compose: .init(file: "docker-compose.yml", sha256: SHA256Hasher.hash(Data()), project: "frostbyte-demo",
                           networks: networks),
            gateway: .init(service: "gateway", ipv4Address: "172.29.0.10", port: 8080, healthPath: "/health"),
            files: [])
    }

    @Test(arguments: [("8443", "127.0.0.1:8443"), ("127.0.0.1:8080", "127.0.0.1:8080"),
                      ("0.0.0.0:8443", "0.0.0.0:8443"), ("192.0.2.10:8080", "192.0.2.10:8080")])
    func publishAccepted(text: String, expected: String) throws {
        #expect(try IngressPlan.parsePublish(text) == expected)
    }

    @Test(arguments: ["", "0", "65536", "80x", "localhost:80", "::1:80", "1.2.3:80", "1.2.3.4:", "01.2.3.4:80", ":80", "1.2.3.4:080"])
    func publishRefused(text: String) {
        do {
            let accepted = try IngressPlan.parsePublish(text)
            Issue.record("'\(text)' accepted as \(accepted)")
        } catch let error as InstallError {
            #expect(error.message.hasPrefix("--publish '\(text)'"), "\(error.message)")
            #expect(error.exitStatus == .badInput)
        } catch {
            Issue.record("unexpected error \(error)")
        }
    }

    @Test(arguments: ["8.8.8.0/29", "10.231.0.0/30", "10.231.0.1/29", "nonsense"])
    func ingressSubnetRefused(text: String) {
        #expect(throws: InstallError.self) { try IngressPlan.parseSubnet(text) }
    }

    @Test func planDefaultsToLoopbackAndKeepsTheInstalledValues() throws {
        let fresh = try NetworkPlan.make(manifest: Self.manifest(), project: "t1", subnet: nil, receipt: nil, layout: .init(prefix: "/p"))
        #expect(fresh.publish == "127.0.0.1:8080")
        #expect(fresh.ingressSubnet == nil, "chosen later from the host's free space")
        #expect(fresh.ingressIndex == 1)

        let asked = try NetworkPlan.make(manifest: Self.manifest(), project: "t1", subnet: nil, publish: "0.0.0.0:8443",
                                         ingressSubnet: "10.231.7.0/29", receipt: nil, layout: .init(prefix: "/p"))
        #expect(asked.publish == "0.0.0.0:8443" && asked.ingressSubnet == "10.231.7.0/29")
        #expect(asked.networks[1].subnet == "10.231.7.0/29")

        let receipt = InstallationReceipt(bundleId: "demo-0.9.0-x", name: "demo", version: "0.9.0", project: "t1",
                                          subnet: "10.214.6.0/24", gatewayIP: "10.214.6.10", installedAt: "", images: [:],
                                          publish: "192.0.2.10:8080", ingressSubnet: "10.231.8.0/29")
        let upgrade = try NetworkPlan.make(manifest: Self.manifest(), project: nil, subnet: nil, receipt: receipt, layout: .init(prefix: "/p"))
        #expect(upgrade.publish == "192.0.2.10:8080" && upgrade.ingressSubnet == "10.231.8.0/29")

        // A release without an ingress network publishes nothing and needs no rules.
        let old = try NetworkPlan.make(manifest: Self.manifest(ingress: false), project: "t1", subnet: nil, receipt: nil, layout: .init(prefix: "/p"))
        #expect(old.publish == nil && old.ingressIndex == nil)
    }

    @Test func gatewayURL() {
        #expect(GatewayIngress.url(publish: "127.0.0.1:8080") == "http://127.0.0.1:8080")
        #expect(GatewayIngress.url(publish: "0.0.0.0:8443") == "http://127.0.0.1:8443", "a wildcard binding is reached on loopback")
        #expect(GatewayIngress.url(publish: "192.0.2.10:8080") == "http://192.0.2.10:8080")
        let legacy = InstallationReceipt(bundleId: "b", name: "demo", version: "1", project: "p", subnet: "10.0.0.0/24",
                                         gatewayIP: "10.0.0.10", installedAt: "", images: [:])
        #expect(GatewayIngress.url(receipt: legacy, gateway: Self.manifest().gateway) == "http://10.0.0.10:8080")
        #expect(IsolationTarget.hostAndPort(of: "http://127.0.0.1:8443")! == ("127.0.0.1", 8443))
    }

    @Test func bridgeNamesAndRules() {
        let names = GatewayIngress.bridgeNames(project: "a-very-long-project-name-for-a-tenant")
        #expect(names.internal.count <= 15 && names.ingress.count <= 15, "kernel interface names are at most 15 characters")
        #expect(names.internal.hasPrefix("fb") && names.internal.hasSuffix("n") && names.ingress.hasSuffix("i"))
        #expect(GatewayIngress.bridgeNames(project: "a") != GatewayIngress.bridgeNames(project: "b"))
        let environment = InstalledStack.environment(project: "t1", subnet: "10.0.0.0/24", gatewayIP: nil,
                                                     publish: "127.0.0.1:9", ingressSubnet: "10.1.0.0/29")
        #expect(environment["FROSTBYTE_BRIDGE"] == GatewayIngress.bridgeNames(project: "t1").internal)
        #expect(environment["FROSTBYTE_PUBLISH"] == "127.0.0.1:9" && environment["FROSTBYTE_INGRESS_SUBNET"] == "10.1.0.0/29")

        let rules = HostFirewall.projectRules(project: "t1", internalNetwork: "demo-internal")
        let t1 = GatewayIngress.bridgeNames(project: "t1")
        #expect(rules.map { "\($0.chain) \($0.bridge)" } == ["INPUT \(t1.internal)", "INPUT \(t1.ingress)", "DOCKER-USER \(t1.ingress)"])
        #expect(rules.allSatisfy { $0.args.contains("NEW") && $0.args.last == "icmp-admin-prohibited" })

        // The parser recognises exactly these rules, chain by chain.
        let listing = rules.map { "-A \($0.chain) " + $0.args.map { $0.contains(" ") ? "\"\($0)\"" : $0 }.joined(separator: " ") }
            .joined(separator: "\n") + "\n-A DOCKER-USER -i br-x -p tcp --dport 53 -j DROP\n-A DOCKER-USER -i br-y -o br-z -j DROP\n"
        #expect(FirewallFacts.guardedBridges(listing) == [t1.internal, t1.ingress])
        #expect(FirewallFacts.guardedBridges(listing, chain: "DOCKER-USER") == [t1.ingress], "port- or output-restricted rules do not guard")
    }
}
