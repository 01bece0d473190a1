import Testing
@testable import Isolation

/// The Swarm gateway's node rules (`SwarmGatewayFirewall`): which rules, keyed to
/// their stack so one stack's are never taken for another's. The rules' effect is
/// proven on the test bed (IntegrationTests' SwarmIsolationTests).
@Suite("Swarm gateway firewall rules")
struct SwarmGatewayFirewallTests {
    @Test func publishedOnOneAddressGivesPortAndEgressRules() {
        let rules = SwarmGatewayFirewall.rules(stack: "shop", publish: "127.0.0.1:8080")
        #expect(rules.map { "\($0.family) \($0.chain)" } == [
            "ipv4 INPUT", "ipv4 DOCKER-USER", "ipv4 OUTPUT", "ipv6 INPUT", "ipv4 DOCKER-USER", "ipv4 INPUT",
        ])
        let forward = rules[1].args.joined(separator: " ")
        #expect(forward.contains("-o docker_gwbridge") && forward.contains("--ctorigdstport 8080 ! --ctorigdst 127.0.0.1"))
        // OUTPUT cannot match the output device (still lo there after the DNAT).
        #expect(!rules[2].args.contains("-o"))
        #expect(rules[4].args.starts(with: ["-i", "docker_gwbridge"]))
        #expect(rules.allSatisfy { $0.purpose != nil && $0.args.last == ($0.family == "ipv6" ? "icmp6-adm-prohibited" : "icmp-admin-prohibited") })
    }

    @Test func publishedOnEveryAddressKeepsOnlyTheEgressRules() {
        let rules = SwarmGatewayFirewall.rules(stack: "shop", publish: "0.0.0.0:8080")
        #expect(rules.count == 2)
        #expect(rules.allSatisfy { $0.args.contains("docker_gwbridge") && !$0.args.contains("8080") })
    }

    @Test func rulesAreKeyedToTheirStackOnly() {
        let rule = SwarmGatewayFirewall.rules(stack: "a", publish: "127.0.0.1:80")[0]
        #expect(SwarmGatewayFirewall.stack(of: rule) == "a")
        #expect(SwarmGatewayFirewall.belongs(rule, to: "a"))
        // Negative controls: a stack whose name extends this one's, and a single-host rule.
        #expect(!SwarmGatewayFirewall.belongs(rule, to: "ab"))
        #expect(!SwarmGatewayFirewall.belongs(SwarmGatewayFirewall.rules(stack: "ab", publish: "127.0.0.1:80")[0], to: "a"))
        let hostRule = HostFirewall.rejectRule(project: "a", network: "a_internal", bridge: "fb0123456789n")
        #expect(SwarmGatewayFirewall.stack(of: hostRule) == nil)
    }
}
