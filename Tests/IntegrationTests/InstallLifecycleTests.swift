import Foundation
import TestSupport
import Testing

/// The operator's lifecycle on a real dockerd: install, re-install, upgrade with
/// data kept, a failing upgrade rolled back, two tenants side by side, uninstall
/// touching nothing of another project.
@Suite("Install lifecycle (real dockerd)", .serialized,
       .enabled(if: Docker.demoImagesPresent, "needs scripts/make-demo-images"), .requiresDocker)
struct InstallLifecycleTests {
    @Test func installUpgradeRollbackUninstall() throws {
        let project = InstallHarness.project("life")
        let prefix = InstallHarness.prefix("life")
        defer { InstallHarness.cleanup(project: project, prefix: prefix) }
        let v1 = try InstallHarness.v1(), v2 = try InstallHarness.v2(), v3 = try InstallHarness.v3Failing()

        // First install: healthy, migrations applied, gateway answers at its fixed IP.
        let first = try TestCommand.tool(["install", v1, "--allow-unsigned", "--prefix", prefix, "--project", project,
                                         "--subnet", "10.214.11.0/24", "--publish", "\(Int.random(in: 18_000...18_999))",
                                         "--timeout", "180", "--json"])
        #expect(first.status == 0, "\(first.stderr)")
        let firstJSON = InstallHarness.json(first)
        #expect(firstJSON["action"] as? String == "installed")
        #expect(firstJSON["gateway_ip"] as? String == "10.214.11.10")
        let services = firstJSON["services"] as? [[String: Any]] ?? []
        #expect(Set(services.compactMap { $0["service"] as? String }) == ["gateway", "postgres", "redis", "worker"])
        #expect(services.allSatisfy { $0["health"] as? String == "healthy" })
        let health = try TestCommand.run(["curl", "-s", "-m", "5", "http://10.214.11.10:8080/health"])
        #expect(health.status == 0 && health.stdout.contains("ok"), "gateway: \(health.stdout) \(health.stderr)")
        // The worker reached PostgreSQL and Redis by service name (its heartbeat rows).
        #expect((Int(try InstallHarness.psql(project, "SELECT count(*) FROM worker_heartbeat")) ?? 0) > 0)
        #expect(try InstallHarness.psql(project, "SELECT count(*) FROM frostbyte_schema_migrations") == "3")

        // Secrets: 0600 in a 0700 folder, no placeholder left, never on stdout/stderr.
        let env = try String(contentsOfFile: "\(prefix)/secrets/.env", encoding: .utf8)
        let values = env.split(separator: "\n").filter { !$0.hasPrefix("#") }
        #expect(!values.isEmpty && values.allSatisfy { !$0.contains("__GENERATE__") })
        let password = env.split(separator: "\n").first { $0.hasPrefix("POSTGRES_PASSWORD=") }.map { String($0.dropFirst(18)) } ?? ""
        #expect(password.count == 64)
        #expect(!first.stdout.contains(password) && !first.stderr.contains(password))
        #expect(try permissions("\(prefix)/secrets/.env") == 0o600)
        #expect(try permissions("\(prefix)/secrets") == 0o700)
        let receipt = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: "\(prefix)/state/receipt.json"))) as? [String: Any] ?? [:]
        let bundleV1 = firstJSON["bundle_id"] as? String ?? "?"
        #expect(receipt["bundle_id"] as? String == bundleV1)
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: "\(prefix)/current") == "releases/\(bundleV1)")
        // The receipt's evidence hash is the evidence file's.
        let evidencePath = receipt["evidence_path"] as? String ?? ""
        let evidenceHash = try TestCommand.check(["sha256sum", evidencePath]).prefix(64)
        #expect(receipt["evidence_sha256"] as? String == String(evidenceHash))

        // Same bundle again: a quick no-op that re-checks health.
        let again = try TestCommand.tool(["install", v1, "--allow-unsigned", "--prefix", prefix, "--json"])
        #expect(again.status == 0, "\(again.stderr)")
        #expect(InstallHarness.json(again)["action"] as? String == "unchanged")
        #expect(env == (try String(contentsOfFile: "\(prefix)/secrets/.env", encoding: .utf8)))
        // The no-op still applies this run's signature policy: the unsigned v1 with a
        // --trust key is refused (exit 1), exactly as on a fresh host.
        let keys = try TestRun.scratchFolder("fbinst-noop-trust")
        defer { try? FileManager.default.removeItem(atPath: keys) }
        #expect(try TestCommand.tool(["keygen", "--out", "\(keys)/k"]).status == 0)
        let refused = try TestCommand.tool(["install", v1, "--trust", "\(keys)/k.pub", "--prefix", prefix, "--json"])
        #expect(refused.status == 1, "\(refused.stderr)")
        #expect(refused.stderr.contains("unsigned"), "\(refused.stderr)")

        // Upgrade to v2 keeps the data written under v1 and applies only the new migration.
        _ = try InstallHarness.psql(project, "INSERT INTO items (sku, name) VALUES ('v1-row', 'written under v1')")
        let upgrade = try TestCommand.tool(["install", v2, "--allow-unsigned", "--prefix", prefix, "--timeout", "180", "--json"])
        #expect(upgrade.status == 0, "\(upgrade.stderr)")
        let upgradeJSON = InstallHarness.json(upgrade)
        #expect(upgradeJSON["action"] as? String == "upgraded")
        #expect(upgradeJSON["migrations_applied"] as? [String] == ["004_notes.sql"])
        #expect(upgradeJSON["previous_bundle_id"] as? String == bundleV1)
        #expect(try InstallHarness.psql(project, "SELECT name FROM items WHERE sku = 'v1-row'") == "written under v1")
        #expect(env == (try String(contentsOfFile: "\(prefix)/secrets/.env", encoding: .utf8)), "secrets must never be rewritten")
        let bundleV2 = upgradeJSON["bundle_id"] as? String ?? "?"

        // v3's gateway never becomes healthy: rolled back to v2, exit 1 naming the service.
        let failing = try TestCommand.tool(["install", v3, "--allow-unsigned", "--prefix", prefix, "--timeout", "120"])
        #expect(failing.status == 1)
        #expect(failing.stderr.contains("'gateway'") && failing.stderr.contains("rolled back to \(bundleV2)"), "\(failing.stderr)")
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: "\(prefix)/current") == "releases/\(bundleV2)")
        let status = try TestCommand.tool(["status", "--prefix", prefix, "--json"])
        #expect(status.status == 0, "\(status.stdout)")
        let statusJSON = InstallHarness.json(status)
        #expect(statusJSON["healthy"] as? Bool == true)
        #expect((statusJSON["receipt"] as? [String: Any])?["bundle_id"] as? String == bundleV2)
        #expect(try InstallHarness.psql(project, "SELECT name FROM items WHERE sku = 'v1-row'") == "written under v1")

        // An older version is refused without --allow-downgrade (a replayed old release), changing nothing.
        let downgrade = try TestCommand.tool(["install", v1, "--allow-unsigned", "--prefix", prefix, "--timeout", "180"])
        #expect(downgrade.status == 2, "\(downgrade.stderr)")
        #expect(downgrade.stderr.contains("--allow-downgrade") && downgrade.stderr.contains("older than the installed"),
                "\(downgrade.stderr)")
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: "\(prefix)/current") == "releases/\(bundleV2)")

        // Manual rollback: installing v1 again over v2, asked for.
        let back = try TestCommand.tool(["install", v1, "--allow-unsigned", "--allow-downgrade", "--prefix", prefix,
                                        "--timeout", "180", "--json"])
        #expect(back.status == 0, "\(back.stderr)")
        #expect(InstallHarness.json(back)["action"] as? String == "rolled-back")
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: "\(prefix)/current") == "releases/\(bundleV1)")

        // A bystander project with its own container, image tag and volume.
        let other = InstallHarness.project("bystander")
        defer { InstallHarness.cleanup(project: other, prefix: nil); _ = try? TestCommand.run(["docker", "rmi", "\(other)/keep:1"]) }
        try TestCommand.check(["docker", "tag", "\(InstallHarness.repository)/gateway:1.0", "\(other)/keep:1"])
        try TestCommand.check(["docker", "volume", "create", "--label", "com.docker.compose.project=\(other)", "\(other)_data"])
        try TestCommand.check(["docker", "run", "-d", "--name", "\(other)-c", "--label", "com.docker.compose.project=\(other)",
                              "-v", "\(other)_data:/data", "\(other)/keep:1"])

        let uninstall = try TestCommand.tool(["uninstall", "--prefix", prefix, "--json"])
        #expect(uninstall.status == 0, "\(uninstall.stderr)")
        #expect(try TestCommand.check(["docker", "ps", "-a", "-q", "--filter", "label=com.docker.compose.project=\(project)"]).isEmpty)
        #expect(try TestCommand.check(["docker", "network", "ls", "-q", "--filter", "label=com.docker.compose.project=\(project)"]).isEmpty)
        // Data volumes are kept without --purge-data, and so are the secrets that open them.
        #expect(try TestCommand.check(["docker", "volume", "ls", "-q", "--filter", "label=com.docker.compose.project=\(project)"]).contains("pgdata"))
        #expect(FileManager.default.fileExists(atPath: "\(prefix)/secrets/.env"))
        #expect(!FileManager.default.fileExists(atPath: "\(prefix)/current"))
        // The bystander is untouched.
        #expect(try TestCommand.check(["docker", "inspect", "--format", "{{.State.Running}}", "\(other)-c"]) == "true")
        #expect(try TestCommand.run(["docker", "image", "inspect", "\(other)/keep:1"]).status == 0)
        #expect(try TestCommand.run(["docker", "volume", "inspect", "\(other)_data"]).status == 0)
        // Nothing is installed any more: status says so (exit 2).
        #expect(try TestCommand.tool(["status", "--prefix", prefix]).status == 2)
    }

    @Test func twoTenantsSideBySide() throws {
        let projectA = InstallHarness.project("ta"), projectB = InstallHarness.project("tb")
        let prefixA = InstallHarness.prefix("ta"), prefixB = InstallHarness.prefix("tb")
        defer {
            InstallHarness.cleanup(project: projectA, prefix: prefixA)
            InstallHarness.cleanup(project: projectB, prefix: prefixB)
        }
        let v1 = try InstallHarness.v1()
        // Each tenant publishes its gateway on its own loopback port.
        let portA = Int.random(in: 18_000...18_499), portB = Int.random(in: 18_500...18_999)
        let a = try TestCommand.tool(["install", v1, "--allow-unsigned", "--prefix", prefixA, "--project", projectA,
                                     "--subnet", "10.214.12.0/24", "--publish", "\(portA)", "--timeout", "180"])
        #expect(a.status == 0, "\(a.stderr)")
        let b = try TestCommand.tool(["install", v1, "--allow-unsigned", "--prefix", prefixB, "--project", projectB,
                                     "--subnet", "10.214.13.0/24", "--publish", "\(portB)", "--timeout", "180"])
        #expect(b.status == 0, "\(b.stderr)")
        for (prefix, ip) in [(prefixA, "10.214.12.10"), (prefixB, "10.214.13.10")] {
            #expect(try TestCommand.tool(["status", "--prefix", prefix]).status == 0)
            let answer = try TestCommand.run(["curl", "-s", "-m", "5", "http://\(ip):8080/health"])
            #expect(answer.status == 0 && answer.stdout.contains("ok"))
        }
        // From inside A's gateway network namespace (host curl via nsenter): A's own
        // gateway answers (positive control), B's does not.
        let gatewayA = try TestCommand.check(["docker", "compose", "-p", projectA, "ps", "-q", "gateway"])
        let pid = try TestCommand.check(["docker", "inspect", "--format", "{{.State.Pid}}", gatewayA])
        let own = try TestCommand.run(["nsenter", "-t", pid, "-n", "curl", "-s", "-m", "3", "http://10.214.12.10:8080/health"])
        #expect(own.status == 0 && own.stdout.contains("ok"), "positive control: \(own.stderr)")
        let cross = try TestCommand.run(["nsenter", "-t", pid, "-n", "curl", "-s", "-m", "3", "http://10.214.13.10:8080/health"])
        #expect(cross.status != 0, "tenant A reached tenant B: \(cross.stdout)")
        // B's project name is taken from A's prefix: refused, nothing changed.
        let clash = try TestCommand.tool(["install", v1, "--allow-unsigned", "--prefix", prefixA, "--project", projectB])
        #expect(clash.status == 2, "\(clash.stderr)")
        // Uninstalling A leaves B running and healthy.
        #expect(try TestCommand.tool(["uninstall", "--prefix", prefixA]).status == 0)
        #expect(try TestCommand.tool(["status", "--prefix", prefixB]).status == 0)
    }

    private func permissions(_ path: String) throws -> Int {
        ((try FileManager.default.attributesOfItem(atPath: path))[.posixPermissions] as? Int) ?? -1
    }
}
