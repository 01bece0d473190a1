@testable import Builder
import BundleFormat
import Foundation
@testable import Stack
import TestSupport
import Testing
import FrostbyteCore
import FrostbyteCrypto

/// The build's file inputs (template, migrations, models, installer), image file
/// names and the reproducible timestamp, without docker.
@Suite("Builder: inputs")
struct BuildInputsTests {
    @Test("image file names keep [a-z0-9._-], lower-case the rest and replace everything else by _")
    func imageFileNames() {
        #expect(BuildInputs.imageFileName("frostbyte-demo/postgres:1.0") == "images/frostbyte-demo_postgres_1.0.tar")
        #expect(BuildInputs.imageFileName("Registry.Example:5000/App@sha256:AB") == "images/registry.example_5000_app_sha256_ab.tar")
        #expect(BuildInputs.imageFileName("a/b:1") != BuildInputs.imageFileName("a/b:2"))
    }

    @Test("a template's files and folders are taken at their relative paths; a symlink or FIFO is refused by name")
    func templateEntries() throws {
        let fixture = try BuilderFixture()
        defer { fixture.remove() }
        try fixture.write("template/config/app.json", "{}\n")
        try fixture.write("template/.env.example", "A=1\n")
        let entries = try BuildInputs.templateEntries("\(fixture.folder)/template")
        #expect(Set(entries.map(\.path)) == [".env.example", "config", "config/app.json"])
        #expect(entries.first { $0.path == "config" }?.source == .directory)

        symlink("/etc/passwd", "\(fixture.folder)/template/config/link")
        #expect(throws: BuildInputError.unsupportedTemplateEntry(path: "\(fixture.folder)/template/config/link", kind: "symbolic link")) {
            try BuildInputs.templateEntries("\(fixture.folder)/template")
        }
        unlink("\(fixture.folder)/template/config/link")
        mkfifo("\(fixture.folder)/template/fifo", 0o600)
        #expect(throws: BuildInputError.unsupportedTemplateEntry(path: "\(fixture.folder)/template/fifo", kind: "special file")) {
            try BuildInputs.templateEntries("\(fixture.folder)/template")
        }
        unlink("\(fixture.folder)/template/fifo")
        #expect(try BuildInputs.templateEntries("\(fixture.folder)/template").count == 3, "control: the clean template again")
        do {
            _ = try BuildInputs.templateEntries("\(fixture.folder)/nope")
            Issue.record("a missing template folder was accepted")
        } catch BuildInputError.unreadableFolder(let path, _) {
            #expect(path == "\(fixture.folder)/nope")
        }
    }

    @Test("migrations: only regular *.sql files, in bytewise order")
    func migrationEntries() throws {
        let fixture = try BuilderFixture()
        defer { fixture.remove() }
        for name in ["010_b.sql", "002_a.sql", "README.md", "Z_upper.sql"] { try fixture.write("migrations/\(name)", "--\n") }
        try FileManager.default.createDirectory(atPath: "\(fixture.folder)/migrations/003_dir.sql", withIntermediateDirectories: true)
        let entries = try BuildInputs.migrationEntries("\(fixture.folder)/migrations")
        #expect(entries.map(\.path) == ["migrations/002_a.sql", "migrations/010_b.sql", "migrations/Z_upper.sql"])
    }

    @Test("two models with one file name, or an unreadable model, fail before anything is staged")
    func modelEntries() throws {
        let fixture = try BuilderFixture()
        defer { fixture.remove() }
        let first = try fixture.write("a/model.bin", "1")
        let second = try fixture.write("b/model.bin", "2")
        let other = try fixture.write("b/other.bin", "3")
        func model(_ path: String) -> BundleSpec.Model {
            BundleSpec.Model(name: (path as NSString).lastPathComponent, path: path, mark: YAMLMark(file: "spec.yaml", line: 1, column: 1))
        }
        let accepted = try BuildInputs.modelEntries([model(first), model(other)])
        #expect(accepted.map(\.entry.path) == ["models/model.bin", "models/other.bin"])
        #expect(throws: BuildInputError.duplicateModelFile(name: "model.bin")) {
            try BuildInputs.modelEntries([model(first), model(second)])
        }
        #expect(throws: FileReadError.self) { try BuildInputs.modelEntries([model("\(fixture.folder)/missing.bin")]) }
    }

    @Test("the embedded installer must be a readable regular ELF file; the running executable is one")
    func installerEntry() throws {
        let fixture = try BuilderFixture()
        defer { fixture.remove() }
        #expect(try BuildInputs.installerEntry(nil).path == "bin/frostbyte-bundle")
        let script = try fixture.write("installer.sh", "#!/bin/sh\n")
        #expect(throws: BuildInputError.unreadableInstaller(path: script, reason: "not an ELF executable")) {
            try BuildInputs.installerEntry(script)
        }
        #expect(throws: BuildInputError.unreadableInstaller(path: fixture.folder, reason: "not a regular file")) {
            try BuildInputs.installerEntry(fixture.folder)
        }
        #expect(throws: BuildInputError.self) { try BuildInputs.installerEntry("\(fixture.folder)/missing") }
    }

    @Test("the timestamp: --source-date-epoch, else SOURCE_DATE_EPOCH, else the spec's created_at, else 0; negatives and garbage refused")
    func sourceDateEpoch() throws {
        let fixture = try BuilderFixture()
        defer { fixture.remove() }
        var spec = try fixture.spec()
        #expect(try BuildInputs.sourceDateEpoch(option: nil, environment: [:], spec: spec) == 0)
        spec.createdAt = Date(timeIntervalSince1970: 1_767_225_600.9)
        #expect(try BuildInputs.sourceDateEpoch(option: nil, environment: [:], spec: spec) == 1_767_225_600)
        #expect(try BuildInputs.sourceDateEpoch(option: nil, environment: ["SOURCE_DATE_EPOCH": "42"], spec: spec) == 42)
        #expect(try BuildInputs.sourceDateEpoch(option: 7, environment: ["SOURCE_DATE_EPOCH": "42"], spec: spec) == 7)
        #expect(try BuildInputs.sourceDateEpoch(option: nil, environment: ["SOURCE_DATE_EPOCH": ""], spec: spec) == 1_767_225_600)
        #expect(throws: BuildInputError.badEpoch("-1")) { try BuildInputs.sourceDateEpoch(option: -1, environment: [:], spec: spec) }
        #expect(throws: BuildInputError.badEpoch("soon")) {
            try BuildInputs.sourceDateEpoch(option: nil, environment: ["SOURCE_DATE_EPOCH": "soon"], spec: spec)
        }
        #expect(BuildInputs.iso8601(1_767_225_600) == "2026-01-01T00:00:00Z")
    }

    @Test("what sharing blobs saved: each image's blobs summed, minus the distinct blobs")
    func sharedBytesSaved() {
        func blob(_ name: String, _ size: Int64) -> Manifest.Blob {
            .init(digest: SHA256Hasher.hash(Data(name.utf8)).prefixed, size: size, mediaType: "x")
        }
        let (base, app, worker) = (blob("base", 1000), blob("app", 10), blob("worker", 20))
        let (appConfig, workerConfig, appManifest, workerManifest) = (blob("ac", 1), blob("wc", 2), blob("am", 3), blob("wm", 4))
        let images = [
            Manifest.Image(name: "app", digest: appConfig.digest, manifestDigest: appManifest.digest, layers: [base.digest, app.digest]),
            Manifest.Image(name: "worker", digest: workerConfig.digest, manifestDigest: workerManifest.digest,
                           layers: [base.digest, worker.digest]),
        ]
        let shared = StagedLayout(images: images, blobs: [appManifest, appConfig, base, app, workerManifest, workerConfig, worker])
        #expect(shared.sharedBytesSaved == 1000)
        // Control: nothing shared, nothing saved.
        let alone = StagedLayout(images: [images[0]], blobs: [appManifest, appConfig, base, app])
        #expect(alone.sharedBytesSaved == 0)
    }
}
