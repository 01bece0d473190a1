import Foundation
import Testing
import FrostbyteCore
import FrostbyteCrypto
import TestSupport

/// Isolation proven on every node of the test bed's swarm (docs/SWARM.md, "Isolation
/// on every node"), from one deploy shared by every check: the demo bundle prepared on
/// every node and installed from the manager (the gateway pinned there, so install
/// puts up its firewall rules itself), then `check-isolation` on each node in that
/// node's network namespace, and the negative controls:
/// - a firewall rule of the gateway's node deleted: check-isolation and status name it
///   and the gateway answers at the node's LAN address from the canary; `repair` puts
///   it back;
/// - a stack on a deliberately non-internal overlay on another node: its task
///   reaches that node's canary;
/// and `uninstall` removes the stack's rules. Runs only on the bed's manager
/// (`scripts/swarm run fbsw1 -- swift test --filter SwarmIsolationTests`).
@Suite("isolation on every node of a swarm (real swarm of the test bed)", .serialized,
       .enabled(if: SwarmBed.onFirstManager,
                "needs the test bed's manager: scripts/swarm up 3; scripts/swarm run fbsw1 -- swift test --filter SwarmIsolationTests"),
       .enabled(if: Docker.demoImagesPresent, "needs scripts/make-demo-images"))
struct SwarmIsolationTests {
    static let repository = "\(InstallHarness.projectPrefix)\(TestRun.id)-swiso"
    static let stack = "fbtest-\(TestRun.id)-si"
    static let leaky = "fbtest-\(TestRun.id)-leak"
    static let tenant = "fbtest-\(TestRun.id)-sb"
    static let encrypted = "fbtest-\(TestRun.id)-se"
    static let port = 19_000 + Int.random(in: 0..<1_000)
    /// Where the gateway node's boot unit goes (FROSTBYTE_SYSTEMD_DIR): the host has no systemd.
    static let systemd = "\(TestRun.repositoryRoot)/.build/fbtest-\(TestRun.id)-swiso-systemd"
    static var unitEnvironment: [String: String] { ["FROSTBYTE_SYSTEMD_DIR": systemd] }

    func nodes() throws -> [String] {
        try TestCommand.check(["docker", "node", "ls", "--format", "{{.Hostname}}"]).split(separator: "\n").map(String.init).sorted()
    }

    /// The tool in `node`'s network namespace, against its engine.
    func tool(_ arguments: [String], on node: String) throws -> CommandOutput {
        try TestCommand.run(["nsenter", "--net=/run/netns/\(node)", FrostbyteBinary.path] + arguments,
                            environment: SwarmBed.host(node).merging(Self.unitEnvironment) { a, _ in a })
    }

    /// `check-isolation --json` on `node`: the evidence and the exit status.
    func check(_ prefix: String, on node: String, extra: [String] = []) throws -> (status: Int32, checks: [String: [String: Any]], seconds: Double) {
        let started = Date()
        let output = try tool(["check-isolation", "--prefix", prefix, "--json"] + extra, on: node)
        let seconds = Date().timeIntervalSince(started)
        let evidence = try #require(try JSONSerialization.jsonObject(with: output.data) as? [String: Any], "\(output.combined)")
        #expect(evidence["schema"] as? String == "frostbyte-bundle/isolation-evidence/1")
        var checks: [String: [String: Any]] = [:]
        for check in evidence["checks"] as? [[String: Any]] ?? [] { checks[check["id"] as? String ?? ""] = check }
        return (output.status, checks, seconds)
    }

    func failing(_ checks: [String: [String: Any]]) -> [String] {
        checks.filter { $0.value["status"] as? String == "fail" }.map(\.key).sorted()
    }

    func rules(_ node: String) throws -> String {
        try TestCommand.check(["nsenter", "--net=/run/netns/\(node)", "iptables", "-w", "-S"])
    }

    @Test func everyNodeProvesIsolationAndTheNegativeControlsAreCaught() throws {
        let nodes = try nodes()
        try #require(nodes.count >= 3, "needs 3 nodes: scripts/swarm up 3")
        let manager = SwarmBed.node(1), far = nodes.last!
        let folder = try TestRun.scratchFolder("fbiso-swarm")
        let prefixes = Dictionary(uniqueKeysWithValues: nodes.map { ($0, InstallHarness.prefix("swiso-\($0)")) })
        let tenantPrefix = InstallHarness.prefix("swiso-tenant"), encryptedPrefix = InstallHarness.prefix("swiso-enc")
        defer {
            for stack in [Self.stack, Self.leaky, Self.tenant, Self.encrypted] { _ = try? TestCommand.run(["docker", "stack", "rm", stack]) }
            for prefix in [prefixes[manager]!, tenantPrefix, encryptedPrefix] { _ = try? tool(["uninstall", "--prefix", prefix], on: manager) }
            for node in nodes {
                for stack in [Self.stack, Self.tenant, Self.encrypted] {
                    for key in ["prepared", "pin.gateway", "pin.postgres", "pin.redis", "pin.worker"] {
                        _ = try? TestCommand.run(["docker", "node", "update", "--label-rm", "io.frostbyte.\(stack).\(key)", node])
                    }
                }
                try? FileManager.default.removeItem(atPath: prefixes[node]!)
                // The stacks' volumes on this node (uninstall keeps them); a task's container goes a moment after its stack.
                for stack in [Self.stack, Self.tenant, Self.encrypted] {
                    let volumes = (try? TestCommand.check(["docker", "volume", "ls", "-q", "--filter", "name=\(stack)_"],
                                                          environment: SwarmBed.host(node))) ?? ""
                    for volume in volumes.split(separator: "\n") {
                        for _ in 0..<40 {
                            if (try? TestCommand.run(["docker", "volume", "rm", String(volume)], environment: SwarmBed.host(node)))?.status == 0 { break }
                            usleep(500_000)
                        }
                    }
                }
            }
            for prefix in [tenantPrefix, encryptedPrefix] { try? FileManager.default.removeItem(atPath: prefix) }
            try? FileManager.default.removeItem(atPath: folder)
            try? FileManager.default.removeItem(atPath: Self.systemd)
        }
        try FileManager.default.createDirectory(atPath: Self.systemd, withIntermediateDirectories: true)
        let unit = "\(Self.systemd)/frostbyte-bundle-swarm-\(Self.stack).service"
        let (bundle, trust) = try DemoBundle.signed(repository: Self.repository, in: folder)
        for node in nodes {
            let prepared = try TestCommand.tool(["prepare", bundle, "--trust", trust, "--prefix", prefixes[node]!],
                                                environment: SwarmBed.host(node))
            try #require(prepared.status == 0, "prepare on \(node): \(prepared.combined)")
        }
        let installed = try TestCommand.tool(["install", bundle, "--trust", trust, "--swarm", "--project", Self.stack,
                                              "--publish", "127.0.0.1:\(Self.port)", "--prefix", prefixes[manager]!,
                                              "--timeout", "240", "--json"], environment: Self.unitEnvironment)
        try #require(installed.status == 0, "\(installed.combined)")
        let result = try #require(try JSONSerialization.jsonObject(with: installed.data) as? [String: Any])
        #expect((result["not_enforced"] as? [Any])?.isEmpty == true, "\(result)")
        let marker = "frostbyte-bundle swarm stack=\(Self.stack) "
        #expect(try rules(manager).components(separatedBy: marker).count - 1 == 5, "the gateway's rules on \(manager)")
        let unitText = try String(contentsOfFile: unit, encoding: .utf8)
        #expect(unitText.contains("repair --prefix \(prefixes[manager]!)") && unitText.contains("Before=docker.service"), "\(unitText)")

        // Every node: the stack's tasks there are isolated, and reach their peers by name.
        var seconds: [String: Double] = [:]
        for node in nodes {
            let run = try check(prefixes[node]!, on: node)
            seconds[node] = run.seconds
            #expect(run.status == 0 && failing(run.checks).isEmpty, "\(node): \(failing(run.checks))")
            let peers = run.checks.keys.filter { $0.hasPrefix("control.swarm-peer/") }
            #expect(!peers.isEmpty, "\(node) probed no peer across nodes")
            #expect(run.checks.keys.contains { $0.hasPrefix("egress.tcp/") }, "\(node) probed no egress")
            if node == manager {
                #expect(run.checks["control.gateway-http"]?["status"] as? String == "pass")
                #expect(run.checks["control.gateway-lan/canary"]?["status"] as? String == "pass")
                #expect(run.checks["control.canary-to-node"]?["status"] as? String == "pass", "the LAN probe's positive control")
            }
        }
        print("check-isolation per node (s): \(seconds.sorted { $0.key < $1.key }.map { "\($0.key) \(String(format: "%.1f", $0.value))" }.joined(separator: ", "))")

        // Two tenants: a second stack of the same bundle on its own subnet. On every
        // node each stack's check passes, other stacks' names resolve nowhere, and a
        // task of one cannot reach the other's task on another node by its address.
        let second = try TestCommand.tool(["install", bundle, "--trust", trust, "--swarm", "--project", Self.tenant,
                                           "--subnet", "10.231.0.0/16", "--publish", "127.0.0.1:\(Self.port + 1)",
                                           "--prefix", tenantPrefix, "--timeout", "240"], environment: Self.unitEnvironment)
        try #require(second.status == 0, "\(second.combined)")
        for node in nodes {
            for stack in [Self.stack, Self.tenant] {
                let run = try check(prefixes[node]!, on: node, extra: ["--project", stack])
                #expect(run.status == 0 && failing(run.checks).isEmpty, "\(stack) on \(node): \(failing(run.checks))")
                #expect(run.checks.keys.contains { $0.hasPrefix("cross-project.swarm-name/") }, "\(stack) on \(node): no name probe")
            }
        }
        func task(_ stack: String, _ service: String) throws -> (node: String, pid: String, address: String) {
            for node in nodes {
                let id = try TestCommand.check(["docker", "ps", "-q", "--filter", "label=com.docker.swarm.service.name=\(stack)_\(service)"],
                                               environment: SwarmBed.host(node)).split(separator: "\n").first
                guard let id else { continue }
                let facts = try TestCommand.check(["docker", "inspect", "--format", "{{.State.Pid}} {{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}", String(id)],
                                                  environment: SwarmBed.host(node)).split(separator: " ").map(String.init)
                let address = try #require(facts.dropFirst().first { !$0.hasPrefix("10.0.") && $0.contains(".") })
                return (node, facts[0], address)
            }
            throw TestFailure("no task of \(stack)_\(service) runs")
        }
        /// From the namespace of process `pid`: TCP to ADDRESS:9; true when it got there (accepted or reset).
        func reaches(_ pid: String, _ address: String) throws -> Bool {
            let probe = try TestCommand.run(["nsenter", "--net=/proc/\(pid)/ns/net", "timeout", "3", "bash", "-c", "exec 3<>/dev/tcp/\(address)/9"])
            return probe.stderr.contains("Connection refused") || probe.status == 0
        }
        let gatewayA = try task(Self.stack, "gateway"), postgresA = try task(Self.stack, "postgres"), postgresB = try task(Self.tenant, "postgres")
        #expect(gatewayA.node != postgresB.node, "the probe must cross nodes")
        #expect(try reaches(gatewayA.pid, postgresA.address), "control: \(Self.stack)'s gateway reaches its postgres on \(postgresA.node)")
        #expect(!(try reaches(gatewayA.pid, postgresB.address)), "\(Self.stack)'s gateway reached \(Self.tenant)'s postgres on \(postgresB.node)")
        let removedTenant = try tool(["uninstall", "--prefix", tenantPrefix], on: manager)
        #expect(removedTenant.status == 0, "\(removedTenant.combined)")

        // Negative control: the gateway's node misses a rule; named, and the gateway
        // answers at the node's LAN address; repair puts it back.
        let forward = try #require(try rules(manager).split(separator: "\n").first { $0.contains(marker + "port=\(Self.port) forward") })
        _ = try TestCommand.check(["nsenter", "--net=/run/netns/\(manager)", "sh", "-c",
                                   "iptables -w " + forward.replacingOccurrences(of: "-A DOCKER-USER", with: "-D DOCKER-USER")])
        let missing = try check(prefixes[manager]!, on: manager)
        #expect(missing.status == 1)
        #expect(failing(missing.checks).contains("configuration.swarm-firewall/port=\(Self.port) forward"), "\(failing(missing.checks))")
        #expect(failing(missing.checks).contains("control.gateway-lan/canary"), "\(failing(missing.checks))")
        let degraded = try tool(["status", "--prefix", prefixes[manager]!, "--json"], on: manager)
        let missingRules = try #require(try JSONSerialization.jsonObject(with: degraded.data) as? [String: Any])["firewall_rules_missing"] as? [String]
        #expect(degraded.status == 1 && missingRules?.count == 1 && missingRules?.first?.contains("DOCKER-USER") == true, "\(degraded.combined)")
        let repaired = try tool(["repair", "--prefix", prefixes[manager]!], on: manager)
        #expect(repaired.status == 0 && repaired.stdout.contains("1 of 6 firewall rules restored"), "\(repaired.combined)")
        #expect(try tool(["status", "--prefix", prefixes[manager]!], on: manager).status == 0, "status after repair")

        // Negative control: a stack on a non-internal overlay, on a node without the
        // gateway's rules, reaches that node's canary.
        let worker = try TestCommand.check(["docker", "service", "inspect", "--format", "{{.Spec.TaskTemplate.ContainerSpec.Image}}",
                                            "\(Self.stack)_worker"]).trimmingCharacters(in: .whitespacesAndNewlines)
        let label = try TestCommand.check(["docker", "service", "inspect", "--format",
                                           "{{index .Spec.TaskTemplate.ContainerSpec.Labels \"io.frostbyte.bundle\"}}",
                                           "\(Self.stack)_worker"]).trimmingCharacters(in: .whitespacesAndNewlines)
        let leakyFile = "\(folder)/leaky.yml"
        try """
            services:
              leak:
                image: "\(worker)"
                entrypoint: ["sleep", "600"]
                labels: {io.frostbyte.bundle: "\(label)", io.frostbyte.project: "\(Self.leaky)"}
                networks: [open]
                deploy:
                  placement: {constraints: ["node.hostname == \(far)"]}
            networks:
              open: {driver: overlay, internal: false, labels: {io.frostbyte.project: "\(Self.leaky)"}}
            """.write(toFile: leakyFile, atomically: true, encoding: .utf8)
        _ = try TestCommand.check(["docker", "stack", "deploy", "--detach=true", "--resolve-image", "never", "-c", leakyFile, Self.leaky])
        var running = false
        for _ in 0..<60 where !running {
            running = (try? TestCommand.check(["docker", "ps", "-q", "--filter", "label=com.docker.stack.namespace=\(Self.leaky)"],
                                              environment: SwarmBed.host(far)))?.isEmpty == false
            if !running { usleep(500_000) }
        }
        try #require(running, "the leaky task never ran on \(far)")
        let leak = try check(prefixes[far]!, on: far, extra: ["--project", Self.leaky])
        #expect(leak.status == 1)
        #expect(failing(leak.checks).contains { $0.hasPrefix("egress.tcp/\(Self.leaky)_leak") }, "\(failing(leak.checks))")
        #expect(failing(leak.checks).contains("egress.canary-received"), "\(failing(leak.checks))")

        // Uninstall on the manager removes the stack's rules there.
        let removed = try tool(["uninstall", "--prefix", prefixes[manager]!], on: manager)
        #expect(removed.status == 0 && removed.stdout.contains("firewall rule removed"), "\(removed.combined)")
        #expect(!(try rules(manager)).contains(marker))
        #expect(!FileManager.default.fileExists(atPath: unit), "uninstall leaves the boot unit")

        // An encrypted overlay on this kernel drops every cross-node packet: install
        // says so (exit 1, the record 'failed') instead of leaving a stack that never talks.
        let encrypted = try TestCommand.tool(["install", bundle, "--trust", trust, "--swarm", "--project", Self.encrypted,
                                              "--encrypt-overlay", "--publish", "127.0.0.1:\(Self.port + 2)",
                                              "--prefix", encryptedPrefix, "--timeout", "240"], environment: Self.unitEnvironment)
        #expect(encrypted.status == 1, "\(encrypted.combined)")
        #expect(encrypted.stderr.contains("carries no traffic between nodes") && encrypted.stderr.contains("ESP"), "\(encrypted.stderr)")
        let overlay = try TestCommand.check(["docker", "network", "inspect", "--format", "{{json .Options}}", "\(Self.encrypted)_demo-internal"])
        #expect(overlay.contains("encrypted"), "\(overlay)")
        let state = try TestCommand.tool(["status", "--prefix", encryptedPrefix, "--json"])
        #expect(state.stdout.contains("\"phase\" : \"failed\"") || state.stdout.contains("\"phase\":\"failed\""), "\(state.combined)")
        #expect(try tool(["uninstall", "--prefix", encryptedPrefix], on: manager).status == 0)
    }
}
