import Foundation
import TestSupport
import Testing

/// `export` on a real installation (real dockerd, the demo bundle built and
/// installed by the real binary): the export is a signed bundle that
/// `verify-bundle --trust` accepts and rejects once one byte changes, whose pg_dump
/// restores into a fresh PostgreSQL with the rows written before the export, whose
/// CSV holds the audit rows; a failing step leaves no OUT and no spool.
@Suite("Export (real dockerd)", .serialized,
       .requiresDockerAndTestImage)
struct ExportTests {
    @Test func exportVerifyRestoreAndFail() throws {
        try #require(ExportStack.demoImagesPresent, "the demo images are missing: run scripts/make-demo-images")
        ExportStack.dockerLock.lock()
        defer { ExportStack.dockerLock.unlock() }
        let stack = try ExportStack(tag: "export")
        defer { stack.tearDown() }
        let run = TestRun.id
        let out = "\(stack.folder)/out"
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)

        // Rows written before the export: items (the trigger adds audit rows) and one audit row.
        _ = try stack.psql("""
            INSERT INTO items (sku, name, quantity) VALUES ('T-\(run)-1', 'export test one', 7), ('T-\(run)-2', 'export test two', 9);
            INSERT INTO audit_log (actor, action, subject) VALUES ('export-test-\(run)', 'test.marker', 'T-\(run)');
            """)

        // Keys: the signer's, and another one for the negative control.
        for name in ["signer", "other"] {
            try TestCommand.check(["openssl", "genpkey", "-algorithm", "ed25519", "-out", "\(out)/\(name).key"])
            try TestCommand.check(["openssl", "pkey", "-in", "\(out)/\(name).key", "-pubout", "-out", "\(out)/\(name).pub"])
        }

        // Export, signed, with a JSON summary.
        let bundle = "\(out)/export.tar.zst"
        let exported = try TestCommand.tool(["export", "--prefix", stack.prefix, "-o", bundle,
                                             "--sign-key", "\(out)/signer.key", "--json"])
        try #require(exported.status == 0, "export failed: \(exported.stderr)")
        let summary = try #require(try JSONSerialization.jsonObject(with: Data(exported.stdout.utf8)) as? [String: Any])
        #expect(summary["ok"] as? Bool == true)
        #expect(summary["signed"] as? Bool == true)
        #expect(FileManager.default.fileExists(atPath: bundle + ".sha256"))
        #expect(try permissions(bundle) == 0o600, "an export holds tenant data")
        #expect(ExportStack.listing(out).filter { $0.hasPrefix(".") }.isEmpty, "spool or partial file left behind")

        // verify-bundle --trust accepts it; another key, or one flipped byte, does not.
        let verified = try TestCommand.tool(["verify-bundle", "--trust", "\(out)/signer.pub", bundle, "--json"])
        #expect(verified.status == 0, "\(verified.stdout) \(verified.stderr)")
        let wrongKey = try TestCommand.tool(["verify-bundle", "--trust", "\(out)/other.pub", bundle])
        #expect(wrongKey.status == 1, "an export signed by another key must fail: \(wrongKey.stdout)")
        // With its sidecar, every byte of the file counts. Without it, verification
        // proves the content: a flip zstd decodes to the same bytes (unused bits of an
        // entropy table) changes nothing the manifest pins, so it may pass, and only then.
        let tamperedFolder = "\(out)/tampered"
        try FileManager.default.createDirectory(atPath: tamperedFolder, withIntermediateDirectories: true)
        let original = try Data(contentsOf: URL(fileURLWithPath: bundle))
        for offset in [0.25, 0.5, 0.9] {
            let tampered = "\(tamperedFolder)/export.tar.zst"
            var data = original
            data[Int(Double(data.count) * offset)] ^= 0x01
            try data.write(to: URL(fileURLWithPath: tampered))
            try FileManager.default.copyItem(atPath: bundle + ".sha256", toPath: tampered + ".sha256")
            let refused = try TestCommand.tool(["verify-bundle", "--trust", "\(out)/signer.pub", tampered])
            #expect(refused.status == 1, "one flipped byte at \(offset) must fail against the sidecar: \(refused.stdout)")
            try FileManager.default.removeItem(atPath: tampered + ".sha256")
            let contentOnly = try TestCommand.tool(["verify-bundle", "--trust", "\(out)/signer.pub", tampered])
            if contentOnly.status != 1 {
                #expect(contentOnly.status == 0, "\(contentOnly.stderr)")
                let same = try TestCommand.check(["bash", "-c", "cmp -s <(zstd -dc \"$1\") <(zstd -dc \"$2\") && echo same",
                                                        "bash", tampered, bundle])
                #expect(same.contains("same"), "a flip at \(offset) changed the content and still verified")
            }
            try FileManager.default.removeItem(atPath: tampered)
        }

        // The standard tools agree: sidecar, SHA256SUMS, signature.
        try TestCommand.check(["sh", "-c", "cd \"$1\" && sha256sum -c export.tar.zst.sha256", "sh", out])
        let root = try ExportStack.extract(bundle, into: "\(out)/extracted")
        try TestCommand.check(["sh", "-c", "cd \"$1\" && sha256sum -c SHA256SUMS", "sh", root])
        let signature = try TestCommand.check([
            "openssl", "pkeyutl", "-verify", "-pubin", "-inkey", "\(out)/signer.pub", "-rawin",
            "-in", "\(root)/MANIFEST.json", "-sigfile", "\(root)/MANIFEST.json.sig"])
        #expect(signature.contains("Signature Verified Successfully"))

        // The manifest: kind export, provenance, one step per file with exit status 0.
        let manifest = try #require(try JSONSerialization.jsonObject(
            with: Data(contentsOf: URL(fileURLWithPath: "\(root)/MANIFEST.json"))) as? [String: Any])
        #expect(manifest["kind"] as? String == "export")
        #expect(manifest["name"] as? String == "\(stack.project)-export")
        let source = try #require(manifest["source"] as? [String: Any])
        #expect(source["bundle_id"] as? String == stack.bundleId)
        #expect(source["project"] as? String == stack.project)
        let steps = source["steps"] as? [[String: Any]] ?? []
        #expect(steps.compactMap { $0["path"] as? String }
                == ["data/audit.csv", "data/frostbyte.pgdump", "data/worker-data.tar"])
        #expect(steps.allSatisfy { ($0["exit_status"] as? Int) == 0 && !($0["command"] as? [String] ?? []).isEmpty })
        let files = (manifest["files"] as? [[String: Any]] ?? []).compactMap { $0["path"] as? String }
        #expect(Set(files).isSuperset(of: ["data/audit.csv", "data/frostbyte.pgdump", "data/worker-data.tar"]))

        // The CSV holds the audit rows, the test's own among them.
        let csv = try String(contentsOfFile: "\(root)/data/audit.csv", encoding: .utf8)
        let lines = csv.split(separator: "\n").map(String.init)
        #expect(lines.first == "id,at,actor,action,subject,detail")
        #expect(lines.contains { $0.contains("export-test-\(run),test.marker,T-\(run)") })
        #expect(lines.contains { $0.contains("items.insert,T-\(run)-1") })
        #expect(lines.contains { $0.contains("items.insert,T-\(run)-2") })
        let auditCount = Int(try stack.psql("SELECT count(*) FROM audit_log")) ?? -1
        #expect(lines.count - 1 == auditCount)

        // The worker's data folder is a tar that GNU tar reads.
        let workerListing = try TestCommand.check(["tar", "-tf", "\(root)/data/worker-data.tar"])
        #expect(workerListing.split(separator: "\n").count > 1)

        // Restore the pg_dump into a fresh PostgreSQL on an internal network of the test.
        let restoreNetwork = "\(stack.project)-restore"
        let restoreContainer = "\(stack.project)-restore-pg"
        try TestCommand.check(["docker", "network", "create", "--internal",
                                     "--label", "\(TestRun.label)=\(run)", restoreNetwork])
        stack.extraObjects.append(("network", restoreNetwork))
        stack.extraObjects.append(("container", restoreContainer))
        try TestCommand.check([
            "docker", "run", "-d", "--name", restoreContainer, "--network", restoreNetwork,
            "--label", "\(TestRun.label)=\(run)", "--pull", "never",
            "-e", "POSTGRES_USER=frostbyte", "-e", "POSTGRES_DB=frostbyte",
            "-e", "POSTGRES_PASSWORD=\(UUID().uuidString)", "frostbyte-demo/postgres:1.0"])
        try waitForPostgres(restoreContainer)
        // Negative control: the fresh server does not have the rows yet.
        let before = try TestCommand.run(["docker", "exec", restoreContainer, "psql", "-X", "-A", "-t", "-U", "frostbyte",
                                                "-d", "frostbyte", "-c", "SELECT count(*) FROM items"])
        #expect(before.status != 0, "a fresh server must not have the items table")
        let restored = try TestCommand.run(["docker", "exec", "-i", restoreContainer, "pg_restore", "-U", "frostbyte",
                                                  "-d", "frostbyte", "--no-owner", "--exit-on-error"],
                                                 stdinFile: "\(root)/data/frostbyte.pgdump", timeout: nil)
        #expect(restored.status == 0, "pg_restore: \(restored.stderr)")
        let rows = try ExportStack.psql(container: restoreContainer,
                                        "SELECT sku || ':' || quantity FROM items WHERE sku LIKE 'T-\(run)-%' ORDER BY sku")
        #expect(rows == "T-\(run)-1:7\nT-\(run)-2:9")
        let marker = try ExportStack.psql(container: restoreContainer,
                                          "SELECT count(*) FROM audit_log WHERE actor = 'export-test-\(run)'")
        #expect(marker == "1")

        // A failing step fails the export: exit 1, the step named, no OUT, no spool.
        _ = try stack.psql("ALTER TABLE audit_log RENAME TO audit_log_hidden")
        let failedOut = "\(out)/failed.tar.zst"
        let failed = try TestCommand.tool(["export", "--prefix", stack.prefix, "-o", failedOut])
        #expect(failed.status == 1, "\(failed.stderr)")
        #expect(failed.stderr.contains("'audit.csv'") && failed.stderr.contains("audit_log"), "\(failed.stderr)")
        #expect(!FileManager.default.fileExists(atPath: failedOut))
        #expect(!FileManager.default.fileExists(atPath: failedOut + ".sha256"))
        #expect(ExportStack.listing(out).filter { $0.hasPrefix(".") }.isEmpty, "spool or partial file left behind")
        // Positive control: the same export works again once the table is back.
        _ = try stack.psql("ALTER TABLE audit_log_hidden RENAME TO audit_log")
        let again = try TestCommand.tool(["export", "--prefix", stack.prefix, "-o", failedOut])
        #expect(again.status == 0, "\(again.stderr)")
        #expect(FileManager.default.fileExists(atPath: failedOut))

        // An export never overwrites an earlier one.
        let exists = try TestCommand.tool(["export", "--prefix", stack.prefix, "-o", bundle])
        #expect(exists.status == 2 && exists.stderr.contains("already exists"), "\(exists.stderr)")
    }

    private func waitForPostgres(_ container: String) throws {
        for _ in 0..<120 {
            let ready = try TestCommand.run(["docker", "exec", container, "pg_isready", "-q", "-U", "frostbyte", "-d", "frostbyte"])
            if ready.status == 0 { return }
            usleep(250_000)
        }
        throw TestFailure("restore PostgreSQL \(container) did not become ready")
    }

    private func permissions(_ path: String) throws -> Int {
        let attributes = try FileManager.default.attributesOfItem(atPath: path)
        return (attributes[.posixPermissions] as? Int ?? 0) & 0o777
    }
}

/// `export` refusals that need no docker.
@Suite("Export refusals")
struct ExportRefusalTests {
    @Test func nothingInstalledIsBadInput() throws {
        let folder = NSTemporaryDirectory() + "fbexport-none-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let result = try TestCommand.tool(["export", "--prefix", "\(folder)/prefix", "-o", "\(folder)/out.tar.zst"])
        #expect(result.status == 2)
        #expect(result.stderr.contains("nothing is installed under"))
        #expect(ExportStack.listing(folder).isEmpty)
    }

    /// A prefix that looks installed: `state/receipt.json` and `current` ->
    /// `releases/<id>` holding MANIFEST.json with `exports`.
    private func fakeInstallation(in folder: String, receiptId: String = "demo-1.0.0-aaaaaaaaaaaa",
                                  manifestId: String = "demo-1.0.0-aaaaaaaaaaaa",
                                  exports: [[String: Any]]) throws -> String {
        let prefix = "\(folder)/prefix"
        try FileManager.default.createDirectory(atPath: "\(prefix)/releases/\(manifestId)", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: "\(prefix)/state", withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: "\(prefix)/current", withDestinationPath: "releases/\(manifestId)")
        let manifest: [String: Any] = [
            "format": "frostbyte-bundle/1", "kind": "stack", "name": "demo", "version": "1.0.0",
            "bundle_id": manifestId, "created_at": "2026-01-01T00:00:00Z",
            "builder": ["name": "test", "version": "0"], "images": [], "models": [], "scripts": [], "files": [],
            "exports": exports,
        ]
        try JSONSerialization.data(withJSONObject: manifest)
            .write(to: URL(fileURLWithPath: "\(prefix)/releases/\(manifestId)/MANIFEST.json"))
        let receipt: [String: Any] = [
            "bundle_id": receiptId, "name": "demo", "version": "1.0.0", "project": "fbtest-\(TestRun.id)-nodocker",
            "subnet": "10.215.0.0/24", "installed_at": "2026-01-01T00:00:00Z", "images": [String: String](),
        ]
        try JSONSerialization.data(withJSONObject: receipt).write(to: URL(fileURLWithPath: "\(prefix)/state/receipt.json"))
        return prefix
    }

    @Test func unusableInstallationsAreRefusedBeforeAnyStep() throws {
        let folder = NSTemporaryDirectory() + "fbexport-fake-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let step: [String: Any] = ["name": "audit.csv", "service": "postgres", "command": ["true"]]
        let cases: [(String, [[String: Any]], String, String, Int32, String)] = [
            ("none", [], "demo-1.0.0-aaaaaaaaaaaa", "demo-1.0.0-aaaaaaaaaaaa", 2, "declares no export steps"),
            ("slash", [["name": "../escape", "service": "postgres", "command": ["true"]]],
             "demo-1.0.0-aaaaaaaaaaaa", "demo-1.0.0-aaaaaaaaaaaa", 2, "cannot be a file name under data/"),
            ("dup", [step, step], "demo-1.0.0-aaaaaaaaaaaa", "demo-1.0.0-aaaaaaaaaaaa", 2, "two export steps are named"),
            ("mismatch", [step], "demo-1.0.0-bbbbbbbbbbbb", "demo-1.0.0-aaaaaaaaaaaa", 3, "inconsistent"),
        ]
        for (tag, exports, receiptId, manifestId, status, text) in cases {
            let base = "\(folder)/\(tag)"
            let prefix = try fakeInstallation(in: base, receiptId: receiptId, manifestId: manifestId, exports: exports)
            let out = "\(base)/out"
            try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
            let result = try TestCommand.tool(["export", "--prefix", prefix, "-o", "\(out)/x.tar.zst"])
            #expect(result.status == status, "\(tag): \(result.stderr)")
            #expect(result.stderr.contains(text), "\(tag): \(result.stderr)")
            #expect(ExportStack.listing(out).isEmpty, "\(tag): something was written")
        }
        // Positive control: the same fake installation with a valid step gets past these
        // checks and fails only where docker is needed (no such project running).
        let prefix = try fakeInstallation(in: "\(folder)/ok", exports: [step])
        try FileManager.default.createDirectory(atPath: "\(folder)/ok/out", withIntermediateDirectories: true)
        let result = try TestCommand.tool(["export", "--prefix", prefix, "-o", "\(folder)/ok/out/x.tar.zst"])
        #expect(!result.stderr.contains("declares no export steps") && !result.stderr.contains("inconsistent"))
        #expect(result.status != 0 && result.status != 2, "\(result.stderr)")
        #expect(ExportStack.listing("\(folder)/ok/out").isEmpty)
    }

    @Test func missingOutputIsUsageError() throws {
        let result = try TestCommand.tool(["export", "--prefix", "/nonexistent"])
        #expect(result.status == 2, "\(result.status) \(result.stderr)")
        #expect(result.stderr.contains("--output"))
    }
}
