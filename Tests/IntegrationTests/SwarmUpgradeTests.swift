import Foundation
import Testing
import FrostbyteCore
import TestSupport

/// Upgrade and whole-stack rollback of a Swarm install, on the test bed's real swarm
/// from its first manager (`scripts/swarm up 3`, then
/// `scripts/swarm run <bed>1 -- env FROSTBYTE_BIN=… swift test --filter SwarmUpgradeTests`).
/// Demo 1.0.0 installed; its 1.1.0 delta refused on a node without the base (nothing
/// loaded), prepared on every node over the base (loading only the worker), then
/// installed: every service on the new spec, its new migration applied once, a row
/// written under 1.0.0 kept. A 1.2.0 whose gateway never turns healthy rolls the WHOLE
/// stack back to 1.1.0 (exit 1 naming the gateway; the worker, which Swarm alone would
/// have left on 1.2.0's spec, is back on 1.1.0's), the row kept, status on 1.1.0. An
/// older release is refused without `--allow-downgrade` (nothing changed) and
/// installed with it.
@Suite("install --swarm upgrade and whole-stack rollback (real swarm of the test bed)", .serialized,
       .enabled(if: SwarmBed.onFirstManager,
                "needs the test bed's manager: scripts/swarm up 3; scripts/swarm run fbsw1 -- swift test --filter SwarmUpgradeTests"),
       .enabled(if: Docker.demoImagesPresent, "needs scripts/make-demo-images"))
struct SwarmUpgradeTests {
    static let repository = "\(InstallHarness.projectPrefix)\(TestRun.id)-swup"
    static let stack = "fbtest-\(TestRun.id)-up"
    static let port = 19_000 + Int.random(in: 0..<1_000)

    func nodes() throws -> [String] {
        try TestCommand.check(["docker", "node", "ls", "--format", "{{.Hostname}}"]).split(separator: "\n").map(String.init).sorted()
    }

    func json(_ output: CommandOutput) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: output.data) as? [String: Any], "\(output.combined)")
    }

    /// psql in the postgres task on `node`; trimmed tuples-only output.
    func psql(_ sql: String, on node: String) throws -> String {
        let container = try TestCommand.check(["docker", "ps", "-q", "--filter",
                                               "label=com.docker.swarm.service.name=\(Self.stack)_postgres"],
                                              environment: SwarmBed.host(node))
        try #require(!container.isEmpty, "no postgres task on \(node)")
        return try TestCommand.check(["docker", "exec", String(container.split(separator: "\n")[0]), "psql", "-X", "-q", "-t", "-A",
                                      "-v", "ON_ERROR_STOP=1", "-U", "frostbyte", "-d", "frostbyte", "-c", sql],
                                     environment: SwarmBed.host(node))
    }

    /// Service → `image healthcheck-test` its spec runs now.
    func specs() throws -> [String: String] {
        let names = ["gateway", "postgres", "redis", "worker"].map { "\(Self.stack)_\($0)" }
        let lines = try TestCommand.check(["docker", "service", "inspect", "--format",
                                           "{{.Spec.Name}} {{.Spec.TaskTemplate.ContainerSpec.Image}} {{json .Spec.TaskTemplate.ContainerSpec.Healthcheck.Test}}"]
                                          + names)
        return Dictionary(uniqueKeysWithValues: lines.split(separator: "\n").map { line in
            let parts = line.split(separator: " ", maxSplits: 1)
            return (String(parts[0].dropFirst(Self.stack.count + 1)), String(parts[1]))
        })
    }

    @Test func upgradesKeepsDataAndRollsTheWholeStackBack() throws {
        let nodes = try nodes()
        try #require(nodes.count >= 3, "needs 3 nodes: scripts/swarm up 3")
        let manager = SwarmBed.node(1)
        let prefixes = Dictionary(uniqueKeysWithValues: nodes.map { ($0, InstallHarness.prefix("swup-\($0)")) })
        let bare = InstallHarness.prefix("swup-bare")
        let tags = ["gateway:1.0", "postgres:1.0", "redis:1.0", "worker:1.0", "worker:1.1"].map { "\(Self.repository)/\($0)" }
        defer {
            _ = try? TestCommand.tool(["uninstall", "--prefix", prefixes[manager]!, "--purge-data"])
            _ = try? TestCommand.run(["docker", "stack", "rm", Self.stack])
            for node in nodes {
                for _ in 0..<40 {
                    let volumes = (try? TestCommand.check(["docker", "volume", "ls", "-q", "--filter", "name=\(Self.stack)_"],
                                                          environment: SwarmBed.host(node))) ?? ""
                    let images = tags.filter { (try? TestCommand.run(["docker", "image", "inspect", $0], environment: SwarmBed.host(node)))?.status == 0 }
                    if volumes.isEmpty && images.isEmpty { break }
                    if !volumes.isEmpty {
                        _ = try? TestCommand.run(["docker", "volume", "rm"] + volumes.split(separator: "\n").map(String.init),
                                                 environment: SwarmBed.host(node))
                    }
                    if !images.isEmpty { _ = try? TestCommand.run(["docker", "rmi"] + images, environment: SwarmBed.host(node)) }
                    usleep(500_000)
                }
                try? FileManager.default.removeItem(atPath: prefixes[node]!)
            }
            try? FileManager.default.removeItem(atPath: bare)
        }
        let base = try V2Bundles.write("swarm-upgrade-1.0") { V2DemoBundle(repository: Self.repository) }
        let next = try V2Bundles.write("swarm-upgrade-1.1") {
            V2DemoBundle(version: "1.1.0", repository: Self.repository, extraLayers: ["worker": "swarm upgrade \(TestRun.id)"],
                         extraMigrations: [("004_notes.sql", "CREATE TABLE notes (id serial PRIMARY KEY, body text NOT NULL);\n")],
                         base: base.manifestData)
        }
        let failing = try V2Bundles.write("swarm-upgrade-1.2") {
            var bundle = V2DemoBundle(version: "1.2.0", repository: Self.repository,
                                      extraLayers: ["worker": "swarm upgrade \(TestRun.id)"],
                                      extraMigrations: [("004_notes.sql", "CREATE TABLE notes (id serial PRIMARY KEY, body text NOT NULL);\n")])
            bundle.failingGatewayHealth = true
            return bundle
        }
        func prepare(_ bundle: String, on node: String, prefix: String? = nil) throws -> CommandOutput {
            try TestCommand.tool(["prepare", bundle, "--allow-unsigned", "--prefix", prefix ?? prefixes[node]!, "--json"],
                                 environment: SwarmBed.host(node))
        }
        func install(_ bundle: String, _ extra: [String] = []) throws -> CommandOutput {
            try TestCommand.tool(["install", bundle, "--allow-unsigned", "--swarm", "--project", Self.stack,
                                  "--publish", "127.0.0.1:\(Self.port)", "--prefix", prefixes[manager]!, "--timeout", "180"] + extra)
        }
        func status() throws -> [String: Any] { try json(try TestCommand.tool(["status", "--prefix", prefixes[manager]!, "--json"])) }

        // 1.0.0 on every node, installed; a row written under it.
        for node in nodes { try #require(try prepare(base.path, on: node).status == 0, "prepare 1.0.0 on \(node)") }
        let first = try install(base.path, ["--json"])
        try #require(first.status == 0, "\(first.combined)")
        let baseId = try #require(try json(first)["bundle_id"] as? String)
        let dataNode = try #require((status()["pins"] as? [String: String])?["postgres"])
        #expect(try psql("INSERT INTO items (sku, name) VALUES ('swarm-v1', 'written under 1.0.0') RETURNING sku", on: dataNode) == "swarm-v1")

        // The delta: refused on a node that does not hold its base (under that prefix), nothing loaded.
        let worker11 = "\(Self.repository)/worker:1.1"
        let refused = try prepare(next.path, on: nodes.last!, prefix: bare)
        #expect(refused.status == 2, "\(refused.combined)")
        #expect(refused.stderr.contains("delta of demo 1.0.0") && refused.stderr.contains(bare), "\(refused.stderr)")
        #expect(try TestCommand.run(["docker", "image", "inspect", worker11], environment: SwarmBed.host(nodes.last!)).status != 0)
        // Prepared over the base on every node: only the worker's new image is loaded.
        for node in nodes {
            let prepared = try prepare(next.path, on: node)
            try #require(prepared.status == 0, "prepare 1.1.0 on \(node): \(prepared.combined)")
            #expect(try json(prepared)["images_loaded"] as? [String] == [worker11], "\(node)")
        }

        // Upgrade: every service on 1.1.0's spec, its one new migration applied, the row kept.
        let upgraded = try install(next.path, ["--json"])
        try #require(upgraded.status == 0, "\(upgraded.combined)")
        let upgradedJSON = try json(upgraded)
        let nextId = try #require(upgradedJSON["bundle_id"] as? String)
        #expect(upgradedJSON["migrations_applied"] as? [String] == ["004_notes.sql"], "\(upgradedJSON)")
        let nextSpecs = try specs()
        let worker11ID = try TestCommand.check(["docker", "image", "inspect", "--format", "{{.Id}}", worker11])
        #expect(nextSpecs["worker"]?.hasPrefix(worker11ID) == true, "\(nextSpecs)")
        #expect(try psql("SELECT name FROM items WHERE sku = 'swarm-v1'", on: dataNode) == "written under 1.0.0")
        #expect(try psql("SELECT count(*) FROM frostbyte_schema_migrations", on: dataNode) == "4")
        var now = try status()
        #expect(now["bundle_id"] as? String == nextId && now["phase"] as? String == "deployed", "\(now)")
        #expect(!FileManager.default.fileExists(atPath: "\(prefixes[manager]!)/state/swarm-previous.json"))
        for node in nodes {
            let labels = try TestCommand.check(["docker", "node", "inspect", "--format", "{{json .Spec.Labels}}", node])
            #expect(labels.contains("prepared.\(nextId)") && !labels.contains("prepared.\(baseId)"), "\(node): \(labels)")
        }

        // 1.2.0's gateway never turns healthy: the whole stack goes back to 1.1.0.
        for node in nodes { try #require(try prepare(failing.path, on: node).status == 0, "prepare 1.2.0 on \(node)") }
        let failed = try install(failing.path)
        #expect(failed.status == 1, "\(failed.combined)")
        #expect(failed.stderr.contains("service 'gateway'") && failed.stderr.contains("rolled back to \(nextId)"), "\(failed.stderr)")
        #expect(try specs() == nextSpecs, "every service runs 1.1.0's spec again")
        now = try status()
        #expect(now["bundle_id"] as? String == nextId && now["phase"] as? String == "deployed", "\(now)")
        #expect((now["lacking_replicas"] as? [Any])?.isEmpty == true, "\(now)")
        #expect(((now["rollback"] as? [String: Any])?["from_bundle_id"] as? String)?.hasPrefix("demo-1.2.0") == true, "\(now)")
        #expect(try psql("SELECT name FROM items WHERE sku = 'swarm-v1'", on: dataNode) == "written under 1.0.0")

        // Downgrade: refused without --allow-downgrade, nothing changed; done with it.
        let downgrade = try install(base.path)
        #expect(downgrade.status == 2 && downgrade.stderr.contains("--allow-downgrade"), "\(downgrade.combined)")
        #expect(try specs() == nextSpecs)
        let back = try install(base.path, ["--allow-downgrade", "--json"])
        #expect(back.status == 0, "\(back.combined)")
        now = try status()
        #expect(now["bundle_id"] as? String == baseId && now["phase"] as? String == "deployed", "\(now)")
        #expect(try specs()["worker"] != nextSpecs["worker"])
        #expect(try psql("SELECT name FROM items WHERE sku = 'swarm-v1'", on: dataNode) == "written under 1.0.0")
    }
}
