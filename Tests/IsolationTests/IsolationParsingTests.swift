import BundleFormat
import FrostbyteCrypto
import Foundation
import Testing
@testable import Engine
@testable import InstallationState
@testable import Isolation
@testable import Installation
import FrostbyteCore

/// Parsers and models of the isolation checker, on fixed inputs.
@Suite("Isolation parsing and evidence")
struct IsolationParsingTests {
    @Test("ss output: wildcard listeners, processes, device-bound sockets")
    func ssListeners() {
        let text = """
            tcp   LISTEN 0      128          0.0.0.0:22        0.0.0.0:*    users:(("sshd",pid=612,fd=3))
            tcp   LISTEN 0      4096       127.0.0.1:631       0.0.0.0:*    users:(("cupsd",pid=700,fd=7))
            tcp   LISTEN 0      128             [::]:22           [::]:*    users:(("sshd",pid=612,fd=4))
            udp   UNCONN 0      0       0.0.0.0%eth0:68        0.0.0.0:*    users:(("dhclient",pid=5,fd=6))
            tcp   LISTEN 0      128          0.0.0.0:2024      0.0.0.0:*
            udp   UNCONN 0      0                  *:5353            *:*    users:(("avahi",pid=9,fd=1),("avahi",pid=10,fd=1))
            """
        let listeners = HostFacts.parseListeners(text)
        #expect(listeners.count == 6)
        let wildcard = listeners.filter(\.isWildcard)
        #expect(wildcard.map(\.port) == [22, 22, 2024, 5353])
        #expect(wildcard[0].process == "sshd (pid 612)")
        #expect(wildcard[2].process == "unknown process")
        #expect(wildcard[3].process == "avahi (pid 9, 10)")
        #expect(!listeners[3].isWildcard, "a socket bound to eth0 is not reachable from a bridge")
    }

    @Test("/proc/net/tcp: LISTEN sockets off loopback only")
    func procNetTCP() {
        let v4 = """
              sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
               0: 0B00007F:868D 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 42957 1
               1: 00000000:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 42958 1
               2: 0200D50A:1F90 0300D50A:C350 01 00000000:00000000 00:00000000 00000000     0        0 42959 1
            """
        #expect(HostFacts.parseProcNetTCP(v4) == [8080])
        let v6 = """
              sl  local_address                         remote_address                        st
               0: 00000000000000000000000000000000:1538 00000000000000000000000000000000:0000 0A
               1: 00000000000000000000000001000000:0019 00000000000000000000000000000000:0000 0A
            """
        #expect(HostFacts.parseProcNetTCP(v6) == [5432])
    }

    @Test("/proc/net/route: the default route and its gateway")
    func defaultRoute() {
        let table = """
            Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT
            eth0\t00000000\t01FAD50A\t0003\t0\t0\t0\t00000000\t0\t0\t0
            eth0\t00FAD50A\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0
            """
        let route = HostFacts.parseDefaultRoute(table)
        #expect(route.present && route.gateway == "10.213.250.1")
        let none = HostFacts.parseDefaultRoute("Iface\tDestination\n eth0\t00FAD50A\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n")
        #expect(!none.present)
    }

    @Test("DNS: a query round-trips through the parser; compression and rcodes")
    func dnsMessages() throws {
        let query = try #require(DNSMessage.query(name: "db", id: 0x1234))
        var reply = query
        reply[2] = 0x81; reply[3] = 0x80; reply[7] = 1
        reply += [0xC0, 0x0C, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 10, 213, 200, 4]
        let parsed = try #require(DNSMessage.parseReply(reply, id: 0x1234))
        #expect(parsed.rcode == 0 && parsed.addresses == ["10.213.200.4"])
        #expect(DNSMessage.parseReply(reply, id: 0x9999) == nil, "another transaction's reply is ignored")
        var nx = query
        nx[2] = 0x81; nx[3] = 0x83
        #expect(DNSMessage.parseReply(nx, id: 0x1234)?.rcode == 3)
        #expect(DNSMessage.query(name: String(repeating: "a", count: 64), id: 1) == nil)
        #expect(ProbeOutcome.dns(rcode: 3, addresses: []).description == "DNS reply NXDOMAIN, no address")
    }

    @Test("iptables -S: Docker chains and bridges guarded by an INPUT rule")
    func firewallFacts() {
        let rules = """
            -P INPUT ACCEPT
            -N DOCKER-ISOLATION-STAGE-1
            -A INPUT -i br-aaa -m conntrack --ctstate NEW -m comment --comment "frostbyte-bundle project=p" -j REJECT --reject-with icmp-admin-prohibited
            -A INPUT -i br-bbb -p tcp -m tcp --dport 22 -j DROP
            """
        #expect(FirewallFacts.hasDockerChains(rules))
        #expect(!FirewallFacts.hasDockerChains("-P INPUT ACCEPT"))
        #expect(FirewallFacts.guardedBridges(rules) == ["br-aaa"], "a port-specific rule does not guard every service")
    }

    @Test("Engine versions compare by major and minor")
    func engineVersions() {
        #expect(DockerEngineInfo(serverVersion: "20.10.24+dfsg1").majorMinor! == (20, 10))
        #expect(!DockerEngineInfo(serverVersion: "20.10.24+dfsg1").isAtLeast(28))
        #expect(DockerEngineInfo(serverVersion: "28.0.1").isAtLeast(28))
        #expect(DockerEngineInfo(serverVersion: "29.1.0").isAtLeast(28))
        #expect(!DockerEngineInfo(serverVersion: "garbage").isAtLeast(1))
    }

    @Test("docker network inspect decodes, nulls included, with the bridge name")
    func networkDecoding() throws {
        let json = """
            [{"Name":"p_internal","Id":"991ba234c4071234","Driver":"bridge","EnableIPv6":false,"Internal":true,
              "IPAM":{"Driver":"default","Options":null,"Config":[{"Subnet":"10.213.200.0/24"}]},
              "Options":null,"Labels":{"com.docker.compose.network":"internal"},"Containers":{}}]
            """
        let networks = try JSONDecoder().decode([DockerNetwork].self, from: Data(json.utf8))
        #expect(networks[0].bridgeInterface == "br-991ba234c407")
        #expect(networks[0].ipv4Subnets == ["10.213.200.0/24"])
        #expect(networks[0].internal)
    }

    @Test("Evidence: sorted keys, counts, atomic write whose digest sha256sum reproduces")
    func evidenceWrite() throws {
        let checks = [
            IsolationCheck(id: "a", category: "egress", title: "t", probe: "p", expected: "e", observed: "o", status: .pass),
            IsolationCheck(id: "b", category: "dns", title: "t", probe: "p", expected: "e", observed: "o", status: .warn, remedy: "r"),
        ]
        let summary = IsolationEvidence.Summary(checks)
        #expect(summary.pass == 1 && summary.warn == 1 && summary.total == 2)
        let evidence = IsolationEvidence(
            schema: IsolationEvidence.schemaV1, tool: .init(name: "frostbyte-bundle", version: "0"), runID: "abc123",
            bundleId: "x-1-0123", project: "p", prefix: "/opt/x",
            host: .init(hostname: "h", kernel: "k", os: "o"),
            engine: .init(version: "20.10", apiVersion: "1.41", firewallBackend: "nf_tables", iptables: true, ip6tables: false),
            startedAt: "2026-01-01T00:00:00.000Z", finishedAt: "2026-01-01T00:00:01.000Z", durationSeconds: 1,
            checks: checks, summary: summary, result: "pass")
        let folder = NSTemporaryDirectory() + "fbtest-evidence-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let path = "\(folder)/nested/evidence.json"
        let digest = try evidence.write(to: path)
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        #expect(SHA256Hasher.hash(data) == digest)
        #expect(try IsolationEvidence.decode(data) == evidence)
        let text = String(decoding: data, as: UTF8.self)
        #expect(text.contains("\"run_id\" : \"abc123\"") && text.hasSuffix("}\n"))
        #expect(try FileManager.default.contentsOfDirectory(atPath: "\(folder)/nested") == ["evidence.json"], "no temporary file left")
        #expect(IsolationEvidence.defaultPath(prefix: "/opt/x", evidence: evidence) == "/opt/x/evidence/isolation-20260101T000000Z-abc123.json")
    }

    @Test("Target from a manifest and a receipt: the receipt's subnet, gateway and images win")
    func targetFromReceipt() throws {
        let manifest = Manifest(
            name: "demo", version: "1", bundleId: "demo-1-aaaaaaaaaaaa", createdAt: "2026-01-01T00:00:00Z",
            builder: .init(name: "t", version: "1"),
            compose: .init(file: "docker-compose.yml", sha256: SHA256Hasher.hash(Data()), project: "demo",
                           networks: [.init(name: "internal", subnet: "172.28.0.0/16", internal: true)]),
            gateway: .init(service: "gateway", ipv4Address: "172.28.0.10", port: 8080, healthPath: "/healthz"),
            images: [.init(name: "demo/gateway:1", file: "images/g.tar", sha256: SHA256Hasher.hash(Data()), digest: "sha256:old", size: 1)],
            files: [])
        let receipt = InstallationReceipt(
            bundleId: "demo-1-aaaaaaaaaaaa", name: "demo", version: "1", project: "tenant-a", subnet: "10.50.0.0/24",
            gatewayIP: "10.50.0.10", installedAt: "2026-01-01T00:00:00Z", images: ["demo/gateway:1": "sha256:new"])
        let target = IsolationTarget(manifest: manifest, receipt: receipt, project: receipt.project, prefix: "/opt/a")
        #expect(target.networks == [.init(name: "internal", subnet: "10.50.0.0/24", internal: true)])
        #expect(target.gateway?.ipv4Address == "10.50.0.10")
        #expect(target.expectedImages == ["demo/gateway:1": "sha256:new"])
        #expect(target.hasManifest)
        #expect(throws: IsolationError.invalidProjectName("Bad Name")) { try IsolationTarget.discover(project: "Bad Name") }
        #expect(throws: IsolationError.notInstalled(prefix: "/nonexistent-fb", missing: "current/MANIFEST.json")) {
            try IsolationTarget.load(prefix: "/nonexistent-fb")
        }
    }

    @Test("docker inspect errors: not-found in both CLI dialects, anything else is not")
    func notFoundErrors() {
        #expect(DockerEngine.isNotFound("Error: No such network: 5ce5c6ecb091"))
        #expect(DockerEngine.isNotFound("Error response from daemon: network 5ce5c6ecb091 not found"))
        #expect(DockerEngine.isNotFound("Error response from daemon: No such container: fbtest-x-api-1"))
        #expect(!DockerEngine.isNotFound("Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?"))
        #expect(!DockerEngine.isNotFound("permission denied while trying to connect to the Docker daemon socket"))
    }

    @Test("Vanished objects: another project's is info, this project's is a fail with a remedy")
    func vanishedRecords() throws {
        let checker = IsolationChecker(target: IsolationTarget(project: "alpha"))
        var checks = CheckList()
        checker.recordVanished([
            VanishedObject(kind: .network, id: String(repeating: "a", count: 64), name: "", project: "beta",
                           ownedByTarget: false, phase: .inspecting),
            VanishedObject(kind: .container, id: "c1", name: "beta-api-1", project: "beta",
                           ownedByTarget: false, phase: .probing(observed: "exited")),
            VanishedObject(kind: .container, id: "c1", name: "beta-api-1", project: "beta",
                           ownedByTarget: false, phase: .probing(observed: "exited")),
            VanishedObject(kind: .container, id: "c2", name: "alpha-db-1", project: "alpha",
                           ownedByTarget: true, phase: .probing(observed: "removed")),
        ], into: &checks)
        #expect(checks.items.map(\.id) == [
            "cross-project.vanished/network/aaaaaaaaaaaa", "cross-project.vanished/container/beta-api-1",
            "configuration.vanished/container/alpha-db-1",
        ], "one record per object, short ID when the name is unknown")
        #expect(checks.items.map(\.status) == [.info, .info, .fail])
        #expect(checks.items[0].remedy == nil && checks.items[1].title.contains("of project beta"))
        let own = checks.items[2]
        #expect(own.observed == "running when the probes were planned, then removed before they finished")
        #expect(own.remedy?.contains("docker compose -p alpha ps") == true)
        #expect(IsolationEvidence.Summary(checks.items).fail == 1)
    }
}
