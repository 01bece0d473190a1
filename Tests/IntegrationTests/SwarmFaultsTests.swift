import Foundation
import Testing
import BundleFormat
import FrostbyteCore
import FrostbyteCrypto
import TestSupport

/// Faults and growth of a Swarm install on the test bed's real swarm, from its manager
/// (`scripts/swarm up 3`, then `scripts/swarm run <bed>1 -- swift test --filter
/// SwarmFaultsTests`), one deploy shared by every step:
///
/// 1. `export` against the data's node: refused on the manager naming the node where
///    postgres runs; on that node the export holds a row written just before.
/// 2. A node lost (its dockerd stopped): `status` names it and the services lacking
///    replicas (exit 1); the unpinned worker runs all its replicas again on the other
///    nodes; then the pinned databases' node lost: reported as pinned and not moved, no
///    task of them anywhere else. Both nodes back: whole again (exit 0).
/// 3. A 4th node joins unprepared: a scale-up gives it no task and `install` refuses
///    naming it, nothing changed; prepared and installed again, it is labelled and a
///    scale-up runs a task there. The node is removed at the end.
@Suite("Swarm faults and growth (real swarm of the test bed)", .serialized,
       .enabled(if: SwarmBed.onFirstManager,
                "needs the test bed's manager: scripts/swarm up 3; scripts/swarm run fbsw1 -- swift test --filter SwarmFaultsTests"),
       .enabled(if: Docker.demoImagesPresent, "needs scripts/make-demo-images"))
struct SwarmFaultsTests {
    static let repository = "\(InstallHarness.projectPrefix)\(TestRun.id)-flt"
    static let stack = "fbtest-\(TestRun.id)-flt"
    static let port = 19_000 + Int.random(in: 0..<1_000)

    func json(_ output: CommandOutput) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: output.data) as? [String: Any], "\(output.combined)")
    }

    func labels(_ node: String) throws -> String {
        try TestCommand.check(["docker", "node", "inspect", "--format", "{{json .Spec.Labels}}", node])
    }

    /// `scripts/swarm ARGS` of this bed (`SwarmBedControl.run`).
    func swarm(_ arguments: [String]) throws { try SwarmBedControl.run(arguments) }

    /// The current tasks (desired Running) of the stack's `service`: node → state.
    func tasks(_ service: String) throws -> [(node: String, state: String)] {
        try TestCommand.check(["docker", "service", "ps", "--filter", "desired-state=running", "--format",
                               "{{.Node}} {{.CurrentState}}", "\(Self.stack)_\(service)"])
            .split(separator: "\n").map { line in
                let fields = line.split(separator: " ").map(String.init)
                return (fields.first ?? "", fields.count > 1 ? fields[1] : "")
            }
    }

    /// Polls `condition` every half second for at most `seconds`; the time it took, nil on timeout.
    func wait(_ seconds: Double, _ condition: () throws -> Bool) rethrows -> Double? {
        let start = Date()
        while Date().timeIntervalSince(start) < seconds {
            if try condition() { return Date().timeIntervalSince(start) }
            usleep(500_000)
        }
        return nil
    }

    /// The current tasks of `service`, for a failure message.
    func shown(_ service: String) -> String { "\((try? tasks(service)) ?? [])" }

    func scale(_ service: String, _ replicas: Int) throws {
        try TestCommand.check(["docker", "service", "scale", "--detach", "\(Self.stack)_\(service)=\(replicas)"])
    }

    @Test func nodeLostGrowthAndExportFromTheDataNode() throws {
        let nodes = try TestCommand.check(["docker", "node", "ls", "--format", "{{.Hostname}}"])
            .split(separator: "\n").map(String.init).sorted()
        let (manager, data, spare) = (SwarmBed.node(1), SwarmBed.node(2), SwarmBed.node(3))
        try #require(nodes == [manager, data, spare], "needs exactly the 3 nodes of scripts/swarm up 3, not \(nodes)")
        let fourth = SwarmBed.node(4)
        let folder = try TestRun.scratchFolder("fbflt-swarm")
        let prefixes = Dictionary(uniqueKeysWithValues: (nodes + [fourth]).map { ($0, InstallHarness.prefix("flt-\($0)")) })
        var stopped: Set<String> = []
        var joined = false
        defer {
            for node in stopped { try? swarm(["start", node]) }
            _ = try? TestCommand.tool(["uninstall", "--prefix", prefixes[manager]!, "--purge-data"])
            _ = try? TestCommand.run(["docker", "stack", "rm", Self.stack])
            if joined { try? swarm(["down", fourth]) }
            for node in nodes {
                if let keys = try? labels(node) {
                    for key in ["prepared", "pin.gateway", "pin.postgres", "pin.redis"] where keys.contains("io.frostbyte.\(Self.stack).\(key)") {
                        _ = try? TestCommand.run(["docker", "node", "update", "--label-rm", "io.frostbyte.\(Self.stack).\(key)", node])
                    }
                }
                for volume in ["pgdata", "redisdata"] {
                    for _ in 0..<20 {
                        let gone = (try? TestCommand.run(["docker", "volume", "rm", "\(Self.stack)_\(volume)"], environment: SwarmBed.host(node)))
                            .map { $0.status == 0 || $0.stderr.contains("no such volume") } ?? true
                        if gone { break }
                        usleep(500_000)
                    }
                }
                for name in ["gateway", "postgres", "redis", "worker"] {
                    _ = try? TestCommand.run(["docker", "rmi", "\(Self.repository)/\(name):1.0"], environment: SwarmBed.host(node))
                }
            }
            for prefix in prefixes.values { try? FileManager.default.removeItem(atPath: prefix) }
            try? FileManager.default.removeItem(atPath: folder)
        }

        // The demo with a stateless worker (Swarm may move it) and two export steps of postgres.
        let key = try SigningKey.generate()
        try key.publicPEM().write(to: URL(fileURLWithPath: "\(folder)/release.pub"))
        var spec = DemoBundle(signingKey: key)
        spec.repository = Self.repository
        spec.statelessWorker = true
        spec.exports = [
            .init(name: "audit.csv", service: "postgres", command: ["psql", "-X", "-U", "frostbyte", "-d", "frostbyte", "-v",
                  "ON_ERROR_STOP=1", "-c", "COPY (SELECT * FROM audit_log ORDER BY id) TO STDOUT WITH CSV HEADER"]),
            .init(name: "frostbyte.pgdump", service: "postgres",
                  command: ["pg_dump", "-U", "frostbyte", "-d", "frostbyte", "--format=custom", "--no-owner"]),
        ]
        let bundle = try spec.write(in: folder)
        let trust = "\(folder)/release.pub"
        func prepare(_ node: String) throws {
            let result = try TestCommand.tool(["prepare", bundle, "--trust", trust, "--prefix", prefixes[node]!],
                                              environment: SwarmBed.host(node))
            try #require(result.status == 0, "prepare on \(node): \(result.combined)")
        }
        func status() throws -> (exit: Int32, json: [String: Any], text: String) {
            let result = try TestCommand.tool(["status", "--prefix", prefixes[manager]!, "--json"])
            let text = try TestCommand.tool(["status", "--prefix", prefixes[manager]!])
            return (result.status, try json(result), text.stdout)
        }
        let install = ["install", bundle, "--trust", trust, "--swarm", "--project", Self.stack,
                       "--publish", "127.0.0.1:\(Self.port)", "--prefix", prefixes[manager]!, "--timeout", "240",
                       "--pin", "postgres=\(data)", "--pin", "redis=\(data)"]
        for node in nodes { try prepare(node) }
        let deployed = try TestCommand.tool(install + ["--json"])
        try #require(deployed.status == 0, "\(deployed.combined)")
        let whole = try status()
        #expect(whole.exit == 0 && (whole.json["faults"] as? [Any])?.isEmpty == true, "\(whole.text)")
        #expect((whole.json["pins"] as? [String: String])?["worker"] == nil, "the stateless worker is not pinned: \(whole.json)")

        // 1. Export against the data's node. A row written first must be in the dump.
        let sku = "flt-\(TestRun.id)"
        let postgresID = try TestCommand.check(["docker", "ps", "-q", "--filter", "label=com.docker.swarm.service.name=\(Self.stack)_postgres"],
                                               environment: SwarmBed.host(data))
        try #require(!postgresID.isEmpty, "no postgres container on \(data)")
        try TestCommand.check(["docker", "exec", postgresID, "psql", "-X", "-U", "frostbyte", "-d", "frostbyte", "-v", "ON_ERROR_STOP=1",
                               "-c", "INSERT INTO items (sku, name) VALUES ('\(sku)', 'written before the export')"], environment: SwarmBed.host(data))
        let onManager = try TestCommand.tool(["export", "--prefix", prefixes[manager]!, "-o", "\(folder)/manager-export.tar.zst"])
        #expect(onManager.status == 2 && onManager.stderr.contains("postgres on \(data)") && onManager.stderr.contains("run 'frostbyte-bundle export"),
                "\(onManager.combined)")
        #expect(!FileManager.default.fileExists(atPath: "\(folder)/manager-export.tar.zst"))
        let elsewhere = try TestCommand.tool(["export", "--prefix", prefixes[spare]!, "-o", "\(folder)/spare-export.tar.zst"],
                                             environment: SwarmBed.host(spare))
        #expect(elsewhere.status == 2 && elsewhere.stderr.contains("no stack prepared under"), "\(elsewhere.combined)")
        let exported = try TestCommand.tool(["export", "--prefix", prefixes[data]!, "-o", "\(folder)/export.tar.zst", "--json"],
                                            environment: SwarmBed.host(data))
        try #require(exported.status == 0, "\(exported.combined)")
        #expect(try TestCommand.tool(["verify-bundle", "\(folder)/export.tar.zst"]).status == 0)
        let csv = try TestCommand.check(["tar", "--zstd", "-xOf", "\(folder)/export.tar.zst", "--wildcards", "*data/audit.csv"])
        #expect(csv.contains(sku), "the exported audit log lacks the row written before: \(csv.prefix(400))")
        #expect(!csv.contains("flt-never-written"), "negative control")

        // 2. A node lost. The worker scaled to one task per node; the spare node holds no pin.
        try scale("worker", 3)
        let spread = try wait(90) { let t = try tasks("worker"); return Set(t.map(\.node)).count == 3 && t.allSatisfy { $0.state == "Running" } }
        try #require(spread != nil, "worker not on 3 nodes: \(shown("worker"))")
        stopped.insert(spare); try swarm(["stop", spare])
        let stoppedAt = Date()
        let noticed = try wait(60) { ((try status().json["nodes_down"]) as? [String])?.contains(spare) == true }
        try #require(noticed != nil, "status never named \(spare) down")
        let degraded = try status()
        #expect(degraded.exit == 1, "status exit \(degraded.exit) with \(spare) down: \(degraded.text)")
        #expect(degraded.text.contains("nodes down: \(spare) (prepared for this stack)"), "\(degraded.text)")
        let moved = try wait(120) {
            let t = try tasks("worker")
            return t.count == 3 && t.allSatisfy { $0.node != spare && $0.state == "Running" }
        }
        #expect(moved != nil, "the worker's tasks did not run again on the other nodes: \(shown("worker"))")
        let rescheduled = Date().timeIntervalSince(stoppedAt)
        print("SwarmFaultsTests: \(spare) seen down after \(String(format: "%.1f", noticed ?? 0)) s; worker 3/3 again on the other nodes \(String(format: "%.1f", rescheduled)) s after the stop")
        print("SwarmFaultsTests: status with \(spare) down:\n\(degraded.text)")
        let afterMove = try status()
        #expect(afterMove.exit == 1, "a labelled node is still down: \(afterMove.text)")
        #expect((afterMove.json["lacking_replicas"] as? [String])?.contains("worker") != true, "\(afterMove.text)")

        // The databases' node lost too: pinned, reported, never moved.
        stopped.insert(data); try swarm(["stop", data])
        let pinnedReported = try wait(60) {
            ((try status().json["faults"]) as? [[String: Any]])?.contains {
                $0["service"] as? String == "postgres" && $0["pinned_node_down"] as? Bool == true
            } == true
        }
        let lost = try status()
        #expect(pinnedReported != nil, "\(lost.text)")
        print("SwarmFaultsTests: status with \(spare) and \(data) down:\n\(lost.text)")
        #expect(lost.exit == 1)
        #expect(lost.text.contains("postgres 0/1: pinned to \(data), which is down: not moved; its data is there"), "\(lost.text)")
        #expect(lost.text.contains("redis 0/1: pinned to \(data)"), "\(lost.text)")
        usleep(5_000_000)  // time enough for Swarm to move it, were it allowed to
        for service in ["postgres", "redis"] {
            let running = try tasks(service).filter { $0.node != data && ["Running", "Starting", "Preparing", "Assigned"].contains($0.state) }
            #expect(running.isEmpty, "\(service) moved off its pinned node: \(running)")
        }

        // Both back: whole again.
        let restartedAt = Date()
        try swarm(["start", data]); stopped.remove(data)
        try swarm(["start", spare]); stopped.remove(spare)
        let recovered = try wait(180) { try status().exit == 0 }
        #expect(recovered != nil, "status not whole after both nodes came back: \((try? status().text) ?? "")")
        print("SwarmFaultsTests: whole again \(String(format: "%.1f", Date().timeIntervalSince(restartedAt))) s after starting \(data) and \(spare)")
        let postgresNode = try tasks("postgres").map(\.node)
        #expect(postgresNode == [data], "postgres runs on \(postgresNode), pinned to \(data)")

        // 3. A 4th node joins, unprepared: no task, and the deploy names it.
        try swarm(["join"]); joined = true
        let ready = try wait(30) { try TestCommand.check(["docker", "node", "ls", "--format", "{{.Hostname}} {{.Status}}"]).contains("\(fourth) Ready") }
        try #require(ready != nil, "\(fourth) did not join")
        try scale("worker", 4)
        let fourRunning = try wait(90) { try tasks("worker").filter { $0.state == "Running" }.count == 4 }
        #expect(fourRunning != nil, "\(shown("worker"))")
        #expect(!(try tasks("worker")).contains { $0.node == fourth }, "an unprepared node got a task: \(shown("worker"))")
        let refused = try TestCommand.tool(install)
        #expect(refused.status == 2 && refused.stderr.contains("not prepared") && refused.stderr.contains(fourth), "\(refused.combined)")
        #expect(!(try labels(fourth)).contains("io.frostbyte.\(Self.stack)."), "labels on \(fourth) after a refusal")

        // Prepared, and the manager told by a re-run of install: labelled, takes tasks.
        try prepare(fourth)
        let rerunAt = Date()
        let grown = try TestCommand.tool(install + ["--json"])
        try #require(grown.status == 0, "\(grown.combined)")
        print("SwarmFaultsTests: install --swarm again with \(fourth) prepared: \(String(format: "%.1f", Date().timeIntervalSince(rerunAt))) s")
        #expect((try json(grown)["prepared_nodes"] as? [String])?.contains(fourth) == true, "\(grown.stdout)")
        #expect((try json(grown)["migrations_applied"] as? [Any])?.isEmpty == true)
        #expect((try labels(fourth)).contains("io.frostbyte.\(Self.stack).prepared"))
        try scale("worker", 4)
        let onFourth = try wait(90) { try tasks("worker").contains { $0.node == fourth && $0.state == "Running" } }
        #expect(onFourth != nil, "no worker task on \(fourth): \(shown("worker"))")

        let removed = try TestCommand.tool(["uninstall", "--prefix", prefixes[manager]!, "--purge-data"])
        #expect(removed.status == 0, "\(removed.combined)")
        #expect(!(try labels(fourth)).contains("io.frostbyte.\(Self.stack)."), "labels left on \(fourth)")
        try swarm(["down", fourth]); joined = false
    }
}
