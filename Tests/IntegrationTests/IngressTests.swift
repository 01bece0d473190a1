import BundleFormat
import FrostbyteCrypto
import Foundation
import TestSupport
import Testing

/// The gateway's ingress on a real dockerd (docs/TENANT_ISOLATION.md "Ingress"):
/// `install --publish` exposes the gateway on the host address asked for, through a
/// non-internal bridge without masquerading that only the gateway joins, guarded by
/// the INPUT and DOCKER-USER rules install inserts. The checker must prove it, and
/// each piece removed must make it fail for the right reason (negative controls).
/// Traffic goes only to what the test created: its own stack, the checker's canary
/// and listeners, and the published loopback port.
@Suite("Ingress (real dockerd)", .serialized,
       .enabled(if: Docker.demoImagesPresent, "needs scripts/make-demo-images"), .requiresDocker)
struct IngressTests {
    @Test func publishedGatewayIsReachableIsolatedAndProven() throws {
        // Names of its own (`fbing-`), out of reach of other suites' sweeps of `fbtest-i*`.
        let project = "fbing-\(TestRun.id)-ingress"
        let prefix = InstallHarness.prefix("ingress")
        let repository = "fbing-\(TestRun.id)-demo"
        // The bundle in a folder of its own: other suites sweep fbinst-bundles-* of other runs.
        let bundleFolder = try TestRun.scratchFolder("fbinst-fbing")
        defer {
            InstallHarness.cleanup(project: project, prefix: prefix)
            for image in ["gateway", "postgres", "redis", "worker"] { _ = try? TestCommand.run(["docker", "rmi", "\(repository)/\(image):1.0"]) }
            try? FileManager.default.removeItem(atPath: bundleFolder)
        }
        var spec = DemoBundle()
        spec.repository = repository
        let bundle = try spec.write(in: bundleFolder)
        let subnet = try DockerTestSupport.freeSubnet(in: "10.231")
        var ingressBlock = try DockerTestSupport.freeSubnet(in: "10.231")
        while ingressBlock == subnet { ingressBlock = try DockerTestSupport.freeSubnet(in: "10.231") }
        let ingressSubnet = ingressBlock.replacingOccurrences(of: "/24", with: "/29")
        let port = Int.random(in: 18_000...18_999)
        let url = "http://127.0.0.1:\(port)"

        let install = try TestCommand.tool(["install", bundle, "--allow-unsigned", "--prefix", prefix, "--project", project,
                                           "--subnet", subnet, "--ingress-subnet", ingressSubnet, "--publish", "\(port)",
                                           "--timeout", "180", "--json"])
        #expect(install.status == 0, "\(install.stderr)")
        let result = InstallHarness.json(install)
        #expect(result["gateway_url"] as? String == url)
        #expect(result["publish"] as? String == "127.0.0.1:\(port)")
        let status = InstallHarness.json(try TestCommand.tool(["status", "--prefix", prefix, "--json"]))
        #expect(status["gateway_url"] as? String == url)
        let answer = try TestCommand.run(["curl", "-s", "-m", "5", "\(url)/health"])
        #expect(answer.status == 0 && answer.stdout.contains("ok"), "\(answer.stdout) \(answer.stderr)")

        // The install's own evidence: every container, the gateway through its ingress
        // interface included, reaches nothing; the positive control went through the
        // published address.
        let gateway = "\(project)-gateway-1"
        let evidence = try Self.evidence(result["evidence_path"] as? String ?? "")
        #expect(evidence.ids("fail").isEmpty && evidence.ids("warn").isEmpty, "\(evidence.problems)")
        #expect(evidence.status("control.gateway-http") == "pass")
        #expect((evidence.check("control.gateway-http")?["probe"] as? String ?? "").contains("\(url)/health"))
        for id in ["egress.tcp/\(gateway)", "egress.udp/\(gateway)", "egress.canary-received",
                   "configuration.ingress-masquerade/ingress", "configuration.ingress-members/ingress",
                   "configuration.ingress-forward-rule/ingress", "configuration.host-input-rule/ingress",
                   "configuration.host-input-rule/demo-internal", "configuration.published-ports/\(gateway)",
                   "configuration.container-networks/\(gateway)", "host-exposure.bridge/ingress",
                   "host-exposure.bridge/demo-internal"] {
            #expect(evidence.status(id) == "pass", "\(id): \(evidence.observed(id))")
        }
        let bridges = Self.bridgeNames(project)
        let rules = try TestCommand.check(["iptables", "-w", "-S"]).split(separator: "\n").filter { $0.contains("project=\(project) ") }
        #expect(rules.filter { $0.hasPrefix("-A INPUT -i \(bridges.internal) ") }.count == 1, "\(rules)")
        #expect(rules.filter { $0.hasPrefix("-A INPUT -i \(bridges.ingress) ") }.count == 1, "\(rules)")
        #expect(rules.filter { $0.hasPrefix("-A DOCKER-USER -i \(bridges.ingress) ") }.count == 1, "\(rules)")

        // Negative control 1: without the DOCKER-USER rule the gateway's egress through
        // the ingress bridge is open, and the checker fails. A re-install puts it back.
        try Self.deleteRule(chain: "DOCKER-USER", bridge: bridges.ingress, project: project)
        let open = try Self.check(prefix)
        #expect(open.status == 1, "\(open.problems)")
        #expect(open.status("configuration.ingress-forward-rule/ingress") == "fail")
        #expect(open.status("egress.udp/\(gateway)") == "fail" || open.status("egress.tcp/\(gateway)") == "fail", "\(open.problems)")
        #expect(open.status("egress.canary-received") == "fail")
        try Self.reinstall(bundle, prefix)
        #expect(try Self.check(prefix).status == 0)

        // Negative control 2: without the INPUT rule of the ingress bridge the gateway
        // reaches the host (the checker's own listener): a failure for this install.
        try Self.deleteRule(chain: "INPUT", bridge: bridges.ingress, project: project)
        let exposed = try Self.check(prefix)
        #expect(exposed.status == 1, "\(exposed.problems)")
        #expect(exposed.status("host-exposure.bridge/ingress") == "fail")
        #expect(exposed.status("configuration.host-input-rule/ingress") == "fail")
        try Self.reinstall(bundle, prefix)

        // Negative control 3: the gateway published on 0.0.0.0 although install was
        // asked for loopback is flagged; a re-install publishes it where asked again.
        try Self.composeUpGateway(project: project, prefix: prefix, subnet: subnet, ingressSubnet: ingressSubnet,
                                  publish: "0.0.0.0:\(port)")
        let wide = try Self.check(prefix)
        #expect(wide.status == 1, "\(wide.problems)")
        #expect(wide.status("configuration.published-ports/\(gateway)") == "fail")
        #expect(wide.observed("configuration.published-ports/\(gateway)").contains("not asked for: 0.0.0.0:\(port)"))
        try Self.reinstall(bundle, prefix)
        let back = try Self.check(prefix)
        #expect(back.status == 0, "\(back.problems)")
        #expect(back.status("configuration.published-ports/\(gateway)") == "pass")

        // Negative control 4: the positive control fails when the gateway is stopped.
        try TestCommand.check(["docker", "stop", "-t", "1", gateway])
        let stopped = try Self.check(prefix)
        #expect(stopped.status == 1)
        #expect(stopped.status("control.gateway-http") == "fail", "\(stopped.observed("control.gateway-http"))")

        // Bad input: one sentence, exit 2, nothing changed.
        for (flag, value) in [("--publish", "localhost:80"), ("--publish", "0"), ("--publish", "::1:80"),
                              ("--ingress-subnet", "8.8.8.0/29"), ("--ingress-subnet", "10.231.0.0/30")] {
            let bad = try TestCommand.tool(["install", bundle, "--allow-unsigned", "--prefix", prefix, flag, value])
            #expect(bad.status == 2, "\(flag) \(value): \(bad.stderr)")
            #expect(bad.stderr.contains(flag), "\(bad.stderr)")
        }

        // Uninstall removes exactly the rules install inserted.
        #expect(try TestCommand.tool(["uninstall", "--prefix", prefix, "--purge-data"]).status == 0)
        #expect(!(try TestCommand.check(["iptables", "-w", "-S"])).contains("project=\(project) "))
    }

    /// `check-isolation --project` recognises an ingress network by its label alone:
    /// one that masquerades, holds a second container and has no DOCKER-USER rule
    /// fails on each count, and so do the egress probes through it.
    @Test func misconfiguredIngressNetworkFails() throws {
        try Docker.ensureTestImage()
        let project = "fbing-\(TestRun.id)-bad"
        let folder = try TestRun.scratchFolder("fbinst-ingress-bad")
        let file = "\(folder)/docker-compose.yml"
        let compose = ["docker", "compose", "-p", project, "-f", file]
        defer {
            _ = try? TestCommand.run(compose + ["down", "-v", "-t", "1"])
            try? FileManager.default.removeItem(atPath: folder)
        }
        let internalSubnet = try DockerTestSupport.freeSubnet(in: "10.231")
        var ingressSubnet = try DockerTestSupport.freeSubnet(in: "10.231")
        while ingressSubnet == internalSubnet { ingressSubnet = try DockerTestSupport.freeSubnet(in: "10.231") }
        func service(_ name: String, _ networks: String) -> String {
            """
              \(name):
                image: \(Docker.testImage)
                pull_policy: never
                command: ["httpd", "-f", "-p", "8080", "-h", "/www"]
                cap_drop: [NET_RAW]
                labels: {io.frostbyte.project: \(project), \(TestRun.label): \(TestRun.id)}
                networks: \(networks)

            """
        }
        try """
            services:
            \(service("gateway", "{internal: {}, ingress: {}}"))\(service("api", "{internal: {}, ingress: {}}"))\
            networks:
              internal:
                internal: true
                labels: {io.frostbyte.project: \(project), \(TestRun.label): \(TestRun.id)}
                ipam: {config: [{subnet: \(internalSubnet)}]}
              ingress:
                labels: {io.frostbyte.project: \(project), io.frostbyte.network-role: ingress, \(TestRun.label): \(TestRun.id)}
                ipam: {config: [{subnet: \(ingressSubnet)}]}

            """.write(toFile: file, atomically: true, encoding: .utf8)
        let up = try TestCommand.run(compose + ["up", "-d"])
        #expect(up.status == 0, "\(up.stderr)")

        let run = IsolationRun(output: try TestCommand.tool(["check-isolation", "--project", project, "--cross-project", "none", "--json"]))
        #expect(run.status == 1, "\(run.problems)")
        #expect(run.status("configuration.network-internal/ingress") == "pass", "a labelled ingress network is expected not internal")
        #expect(run.status("configuration.ingress-masquerade/ingress") == "fail")
        #expect(run.status("configuration.ingress-members/ingress") == "fail")
        #expect(run.status("configuration.ingress-forward-rule/ingress") == "fail")
        for container in ["\(project)-gateway-1", "\(project)-api-1"] {
            #expect(run.status("egress.tcp/\(container)") == "fail" || run.status("egress.udp/\(container)") == "fail",
                    "\(container): \(run.observed("egress.tcp/\(container)")); \(run.observed("egress.udp/\(container)"))")
        }
        #expect(run.status("egress.canary-received") == "fail")
    }

    // MARK: - Helpers

    /// The bridge names install gives the project's networks (`fb` + 10 hex digits of
    /// SHA-256 of the project name, then `n` internal / `i` ingress).
    static func bridgeNames(_ project: String) -> (internal: String, ingress: String) {
        let stem = "fb" + SHA256Hasher.hash(Data(project.utf8)).hex.prefix(10)
        return ("\(stem)n", "\(stem)i")
    }

    static func deleteRule(chain: String, bridge: String, project: String) throws {
        let line = try TestCommand.check(["iptables", "-w", "-S", chain]).split(separator: "\n")
            .first { $0.hasPrefix("-A \(chain) -i \(bridge) ") && $0.contains("project=\(project) ") }
        guard let line else { throw TestFailure("no \(chain) rule for \(bridge)") }
        try TestCommand.check(["iptables", "-w", "-D"] + StaleRuns.shellWords(String(line)).dropFirst())
    }

    static func check(_ prefix: String) throws -> IsolationRun {
        IsolationRun(output: try TestCommand.tool(["check-isolation", "--prefix", prefix, "--cross-project", "none", "--json"]))
    }

    /// Re-installs the current release (the quick path): rules re-inserted, stack as installed.
    static func reinstall(_ bundle: String, _ prefix: String) throws {
        let again = try TestCommand.tool(["install", bundle, "--allow-unsigned", "--prefix", prefix, "--timeout", "180", "--json"])
        guard again.status == 0 else { throw TestFailure("re-install failed: \(again.stderr)") }
    }

    /// Recreates the gateway with another FROSTBYTE_PUBLISH, every other variable as install passes it.
    static func composeUpGateway(project: String, prefix: String, subnet: String, ingressSubnet: String, publish: String) throws {
        let bridges = bridgeNames(project)
        let gatewayIP = subnet.replacingOccurrences(of: "0/24", with: "10")
        let environment = ["FROSTBYTE_PROJECT": project, "FROSTBYTE_SUBNET": subnet, "FROSTBYTE_GATEWAY_IP": gatewayIP,
                           "FROSTBYTE_BRIDGE": bridges.internal, "FROSTBYTE_INGRESS_BRIDGE": bridges.ingress,
                           "FROSTBYTE_INGRESS_SUBNET": ingressSubnet, "FROSTBYTE_PUBLISH": publish]
        let up = try TestCommand.run(["docker", "compose", "-p", project, "-f", "\(prefix)/current/docker-compose.yml",
                                     "--env-file", "\(prefix)/secrets/.env", "up", "-d", "--no-deps", "gateway"],
                                    environment: environment)
        guard up.status == 0 else { throw TestFailure("compose up gateway: \(up.stderr)") }
    }

    static func evidence(_ path: String) throws -> IsolationRun {
        let data = try String(contentsOfFile: path, encoding: .utf8)
        return IsolationRun(output: .init(status: 0, stdout: data, stderr: ""))
    }
}
