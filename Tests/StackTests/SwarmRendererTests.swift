import Foundation
import Testing
@testable import Stack

/// The Swarm rendering of a hardened compose file: every single-host guarantee kept
/// with a key Swarm honours, or refused naming the service and key; each refusal
/// with the control that the same file passes once the guarantee can be kept.
@Suite("Swarm rendering of the hardened compose file")
struct SwarmRendererTests {
    /// A hardened file in the shape `render` writes (the demo's, shortened), plus the
    /// keys whose Swarm form is tested: tmpfs, mem_limit, cpus, pids_limit, read_only.
    static let hardened = """
        name: "${FROSTBYTE_PROJECT:-demo}"
        services:
          postgres:
            image: demo/postgres:1.0
            restart: unless-stopped
            volumes:
            - pgdata:/var/lib/postgresql/data
            healthcheck:
              test: [CMD, pg_isready]
              interval: 2s
              timeout: 3s
              retries: 15
              start_period: 30s
            networks:
              internal: {}
            pull_policy: never
            cap_drop: [NET_RAW]
          gateway:
            image: demo/gateway:1.0
            restart: unless-stopped
            read_only: true
            tmpfs: ["/run:size=1m", /tmp]
            mem_limit: 64m
            cpus: 0.5
            pids_limit: 100
            depends_on:
              postgres: {condition: service_healthy}
            networks:
              internal:
                ipv4_address: "${FROSTBYTE_GATEWAY_IP:-172.29.0.10}"
              ingress: {}
            ports:
            - "${FROSTBYTE_PUBLISH:-127.0.0.1:8080}:8080"
            pull_policy: never
            cap_drop: [NET_RAW]
        networks:
          internal:
            driver: bridge
            internal: true
            ipam:
              config:
              - subnet: "${FROSTBYTE_SUBNET:-172.29.0.0/16}"
          ingress:
            driver: bridge
            internal: false
            labels:
              io.frostbyte.network-role: ingress
        volumes:
          pgdata: {}
        """

    static let ids = ["demo/postgres:1.0": "sha256:" + String(repeating: "a", count: 64),
                      "demo/gateway:1.0": "sha256:" + String(repeating: "b", count: 64)]

    static func options(pins: [String: String] = ["postgres": "node1"], address: String = "127.0.0.1",
                        noNewPrivileges: Bool = false) -> SwarmRenderOptions {
        SwarmRenderOptions(imageIDs: ids, gatewayService: "gateway", gatewayPort: 8080, publishAddress: address,
                           publishPort: 8080, volumePins: pins, nodesEnforceNoNewPrivileges: noNewPrivileges)
    }

    static func parse(_ text: String) throws -> YAMLNode {
        try YAMLParser(bytes: Array(text.utf8), file: "test.yml").parseSingleDocument()
    }

    func render(_ text: String = hardened, _ options: SwarmRenderOptions = options()) throws -> (YAMLNode, SwarmRendering) {
        let rendering = try SwarmRenderer(options: options).render(try Self.parse(text))
        return (try YAMLParser(bytes: rendering.stackYAML, file: "stack.yml").parseSingleDocument(), rendering)
    }

    func refusal(_ text: String, _ options: SwarmRenderOptions = options()) -> SwarmRenderError? {
        do { _ = try render(text, options) } catch let error as SwarmRenderError { return error } catch { return nil }
        return nil
    }

    @Test func keepsEveryGuaranteeWithSwarmKeys() throws {
        let (stack, rendering) = try render()
        let postgres = try #require(stack["services"]?["postgres"])
        let gateway = try #require(stack["services"]?["gateway"])
        #expect(stack["name"] == nil)
        #expect(postgres["image"]?.scalarValue == Self.ids["demo/postgres:1.0"])
        for service in [postgres, gateway] {
            for dropped in ["pull_policy", "restart", "depends_on", "tmpfs", "mem_limit", "cpus", "pids_limit"] {
                #expect(service[dropped] == nil, "\(dropped)")
            }
            #expect(service["cap_drop"]?.sequenceItems?.first?.scalarValue == "NET_RAW")
            #expect(service["deploy"]?["endpoint_mode"]?.scalarValue == "dnsrr")
            #expect(service["deploy"]?["restart_policy"]?["condition"]?.scalarValue == "any")
            #expect(service["deploy"]?["update_config"]?["failure_action"]?.scalarValue == "rollback")
        }
        // postgres's healthcheck may take 30 s + 15 × 2 s: the monitor window is longer.
        #expect(postgres["deploy"]?["update_config"]?["monitor"]?.scalarValue == "65s")
        #expect(postgres["deploy"]?["replicas"]?.scalarValue == "1")
        #expect(postgres["deploy"]?["placement"]?["constraints"]?.sequenceItems?.first?.scalarValue == "node.hostname == node1")
        #expect(gateway["read_only"]?.scalarValue == "true")
        let limits = gateway["deploy"]?["resources"]?["limits"]
        #expect(limits?["memory"]?.scalarValue == "64m" && limits?["cpus"]?.scalarValue == "0.5" && limits?["pids"]?.scalarValue == "100")
        let mounts = gateway["volumes"]?.sequenceItems ?? []
        #expect(mounts.map { $0["target"]?.scalarValue } == ["/run", "/tmp"])
        #expect(mounts.first?["type"]?.scalarValue == "tmpfs" && mounts.first?["tmpfs"]?["size"]?.scalarValue == "1048576")
        let port = gateway["ports"]?.sequenceItems?.first
        #expect(port?["mode"]?.scalarValue == "host" && port?["published"]?.scalarValue == "8080")
        // The gateway's tasks say where they are published (their node's firewall reads it); no other service's do.
        #expect(gateway["labels"]?[SwarmRenderer.publishLabel]?.scalarValue == "127.0.0.1:8080")
        #expect(postgres["labels"]?[SwarmRenderer.publishLabel] == nil)
        #expect(gateway["networks"]?["internal"]?["ipv4_address"] == nil)
        #expect(gateway["networks"]?["ingress"] != nil && postgres["networks"]?["ingress"] == nil)
        let internalNetwork = stack["networks"]?["internal"]
        #expect(internalNetwork?["driver"]?.scalarValue == "overlay")
        #expect(internalNetwork?["internal"]?.scalarValue == "true" && internalNetwork?["attachable"]?.scalarValue == "false")
        #expect(internalNetwork?["ipam"] != nil)
        #expect(stack["networks"]?["ingress"]?["internal"]?.scalarValue == "false")
        #expect(rendering.obligations.contains { $0.contains("only on 127.0.0.1") })
        #expect(rendering.obligations.contains { $0.contains("docker_gwbridge") })
        // Control: published on every address, no address rule is owed.
        let (_, everywhere) = try render(Self.hardened, Self.options(address: "0.0.0.0"))
        #expect(!everywhere.obligations.contains { $0.contains("only on") })
    }

    @Test func refusesWhatSwarmCannotKeepNamingServiceAndKey() throws {
        let noNewPrivileges = Self.hardened.replacingOccurrences(
            of: "    read_only: true\n", with: "    read_only: true\n    security_opt: [\"no-new-privileges:true\"]\n")
        let refused = try #require(refusal(noNewPrivileges))
        #expect(refused.service == "gateway" && refused.key == "security_opt")
        #expect(refused.message.contains("service 'gateway'") && refused.message.contains("'security_opt'"))
        // Control: the nodes enforce it, so the same file renders, without the key.
        let (kept, _) = try render(noNewPrivileges, Self.options(noNewPrivileges: true))
        #expect(kept["services"]?["gateway"]?["security_opt"] == nil)

        let unpinned = try #require(refusal(Self.hardened, Self.options(pins: [:])))
        #expect(unpinned.service == "postgres" && unpinned.key == "volumes")

        let twoReplicas = Self.hardened.replacingOccurrences(
            of: "    pull_policy: never\n    cap_drop: [NET_RAW]\n  gateway:",
            with: "    pull_policy: never\n    cap_drop: [NET_RAW]\n    deploy: {replicas: 2}\n  gateway:")
        #expect(try #require(refusal(twoReplicas)).key == "deploy.replicas")

        let noexec = Self.hardened.replacingOccurrences(of: "\"/run:size=1m\"", with: "\"/run:noexec\"")
        #expect(try #require(refusal(noexec)).key == "tmpfs")

        let unknown = Self.hardened.replacingOccurrences(of: "    read_only: true\n", with: "    read_only: true\n    shm_size: 64m\n")
        let unknownError = try #require(refusal(unknown))
        #expect(unknownError.key == "shm_size" && unknownError.message.contains("nothing is dropped silently"))

        var withoutID = Self.options()
        withoutID.imageIDs["demo/gateway:1.0"] = nil
        #expect(try #require(refusal(Self.hardened, withoutID)).key == "image")

        let openNetwork = Self.hardened.replacingOccurrences(of: "    labels:\n      io.frostbyte.network-role: ingress\n", with: "")
        #expect(try #require(refusal(openNetwork)).key == "networks.ingress")
    }

    /// `install --swarm`'s placement: every service constrained to the prepared-node
    /// label, pinned services (the gateway too) by their pin label, not their hostname.
    @Test func placesByPreparedAndPinLabels() throws {
        var options = Self.options(pins: ["postgres": "node1", "gateway": "node2"])
        options.constraints = ["node.labels.io.frostbyte.s.prepared == demo-1"]
        options.pinLabel = "io.frostbyte.s.pin"
        let (stack, _) = try render(Self.hardened, options)
        func constraints(_ service: String) -> [String] {
            stack["services"]?[service]?["deploy"]?["placement"]?["constraints"]?.sequenceItems?.compactMap(\.scalarValue) ?? []
        }
        #expect(constraints("postgres") == ["node.labels.io.frostbyte.s.prepared == demo-1", "node.labels.io.frostbyte.s.pin.postgres == true"])
        #expect(constraints("gateway") == ["node.labels.io.frostbyte.s.prepared == demo-1", "node.labels.io.frostbyte.s.pin.gateway == true"])
        #expect(stack["services"]?["gateway"]?["deploy"]?["replicas"] == nil, "a pinned service without volumes keeps its replicas")
        // Control: without the options, only the volume owner is placed, by hostname.
        let (plain, _) = try render()
        #expect(plain["services"]?["gateway"]?["deploy"]?["placement"] == nil)
        #expect(SwarmRenderer.ownsNamedVolumes(try #require(plain["services"]?["postgres"])))
        #expect(!SwarmRenderer.ownsNamedVolumes(try #require(plain["services"]?["gateway"])))
    }

    @Test(arguments: [("2s", 2.0), ("1m30s", 90.0), ("500ms", 0.5), ("1h", 3600.0)])
    func composeDurations(text: String, seconds: Double) {
        #expect(SwarmRenderer.seconds(text) == seconds)
    }

    @Test(arguments: [("65536", 65536), ("64k", 65536), ("1m", 1_048_576), ("2G", 2_147_483_648)])
    func tmpfsSizes(text: String, bytes: Int) {
        #expect(SwarmRenderer.bytes(text) == bytes)
    }

    @Test func unreadableSizesAndDurationsAreNil() {
        #expect(SwarmRenderer.bytes("50%") == nil)
        #expect(SwarmRenderer.bytes("m") == nil)
        #expect(SwarmRenderer.seconds("soon") == nil)
        #expect(SwarmRenderer.seconds("5") == nil)
        #expect(SwarmRenderer.seconds("") == nil)
    }
}
