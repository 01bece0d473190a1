import FrostbyteCore
import BundleFormat
import FrostbyteCrypto
import FrostbyteArchive
import Foundation
import Testing
import TestSupport

@Suite("BundleWriter: layout, manifest, sidecar, atomic output")
struct WriterBundleTests {
    private func manifest(name: String = "demo", version: String = "1.0.0") -> Manifest {
        Manifest(name: name, version: version, bundleId: "", createdAt: "2026-01-01T00:00:00Z",
                 builder: .init(name: "frostbyte-bundle", version: "test"), files: [])
    }

    /// Entries with a model, an image, a template tree and in-memory files.
    private func entries(in folder: TemporaryFolder) throws -> [BundleEntry] {
        try Data(repeating: 7, count: 2 << 20).write(to: URL(fileURLWithPath: folder.file("model.bin")))
        try Data(repeating: 9, count: 100_000).write(to: URL(fileURLWithPath: folder.file("image.tar")))
        try Data("#!/bin/sh\n".utf8).write(to: URL(fileURLWithPath: folder.file("install.sh")))
        return [
            BundleEntry(path: "images/app.tar", source: .file(folder.file("image.tar"))),
            BundleEntry(path: "models/model.bin", source: .file(folder.file("model.bin"))),
            BundleEntry(path: "scripts/install.sh", source: .file(folder.file("install.sh")), mode: .executable),
            BundleEntry(path: "docker-compose.yml", source: .data(Data("services: {}\n".utf8))),
            BundleEntry(path: "config/tenant.json", source: .data(Data("{}\n".utf8))),
            BundleEntry(path: "bin/frostbyte-bundle", source: .file(folder.file("install.sh")), mode: .executable),
            BundleEntry(path: "policy", source: .directory),
        ]
    }

    @Test("entry order: meta files, then sorted small entries with their folders, then models/, then images/")
    func order() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let hashed = try BundleWriter.hash(try entries(in: folder))
        let out = folder.file("demo-1.0.0.tar")
        _ = try BundleWriter(compression: .none, mtime: 0).write(manifest: manifest(), entries: hashed, to: out)
        let listing = try TestCommand.run(["tar", "-tf", out]).stdout.split(separator: "\n").map(String.init)
        #expect(listing == [
            "demo-1.0.0/MANIFEST.json", "demo-1.0.0/SHA256SUMS",
            "demo-1.0.0/bin/", "demo-1.0.0/bin/frostbyte-bundle",
            "demo-1.0.0/config/", "demo-1.0.0/config/tenant.json",
            "demo-1.0.0/docker-compose.yml", "demo-1.0.0/policy/",
            "demo-1.0.0/scripts/", "demo-1.0.0/scripts/install.sh",
            "demo-1.0.0/models/", "demo-1.0.0/models/model.bin",
            "demo-1.0.0/images/", "demo-1.0.0/images/app.tar",
        ])
    }

    @Test("manifest files, SHA256SUMS, bundle_id and the sidecar agree with sha256sum; signature with openssl")
    func consistency() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let key = try SigningKey.generate()
        try key.publicPEM().write(to: URL(fileURLWithPath: folder.file("key.pub")))
        let hashed = try BundleWriter.hash(try entries(in: folder))
        let out = folder.file("demo-1.0.0.tar.zst")
        let result = try BundleWriter(mtime: 1_767_225_600, signingKey: key).write(
            manifest: manifest(), entries: hashed, to: out)
        #expect(result.signed)
        #expect(try TestCommand.run(["sha256sum", "-c", "demo-1.0.0.tar.zst.sha256"], in: folder.path).status == 0)
        #expect(try TestCommand.run(["tar", "-xf", out, "-C", folder.path]).status == 0)
        let root = folder.file("demo-1.0.0")
        #expect(try TestCommand.run(["sha256sum", "--strict", "-c", "SHA256SUMS"], in: root).status == 0)
        let sums = try Data(contentsOf: URL(fileURLWithPath: root + "/SHA256SUMS"))
        #expect(result.manifest.bundleId == "demo-1.0.0-" + SHA256Hasher.hash(sums).hex.prefix(12))
        let manifestData = try Data(contentsOf: URL(fileURLWithPath: root + "/MANIFEST.json"))
        #expect(manifestData == result.manifestData)
        let decoded = try ManifestCoding.decodeManifest(manifestData)
        #expect(decoded.files.count == 12)
        #expect(decoded.files.first { $0.path == "scripts/install.sh" }?.mode == "0755")
        #expect(decoded.files.first { $0.path == "policy" }?.isDirectory == true)
        let verify = ["openssl", "pkeyutl", "-verify", "-pubin", "-inkey", folder.file("key.pub"), "-rawin",
                      "-in", "MANIFEST.json", "-sigfile", "MANIFEST.json.sig"]
        #expect(try TestCommand.run(verify, in: root).status == 0)
        // Negative controls: a changed file fails sha256sum, a changed manifest fails openssl.
        try Data("tampered\n".utf8).write(to: URL(fileURLWithPath: root + "/config/tenant.json"))
        #expect(try TestCommand.run(["sha256sum", "--quiet", "-c", "SHA256SUMS"], in: root).status != 0)
        try (manifestData + Data(" ".utf8)).write(to: URL(fileURLWithPath: root + "/MANIFEST.json"))
        #expect(try TestCommand.run(verify, in: root).status != 0)
    }

    @Test("same inputs, same bytes; threads 1 and 2 of the hashing pre-pass agree")
    func reproducible() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let one = try BundleWriter.hash(try entries(in: folder), threads: 1)
        let two = try BundleWriter.hash(try entries(in: folder), threads: 2)
        #expect(one == two)
        let writer = BundleWriter(mtime: 42)
        let first = try writer.write(manifest: manifest(), entries: one, to: folder.file("a.tar.zst"))
        let second = try writer.write(manifest: manifest(), entries: two, to: folder.file("b.tar.zst"))
        #expect(first.sha256 == second.sha256)
        #expect(try Data(contentsOf: URL(fileURLWithPath: folder.file("a.tar.zst")))
                == Data(contentsOf: URL(fileURLWithPath: folder.file("b.tar.zst"))))
        let other = try BundleWriter(mtime: 43).write(manifest: manifest(), entries: one, to: folder.file("c.tar.zst"))
        #expect(other.sha256 != first.sha256, "negative control: the mtime must change the bytes")
    }

    @Test("layout errors: duplicates, reserved names, file/folder clashes")
    func layoutErrors() throws {
        let file = BundleEntry(path: "a/b", source: .data(Data()))
        #expect(throws: BundleWriteError.duplicatePath("a/b")) { try BundleLayout.plan([file, file]) }
        #expect(throws: BundleWriteError.reservedPath("SHA256SUMS")) {
            try BundleLayout.plan([BundleEntry(path: "SHA256SUMS", source: .data(Data()))])
        }
        #expect(throws: BundleWriteError.fileFolderClash("a")) {
            try BundleLayout.plan([BundleEntry(path: "a", source: .data(Data())), file])
        }
        #expect(try BundleLayout.plan([file]).map(\.path) == ["a", "a/b"])
    }

    @Test("a failure leaves neither the bundle, the sidecar nor a temporary file")
    func nothingLeftOnFailure() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let out = try TemporaryFolder()
        defer { out.remove() }
        var hashed = try BundleWriter.hash(try entries(in: folder))
        // The model shrinks after hashing: detected while writing, after most bytes went out.
        try Data(repeating: 7, count: 1 << 20).write(to: URL(fileURLWithPath: folder.file("model.bin")))
        #expect(throws: ArchiveWriteError.self) {
            try BundleWriter(mtime: 0).write(manifest: manifest(), entries: hashed, to: out.file("x.tar.zst"))
        }
        #expect(out.listing() == [])
        // A missing source file.
        hashed[0].source = .file(folder.file("gone"))
        #expect(throws: (any Error).self) {
            try BundleWriter(mtime: 0).write(manifest: manifest(), entries: hashed, to: out.file("x.tar.zst"))
        }
        #expect(out.listing() == [])
        // An output folder that does not exist.
        #expect(throws: BundleWriteError.self) {
            try BundleWriter(mtime: 0).write(manifest: manifest(), entries: hashed, to: out.file("no/such/x.tar.zst"))
        }
        #expect(out.listing() == [])
    }

    @Test("hashing reports an unreadable file by name")
    func unreadable() throws {
        let missing = "/nonexistent/model.bin"
        #expect(throws: FileReadError.cannotOpen(path: missing, reason: "No such file or directory")) {
            try BundleWriter.hash([BundleEntry(path: "models/m", source: .file(missing))])
        }
    }
}
