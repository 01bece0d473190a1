import Foundation
import Testing
@testable import Stack

@Suite("Compose hardening")
struct ComposeHardenerTests {
    private func lineOf(_ needle: String, in text: String, after start: Int = 0) -> Int {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        return lines.indices.first { $0 >= start && lines[$0].contains(needle) }.map { $0 + 1 } ?? -1
    }

    private func renderedTree(_ fixture: Fixture) throws -> (YAMLNode, RenderedStack) {
        let rendered = try fixture.render()
        return (try YAMLNode.parse(rendered.composeYAML, file: "out.yaml"), rendered)
    }

    private func failure(spec: String = Fixture.baseSpec, compose: String) throws -> String? {
        let fixture = try Fixture(spec: spec, compose: compose)
        defer { fixture.cleanup() }
        do { _ = try fixture.render() } catch let error as ComposeError { return error.message } catch let error as SpecError { return error.message }
        return nil
    }

    @Test func hardensTheBaseStack() throws {
        let fixture = try Fixture()
        defer { fixture.cleanup() }
        let (out, rendered) = try renderedTree(fixture)

        #expect(out.mappingPairs?.map { $0.key.scalarValue } == ["name", "x-common", "services", "networks", "volumes"])
        #expect(out["name"]?.scalarValue == "${FROSTBYTE_PROJECT:-frostbyte-demo}")
        let networks = try #require(out["networks"]?.mappingPairs)
        #expect(networks.map { $0.key.scalarValue } == ["demo-internal", "ingress"])
        let network = try #require(out["networks"]?["demo-internal"])
        #expect(network["internal"]?.scalar == YAMLScalar(value: "true", style: .plain))
        #expect(network["enable_ipv6"]?.scalarValue == "false")
        #expect(network["driver"]?.scalarValue == "bridge")
        #expect(network["ipam"]?["config"]?.sequenceItems?.first?["subnet"]?.scalarValue == "${FROSTBYTE_SUBNET:-172.29.0.0/16}")
        #expect(network["labels"]?["io.frostbyte.project"]?.scalarValue == "${FROSTBYTE_PROJECT:-frostbyte-demo}")
        #expect(network["labels"]?["io.frostbyte.bundle"] == nil)
        #expect(network["driver_opts"]?["com.docker.network.bridge.name"]?.scalarValue == "${FROSTBYTE_BRIDGE:-}")
        // The gateway's ingress network: not internal, no masquerading, its own subnet and bridge name.
        let ingress = try #require(out["networks"]?["ingress"])
        #expect(ingress["internal"]?.scalarValue == "false")
        #expect(ingress["enable_ipv6"]?.scalarValue == "false")
        #expect(ingress["driver_opts"]?["com.docker.network.bridge.enable_ip_masquerade"]?.scalarValue == "false")
        #expect(ingress["driver_opts"]?["com.docker.network.bridge.name"]?.scalarValue == "${FROSTBYTE_INGRESS_BRIDGE:-}")
        #expect(ingress["ipam"]?["config"]?.sequenceItems?.first?["subnet"]?.scalarValue == "${FROSTBYTE_INGRESS_SUBNET:-172.31.255.0/29}")
        #expect(ingress["labels"]?["io.frostbyte.network-role"]?.scalarValue == "ingress")

        let services = try #require(out["services"]?.mappingPairs)
        #expect(services.map { $0.key.scalarValue } == ["postgres", "gateway"])
        for pair in services {
            let service = pair.value
            // Only the gateway joins the ingress network and is published (loopback by default).
            let gateway = pair.key.scalarValue == "gateway"
            #expect(service["networks"]?.mappingPairs?.map { $0.key.scalarValue } == (gateway ? ["demo-internal", "ingress"] : ["demo-internal"]))
            #expect(service["ports"]?.sequenceItems?.map(\.scalarValue) == (gateway ? ["${FROSTBYTE_PUBLISH:-127.0.0.1:8080}:8080"] : nil))
            #expect(service["pull_policy"]?.scalarValue == "never")
            #expect(service["cap_drop"]?.sequenceItems?.map(\.scalarValue) == ["NET_RAW"])
            #expect(service["labels"]?["io.frostbyte.bundle"]?.scalarValue == "demo-1.0.0")
            #expect(service["labels"]?["io.frostbyte.name"]?.scalarValue == "demo")
            #expect(service["restart"]?.scalarValue == "unless-stopped", "merge key resolved")
        }
        #expect(out["services"]?["gateway"]?["networks"]?["demo-internal"]?["ipv4_address"]?.scalarValue == "${FROSTBYTE_GATEWAY_IP:-172.29.0.10}")
        #expect(out["services"]?["postgres"]?["networks"]?["demo-internal"]?["ipv4_address"] == nil)
        // Source key order kept, hardening keys appended.
        #expect(out["services"]?["postgres"]?.mappingPairs?.map { $0.key.scalarValue } == [
            "restart", "environment", "image", "volumes", "healthcheck", "networks", "pull_policy", "cap_drop", "labels",
        ])
        #expect(out["volumes"]?["pgdata"]?["labels"]?["io.frostbyte.name"]?.scalarValue == "demo")

        let portsLine = lineOf("    ports:", in: Fixture.baseCompose)
        let warnings = rendered.warnings.map(\.description)
        #expect(warnings.contains { $0.hasPrefix("\(fixture.composePath):\(portsLine):5: service 'gateway': ports [8080:8080] removed") }, "\(warnings)")
        #expect(warnings.contains { $0.contains("network 'backend' dropped") })
        #expect(rendered.networks == [.init(name: "demo-internal", subnet: "172.29.0.0/16", internal: true),
                                      .init(name: "ingress", subnet: "172.31.255.0/29", internal: false)])
        #expect(rendered.project == "frostbyte-demo")
        #expect(rendered.services == ["postgres", "gateway"])
    }

    @Test func renderingIsDeterministic() throws {
        let first = try Fixture()
        let second = try Fixture()
        defer { first.cleanup(); second.cleanup() }
        let a = try first.render().composeYAML
        #expect(try first.render().composeYAML == a)
        #expect(try second.render().composeYAML == a)
        // Negative control: a different spec gives different bytes.
        let third = try Fixture(spec: Fixture.baseSpec.replacingOccurrences(of: "1.0.0", with: "1.0.1"))
        defer { third.cleanup() }
        #expect(try third.render().composeYAML != a)
    }

    /// Each refused setting, written inside service `bad`, with the line offset
    /// (from the first body line) the error must point at.
    @Test(arguments: [
        ("network_mode: host", 0, "'network_mode' is refused"),
        ("network_mode: \"service:postgres\"", 0, "'network_mode' is refused"),
        ("privileged: true", 0, "'privileged: true' is refused"),
        ("privileged: \"yes\"", 0, "'privileged: yes' is refused"),
        ("privileged: ${PRIV:-false}", 0, "'privileged: ${PRIV:-false}' is refused"),
        ("pid: host", 0, "'pid: host' is refused"),
        ("ipc: host", 0, "'ipc: host' is refused"),
        ("uts: host", 0, "'uts: host' is refused"),
        ("userns_mode: host", 0, "'userns_mode: host' is refused"),
        ("cap_add:\n  - CHOWN\n  - NET_ADMIN", 2, "'cap_add: NET_ADMIN' is refused"),
        ("cap_add: [SYS_ADMIN]", 0, "'cap_add: SYS_ADMIN' is refused"),
        ("cap_add: [cap_net_raw]", 0, "'cap_add: cap_net_raw' is refused"),
        ("cap_add: [ALL]", 0, "'cap_add: ALL' is refused"),
        ("devices:\n  - /dev/kvm:/dev/kvm", 0, "'devices' is refused"),
        ("volumes:\n  - /var/run/docker.sock:/var/run/docker.sock", 1, "bind mount '/var/run/docker.sock' -> '/var/run/docker.sock' is refused"),
        ("volumes:\n  - /run/docker.sock:/tmp/d.sock:ro", 1, "bind mount '/run/docker.sock' -> '/tmp/d.sock' is refused"),
        ("volumes:\n  - /var/run/:/host-run", 1, "bind mount '/var/run/' -> '/host-run' is refused"),
        ("volumes:\n  - ${SOCK:-/var/run/docker.sock}:/s", 1, "bind mount '${SOCK:-/var/run/docker.sock}' -> '/s' is refused"),
        ("volumes:\n  - type: bind\n    source: /var/run/docker.sock\n    target: /sock", 1, "bind mount '/var/run/docker.sock' -> '/sock' is refused"),
        ("security_opt:\n  - apparmor:unconfined", 1, "'security_opt: apparmor:unconfined' is refused"),
        ("security_opt: [\"seccomp=unconfined\"]", 0, "'security_opt: seccomp=unconfined' is refused"),
        ("use_api_socket: true", 0, "'use_api_socket' is refused"),
        ("external_links: [other_db]", 0, "'external_links' is refused"),
        ("extends:\n  service: postgres", 0, "'extends' is refused"),
        ("post_start:\n  - command: id\n    privileged: true", 2, "privileged 'post_start' hook is refused"),
    ] as [(String, Int, String)])
    func refusesUnsafeServiceSettings(_ body: String, _ offset: Int, _ fragment: String) throws {
        let compose = Fixture.composeWithBadService(body)
        let message = try #require(try failure(compose: compose), "not refused: \(body)")
        let line = Fixture.badBodyLine + offset
        #expect(message.contains("compose.yaml:\(line):"), "\(message)")
        #expect(message.contains("service 'bad': \(fragment)"), "\(message)")
    }

    /// Negative controls: near misses of the refusals are accepted.
    @Test(arguments: [
        "privileged: false",
        "privileged:",
        "privileged: \"false\"",
        "pid: \"service:postgres\"",
        "cap_add: [CHOWN, NET_BIND_SERVICE]",
        "security_opt: [\"no-new-privileges:true\"]",
        "volumes:\n  - ./config:/etc/app:ro\n  - type: bind\n    source: /srv/data\n    target: /data",
        "devices: []",
    ])
    func acceptsSafeNearMisses(_ body: String) throws {
        #expect(try failure(compose: Fixture.composeWithBadService(body)) == nil)
    }

    @Test func refusesUntaggedImages() throws {
        let compose = Fixture.baseCompose.replacingOccurrences(of: "image: frostbyte-demo/gateway:1.0", with: "image: frostbyte-demo/gateway")
        let message = try #require(try failure(compose: compose))
        let line = lineOf("image: frostbyte-demo/gateway", in: compose)
        #expect(message.contains("compose.yaml:\(line):12: service 'gateway': image 'frostbyte-demo/gateway' without a tag is refused"), "\(message)")
    }

    @Test func refusesBuildWithoutImage() throws {
        let compose = Fixture.baseCompose.replacingOccurrences(of: "image: frostbyte-demo/gateway:1.0", with: "build: ./gateway")
        let message = try #require(try failure(compose: compose))
        let line = lineOf("build: ./gateway", in: compose)
        #expect(message.contains("compose.yaml:\(line):5: service 'gateway': 'build' without 'image' is refused"), "\(message)")
    }

    @Test func dropsBuildWhenAnImageIsGiven() throws {
        let compose = Fixture.baseCompose.replacingOccurrences(of: "image: frostbyte-demo/gateway:1.0", with: "image: frostbyte-demo/gateway:1.0\n    build: ./gateway\n    pull_policy: always")
        let fixture = try Fixture(compose: compose)
        defer { fixture.cleanup() }
        let (out, rendered) = try renderedTree(fixture)
        #expect(out["services"]?["gateway"]?["build"] == nil)
        #expect(out["services"]?["gateway"]?["pull_policy"]?.scalarValue == "never")
        #expect(rendered.warnings.contains { $0.message.hasPrefix("'build' removed") && $0.line == lineOf("build: ./gateway", in: compose) })
        #expect(rendered.warnings.contains { $0.message.hasPrefix("pull_policy 'always' replaced") })
    }

    @Test func refusesImagesMissingFromTheSpec() throws {
        let compose = Fixture.baseCompose.replacingOccurrences(of: "image: frostbyte-demo/gateway:1.0", with: "image: nginx:1.27")
        let message = try #require(try failure(compose: compose))
        let line = lineOf("image: nginx:1.27", in: compose)
        #expect(message.contains("compose.yaml:\(line):12: service 'gateway': image 'nginx:1.27' is not listed in the spec's images"), "\(message)")
    }

    @Test func refusesSpecImagesNoServiceUses() throws {
        let spec = Fixture.baseSpec + "  - ref: frostbyte-demo/extra:2.0\n"
        let message = try #require(try failure(spec: spec, compose: Fixture.baseCompose))
        #expect(message.contains("spec.yaml:15:10: image 'frostbyte-demo/extra:2.0' is listed in the spec but no service"), "\(message)")
    }

    @Test func refusesAGatewayServiceTheComposeFileLacks() throws {
        let spec = Fixture.baseSpec.replacingOccurrences(of: "service: gateway", with: "service: web")
        let message = try #require(try failure(spec: spec, compose: Fixture.baseCompose))
        #expect(message.contains("spec.yaml:9:12: gateway.service names service 'web', which the compose file does not define (services: postgres, gateway)"), "\(message)")
    }

    @Test func refusesExternalNetworksAndVolumes() throws {
        let network = Fixture.baseCompose.replacingOccurrences(of: "  backend: {}", with: "  backend:\n    external: true")
        let networkMessage = try #require(try failure(compose: network))
        #expect(networkMessage.contains("compose.yaml:\(lineOf("external: true", in: network)):5: network 'backend' with 'external' is refused"), "\(networkMessage)")

        let volume = Fixture.baseCompose.replacingOccurrences(of: "  pgdata:\n", with: "  pgdata:\n    external: true\n")
        let volumeMessage = try #require(try failure(compose: volume))
        #expect(volumeMessage.contains("compose.yaml:\(lineOf("external: true", in: volume)):5: volume 'pgdata' with 'external' is refused"), "\(volumeMessage)")
    }

    @Test func refusesIncludeAndUnknownTopLevelKeys() throws {
        let include = try #require(try failure(compose: "include:\n  - other.yaml\n" + Fixture.baseCompose))
        #expect(include.contains("compose.yaml:1:1: 'include' is refused"), "\(include)")
        let typo = try #require(try failure(compose: Fixture.baseCompose + "volumse: {}\n"))
        #expect(typo.contains("unknown top-level key 'volumse'; did you mean 'volumes'?"), "\(typo)")
    }

    @Test func mergesCapDropLabelsAndAliases() throws {
        let compose = Fixture.composeWithBadService("""
            cap_drop: [MKNOD]
            labels:
              - team=etl
              - io.frostbyte.bundle=stale
            networks:
              backend:
                aliases: [db-replica]
                ipv4_address: 10.0.0.5
            """) .replacingOccurrences(of: "volumes:\n  pgdata:\n", with: "volumes:\n  pgdata:\nnetworks:\n  backend:\n")
        let fixture = try Fixture(compose: compose)
        defer { fixture.cleanup() }
        let (out, rendered) = try renderedTree(fixture)
        let bad = try #require(out["services"]?["bad"])
        #expect(bad["cap_drop"]?.sequenceItems?.map(\.scalarValue) == ["MKNOD", "NET_RAW"])
        #expect(bad["labels"]?.sequenceItems?.map(\.scalarValue) == [
            "team=etl", "io.frostbyte.bundle=demo-1.0.0", "io.frostbyte.name=demo",
            "io.frostbyte.project=${FROSTBYTE_PROJECT:-frostbyte-demo}",
        ])
        #expect(bad["networks"]?["demo-internal"]?["aliases"]?.sequenceItems?.map(\.scalarValue) == ["db-replica"])
        #expect(bad["networks"]?["demo-internal"]?["ipv4_address"] == nil)
        #expect(rendered.warnings.contains { $0.message.hasPrefix("'ipv4_address' on network 'backend' dropped") })

        let all = Fixture.composeWithBadService("cap_drop: [all]")
        let allFixture = try Fixture(compose: all)
        defer { allFixture.cleanup() }
        #expect(try renderedTree(allFixture).0["services"]?["bad"]?["cap_drop"]?.sequenceItems?.map(\.scalarValue) == ["all"])
    }

    @Test func refusesASubnetTooSmallForTheServices() throws {
        let spec = Fixture.baseSpec
            .replacingOccurrences(of: "172.29.0.0/16", with: "192.168.1.0/29")
            .replacingOccurrences(of: "172.29.0.10", with: "192.168.1.2")
        let services = (1...5).map { "  extra\($0):\n    image: frostbyte-demo/postgres:1.0\n" }.joined()
        let compose = Fixture.servicesBlock + services
        let message = try #require(try failure(spec: spec, compose: compose))
        #expect(message.contains("spec.yaml:7:11: subnet 192.168.1.0/29 cannot hold 7 services"), "\(message)")
        // Replicas count too: 2 services + 4 extra replicas do not fit in a /29.
        let scaled = Fixture.servicesBlock.replacingOccurrences(of: "    <<: *common\n    image: frostbyte-demo/postgres:1.0", with: "    <<: *common\n    image: frostbyte-demo/postgres:1.0\n    deploy:\n      replicas: 5")
        let scaledMessage = try #require(try failure(spec: spec, compose: scaled))
        #expect(scaledMessage.contains("cannot hold 6 services"), "\(scaledMessage)")
        // Negative control: the same two services unscaled fit.
        #expect(try failure(spec: spec, compose: Fixture.servicesBlock) == nil)
    }

    @Test func refusesAScaledGateway() throws {
        let compose = Fixture.baseCompose.replacingOccurrences(of: "image: frostbyte-demo/gateway:1.0", with: "image: frostbyte-demo/gateway:1.0\n    scale: 2")
        let message = try #require(try failure(compose: compose))
        #expect(message.contains("compose.yaml:\(lineOf("scale: 2", in: compose)):5: service 'gateway': 'scale' of 2 on the gateway is refused"), "\(message)")
    }
}
