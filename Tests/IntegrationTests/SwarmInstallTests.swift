import Foundation
import Testing
import FrostbyteCore
import FrostbyteCrypto
import TestSupport

/// `install --swarm`, `status` and `uninstall` on the test bed's real swarm, from its
/// manager: `scripts/swarm up 3`, then
/// `scripts/swarm run fbsw1 -- env FROSTBYTE_BIN=… swift test --filter SwarmInstallTests`
/// (`scripts/swarm run` sets FROSTBYTE_SWARM_NODE; elsewhere the suite does not run).
/// The other nodes are reached through their sockets (`scripts/swarm env fbswN`).
/// Negative controls first: a swarm missing a prepared node is refused naming it, and a
/// worker is refused, both with nothing changed; then the demo bundle prepared on every
/// node deploys healthy across nodes, the gateway answers at status's gateway_url on the
/// manager's loopback (and nowhere else on another node's), and uninstall leaves no
/// service, network or label of the stack.
@Suite("install --swarm from a manager (real swarm of the test bed)", .serialized,
       .enabled(if: SwarmBed.onFirstManager,
                "needs the test bed's manager: scripts/swarm up 3; scripts/swarm run fbsw1 -- swift test --filter SwarmInstallTests"),
       .enabled(if: Docker.demoImagesPresent, "needs scripts/make-demo-images"))
struct SwarmInstallTests {
    static let repository = "\(InstallHarness.projectPrefix)\(TestRun.id)-swarm"
    static let stack = "fbtest-\(TestRun.id)-sw"
    static let port = 18_000 + Int.random(in: 0..<1_000)

    /// DOCKER_HOST of a node of the test bed.
    func host(_ node: String) -> [String: String] { SwarmBed.host(node) }

    func nodes() throws -> [String] {
        try TestCommand.check(["docker", "node", "ls", "--format", "{{.Hostname}}"]).split(separator: "\n").map(String.init).sorted()
    }

    func labels(_ node: String) throws -> String {
        try TestCommand.check(["docker", "node", "inspect", "--format", "{{json .Spec.Labels}}", node])
    }

    func stackServices() throws -> String {
        try TestCommand.check(["docker", "service", "ls", "-q", "--filter", "label=com.docker.stack.namespace=\(Self.stack)"])
    }

    /// Runs a docker removal on `node` until it succeeds (a task's container goes a
    /// moment after `docker stack ps` stops listing it), at most 20 s.
    func removeRetrying(_ arguments: [String], on node: String) {
        for _ in 0..<40 {
            if (try? TestCommand.run(arguments, environment: host(node)))?.status == 0 { return }
            usleep(500_000)
        }
    }

    func json(_ output: CommandOutput) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: output.data) as? [String: Any], "\(output.combined)")
    }

    @Test func deploysAcrossPreparedNodesAndRefusesBeforeAnyChange() throws {
        let nodes = try nodes()
        try #require(nodes.count >= 3, "needs 3 nodes: scripts/swarm up 3")
        let folder = try TestRun.scratchFolder("fbinst-swarm")
        let prefixes = Dictionary(uniqueKeysWithValues: nodes.map { ($0, InstallHarness.prefix("swarm-\($0)")) })
        let manager = SwarmBed.node(1)
        defer {
            _ = try? TestCommand.run(["docker", "stack", "rm", Self.stack])
            for node in nodes {
                let keys = (try? labels(node)) ?? ""
                for key in ["prepared", "pin.gateway", "pin.postgres", "pin.redis", "pin.worker"]
                where keys.contains("io.frostbyte.\(Self.stack).\(key)") {
                    _ = try? TestCommand.run(["docker", "node", "update", "--label-rm", "io.frostbyte.\(Self.stack).\(key)", node])
                }
                let names = ["gateway", "postgres", "redis", "worker"].map { "\(Self.repository)/\($0):1.0" }
                for name in names where (try? TestCommand.run(["docker", "image", "inspect", name], environment: host(node)))?.status == 0 {
                    removeRetrying(["docker", "rmi", name], on: node)
                }
                try? FileManager.default.removeItem(atPath: prefixes[node]!)
            }
            try? FileManager.default.removeItem(atPath: folder)
        }
        let (bundle, trust) = try DemoBundle.signed(repository: Self.repository, in: folder)
        func prepare(_ node: String) throws {
            let result = try TestCommand.tool(["prepare", bundle, "--trust", trust, "--prefix", prefixes[node]!],
                                              environment: host(node))
            try #require(result.status == 0, "prepare on \(node): \(result.combined)")
        }
        let install = ["install", bundle, "--trust", trust, "--swarm", "--project", Self.stack,
                       "--publish", "127.0.0.1:\(Self.port)", "--prefix", prefixes[manager]!, "--timeout", "240"]

        // Negative control: the last node is not prepared; refused naming it, nothing changed.
        for node in nodes.dropLast() { try prepare(node) }
        let records = try FileManager.default.contentsOfDirectory(atPath: "\(prefixes[manager]!)/state/prepared")
        let recordFile = try #require(records.first)
        let recordData = try Data(contentsOf: URL(fileURLWithPath: "\(prefixes[manager]!)/state/prepared/\(recordFile)"))
        let record = try #require(try JSONSerialization.jsonObject(with: recordData) as? [String: Any])
        for id in (record["images"] as? [String: String] ?? [:]).values {
            let held = try TestCommand.run(["docker", "image", "inspect", id], environment: host(nodes.last!))
            try #require(held.status != 0, "\(nodes.last!) already holds \(id) (an earlier run's demo images): start from a fresh test bed")
        }
        let missing = try TestCommand.tool(install)
        #expect(missing.status == 2, "\(missing.combined)")
        #expect(missing.stderr.contains("not prepared") && missing.stderr.contains(nodes.last!), "\(missing.stderr)")
        #expect(try stackServices().isEmpty)
        for node in nodes { #expect(!(try labels(node)).contains("io.frostbyte.\(Self.stack)."), "labels on \(node)") }
        #expect(!FileManager.default.fileExists(atPath: "\(prefixes[manager]!)/state/swarm.json"))

        // Negative control: a worker is not a manager.
        try prepare(nodes.last!)
        let onWorker = try TestCommand.tool(install, environment: host(SwarmBed.node(2)))
        #expect(onWorker.status == 2 && onWorker.stderr.contains("not a swarm manager"), "\(onWorker.combined)")
        #expect(try stackServices().isEmpty)

        // Every node prepared: deployed healthy across nodes, the database on its pin.
        let deployed = try TestCommand.tool(install + ["--json"])
        try #require(deployed.status == 0, "\(deployed.combined)")
        let status = try json(try TestCommand.tool(["status", "--prefix", prefixes[manager]!, "--json"]))
        #expect(status["phase"] as? String == "deployed")
        #expect((status["lacking_replicas"] as? [Any])?.isEmpty == true, "\(status)")
        let services = try #require(status["services"] as? [[String: Any]])
        #expect(services.count == 4)
        var taskNodes: Set<String> = []
        var where_: [String: String] = [:]
        for service in services {
            let tasks = service["tasks"] as? [[String: Any]] ?? []
            #expect(service["running"] as? Int == service["desired"] as? Int && !tasks.isEmpty, "\(service)")
            for task in tasks {
                #expect(task["state"] as? String == "Running", "\(task)")
                taskNodes.insert(task["node"] as? String ?? "")
                where_[service["service"] as? String ?? ""] = task["node"] as? String
            }
        }
        #expect(taskNodes.count >= 2, "tasks on \(taskNodes)")
        let pins = try #require(status["pins"] as? [String: String])
        #expect(pins["postgres"] != nil && where_["postgres"] == pins["postgres"], "\(pins) \(where_)")
        #expect((try labels(pins["postgres"]!)).contains("io.frostbyte.\(Self.stack).pin.postgres"))
        #expect(pins["gateway"] == manager)

        // The gateway answers at gateway_url here (the manager's loopback), not on another node's.
        let url = try #require(status["gateway_url"] as? String)
        #expect(url == "http://127.0.0.1:\(Self.port)")
        let here = try TestCommand.run(["curl", "-s", "-m", "5", "-o", "/dev/null", "-w", "%{http_code}", "\(url)/health"])
        #expect(here.stdout == "200", "\(here.combined)")
        let elsewhere = try TestCommand.run(["ip", "netns", "exec", SwarmBed.node(2), "curl", "-s", "-m", "3", "-o", "/dev/null",
                                             "-w", "%{http_code}", "\(url)/health"])
        #expect(elsewhere.stdout != "200", "the gateway answered on \(SwarmBed.node(2))'s loopback: \(elsewhere.combined)")

        // A re-run converges: nothing applied again, still healthy.
        let again = try json(try TestCommand.tool(install + ["--json"]))
        #expect((again["migrations_applied"] as? [Any])?.isEmpty == true, "\(again)")

        // Uninstall: no service, network or label of the stack stays.
        let removed = try TestCommand.tool(["uninstall", "--prefix", prefixes[manager]!, "--purge-data"])
        #expect(removed.status == 0, "\(removed.combined)")
        #expect(try stackServices().isEmpty)
        let networks = try TestCommand.check(["docker", "network", "ls", "-q", "--filter", "label=com.docker.stack.namespace=\(Self.stack)"])
        #expect(networks.isEmpty, "networks left: \(networks)")
        for node in nodes { #expect(!(try labels(node)).contains("io.frostbyte.\(Self.stack)."), "labels on \(node)") }
        for node in nodes where node != manager {
            let volumes = try TestCommand.check(["docker", "volume", "ls", "-q", "--filter", "name=\(Self.stack)_"], environment: host(node))
            for volume in volumes.split(separator: "\n") {
                #expect(removed.stdout.contains(String(volume)), "uninstall names \(volume) on \(node)")
                removeRetrying(["docker", "volume", "rm", String(volume)], on: node)
            }
        }
    }
}
