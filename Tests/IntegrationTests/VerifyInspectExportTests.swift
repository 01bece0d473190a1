import BundleFormat
import Foundation
import TestSupport
import Testing

/// `inspect` on an export bundle (kind `export`, written by BundleWriter with the
/// manifest shape `export` writes): the real binary shows the `source` block
/// (bundle_id, project, host, one line per step with path, service, exit status
/// and the shell-quoted command) and `--json` carries it as `export_source`. The
/// stack bundle of VerifyCommandTests is the negative control: no source at all.
@Suite("inspect of an export bundle: the real binary")
struct VerifyInspectExportTests {
    /// A scratch folder holding an unsigned export bundle with two data files.
    struct ExportScene {
        let folder: String
        let bundle: String
        let manifest: Manifest

        init() throws {
            folder = NSTemporaryDirectory() + "fbinspect-export-\(UUID().uuidString)"
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            let csv = Data("id,actor\n1,ops\n".utf8)
            let dump = Data(repeating: 0x50, count: 4096)
            let entries = try BundleWriter.hash([
                BundleEntry(path: "data/audit.csv", source: .data(csv)),
                BundleEntry(path: "data/frostbyte.pgdump", source: .data(dump)),
            ])
            let source = Manifest.ExportSource(
                bundleId: "demo-1.0.0-0123456789ab", project: "tenant-a", host: "field-host-7",
                steps: [
                    .init(path: "data/audit.csv", service: "postgres",
                          command: ["psql", "-X", "-c", "COPY (SELECT * FROM audit_log WHERE actor <> 'x') TO STDOUT"],
                          exitStatus: 0),
                    .init(path: "data/frostbyte.pgdump", service: "postgres",
                          command: ["pg_dump", "-U", "frostbyte", "--format=custom"], exitStatus: 0),
                ])
            let draft = Manifest(kind: .export, name: "tenant-a-export", version: "20260101T000000Z", bundleId: "",
                                 createdAt: "2026-01-01T00:00:00Z",
                                 builder: .init(name: "frostbyte-bundle", version: "test"),
                                 source: source, files: [])
            bundle = folder + "/export.tar.zst"
            manifest = try BundleWriter(mtime: 1_767_225_600).write(manifest: draft, entries: entries, to: bundle).manifest
        }

        func remove() { try? FileManager.default.removeItem(atPath: folder) }
    }

    @Test("inspect shows an export's source: release, project, host and every step")
    func humanOutput() throws {
        let scene = try ExportScene()
        defer { scene.remove() }
        let result = try VerifyCommandTests.tool("inspect", scene.bundle)
        #expect(result.status == 0, "\(result.stderr)")
        let lines = result.stdout.split(separator: "\n").map(String.init)
        let start = try #require(lines.firstIndex(of: "source:"), "no source block in:\n\(result.stdout)")
        #expect(Array(lines[start...].prefix(9)) == [
            "source:",
            "  bundle_id:  demo-1.0.0-0123456789ab",
            "  project:    tenant-a",
            "  host:       field-host-7",
            "  steps:",
            "    data/audit.csv  service=postgres  exit=0",
            #"      psql -X -c 'COPY (SELECT * FROM audit_log WHERE actor <> '\''x'\'') TO STDOUT'"#,
            "    data/frostbyte.pgdump  service=postgres  exit=0",
            "      pg_dump -U frostbyte --format=custom",
        ])
        #expect(lines.contains("kind:       export"))
        #expect(lines.contains("images:     none"))

        // The quoted command is what the step ran: a shell reads it back word for word.
        let quoted = String(lines[start + 6].dropFirst(6))
        let words = try TestCommand.run(["bash", "-c", "printf '%s\\n' \(quoted)"])
        #expect(words.stdout == scene.manifest.source!.steps[0].command.joined(separator: "\n") + "\n")
    }

    @Test("inspect --json carries the export source as export_source; a stack bundle has none")
    func jsonOutput() throws {
        let scene = try ExportScene()
        defer { scene.remove() }
        let result = try VerifyCommandTests.tool("inspect", scene.bundle, "--json")
        #expect(result.status == 0, "\(result.stderr)")
        let facts = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        #expect(facts["kind"] as? String == "export")
        #expect(facts["source"] as? String == scene.bundle, "source stays the inspected path")
        let source = try #require(facts["export_source"] as? [String: Any], "\(result.stdout)")
        #expect(source["bundle_id"] as? String == "demo-1.0.0-0123456789ab")
        #expect(source["project"] as? String == "tenant-a")
        #expect(source["host"] as? String == "field-host-7")
        let steps = try #require(source["steps"] as? [[String: Any]])
        #expect(steps.compactMap { $0["path"] as? String } == ["data/audit.csv", "data/frostbyte.pgdump"])
        #expect(steps.compactMap { $0["service"] as? String } == ["postgres", "postgres"])
        #expect(steps.compactMap { $0["exit_status"] as? Int } == [0, 0])
        #expect(steps.last?["command"] as? [String] == ["pg_dump", "-U", "frostbyte", "--format=custom"])
        // The JSON's source equals the manifest's, field for field.
        let decoded = try JSONDecoder().decode(Manifest.ExportSource.self,
                                               from: JSONSerialization.data(withJSONObject: source))
        #expect(decoded == scene.manifest.source)

        // Negative control: a stack bundle has neither the JSON key nor the human block.
        let stack = try VerifyCommandTests.Scene()
        defer { stack.remove() }
        let stackJSON = try VerifyCommandTests.tool("inspect", stack.bundle, "--json")
        #expect(stackJSON.status == 0)
        let stackFacts = try #require(try JSONSerialization.jsonObject(with: Data(stackJSON.stdout.utf8)) as? [String: Any])
        #expect(stackFacts["kind"] as? String == "stack")
        #expect(stackFacts["export_source"] == nil)
        let stackHuman = try VerifyCommandTests.tool("inspect", stack.bundle)
        #expect(!stackHuman.stdout.split(separator: "\n").contains("source:"))
    }
}
