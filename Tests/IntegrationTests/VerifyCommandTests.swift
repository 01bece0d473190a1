import BundleFormat
import FrostbyteCrypto
import Foundation
import TestSupport
import Testing

/// Runs the real `frostbyte-bundle verify-bundle` / `inspect` binary against bundles
/// written by BundleWriter, keys made by `openssl genpkey`, and bad input.
@Suite("verify-bundle and inspect: the real binary")
struct VerifyCommandTests {
    // MARK: - Plumbing

    /// Runs the binary under test (TestSupport's `FrostbyteBinary`).
    static func tool(_ arguments: String...) throws -> CommandOutput { try TestCommand.tool(arguments) }

    /// A scratch folder with a signed bundle (legacy docker-save image made with
    /// GNU tar), its key pair made by openssl, and the extracted folder.
    struct Scene {
        let folder: String
        let bundle: String
        let extracted: String
        let publicKey: String
        let manifest: Manifest

        init(image: (path: String, digest: String)? = nil) throws {
            folder = NSTemporaryDirectory() + "fbverify-it-\(UUID().uuidString)"
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            let privateKey = folder + "/signer.key"
            publicKey = folder + "/signer.pub"
            #expect(try TestCommand.run(["openssl", "genpkey", "-algorithm", "ed25519", "-out", privateKey]).status == 0)
            #expect(try TestCommand.run(["openssl", "pkey", "-in", privateKey, "-pubout", "-out", publicKey]).status == 0)
            let image = try image ?? Self.makeImage(in: folder)
            let compose = Data("services:\n  app:\n    image: demo/app:1.0\n".utf8)
            var entries = [
                BundleEntry(path: "docker-compose.yml", source: .data(compose)),
                BundleEntry(path: "config/tenant.json", source: .data(Data(#"{"tenant":"a"}"#.utf8))),
                BundleEntry(path: "images/app.tar", source: .file(image.path)),
            ]
            entries = try BundleWriter.hash(entries)
            let imageEntry = entries.first { $0.path == "images/app.tar" }!
            let draft = Manifest(
                name: "demo", version: "3.1.0", bundleId: "", createdAt: "2026-01-01T00:00:00Z",
                builder: .init(name: "frostbyte-bundle", version: "test"),
                compose: .init(file: "docker-compose.yml", sha256: SHA256Hasher.hash(compose), project: "demo",
                               networks: [.init(name: "demo-internal", subnet: "172.29.0.0/16", internal: true)]),
                images: [.init(name: "demo/app:1.0", file: "images/app.tar", sha256: imageEntry.digest!,
                               digest: image.digest, size: imageEntry.size!)],
                files: [])
            let key = try SigningKey(contentsOf: privateKey)
            bundle = folder + "/demo-3.1.0.tar.zst"
            manifest = try BundleWriter(mtime: 1_767_225_600, signingKey: key)
                .write(manifest: draft, entries: entries, to: bundle).manifest
            #expect(try TestCommand.run(["tar", "--zstd", "-xf", bundle, "-C", folder]).status == 0)
            extracted = folder + "/demo-3.1.0"
        }

        /// A docker-save (legacy layout) archive built with GNU tar.
        static func makeImage(in folder: String) throws -> (path: String, digest: String) {
            let work = folder + "/image"
            try FileManager.default.createDirectory(atPath: work + "/layer0", withIntermediateDirectories: true)
            try Data(repeating: 0x42, count: 5000).write(to: URL(fileURLWithPath: work + "/app.bin"))
            #expect(try TestCommand.run(["tar", "-cf", work + "/layer0/layer.tar", "-C", work, "app.bin"]).status == 0)
            let layer = try SHA256Hasher.hash(Data(contentsOf: URL(fileURLWithPath: work + "/layer0/layer.tar"))).hex
            let config = Data(#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":["sha256:\#(layer)"]}}"#.utf8)
            let id = SHA256Hasher.hash(config).hex
            try config.write(to: URL(fileURLWithPath: "\(work)/\(id).json"))
            try Data(#"[{"Config":"\#(id).json","RepoTags":["demo/app:1.0"],"Layers":["layer0/layer.tar"]}]"#.utf8)
                .write(to: URL(fileURLWithPath: work + "/manifest.json"))
            let path = folder + "/app.tar"
            #expect(try TestCommand.run(["tar", "-cf", path, "-C", work, "\(id).json", "layer0/layer.tar", "manifest.json"]).status == 0)
            return (path, "sha256:\(id)")
        }

        func remove() { try? FileManager.default.removeItem(atPath: folder) }
    }

    // MARK: - Good bundles

    @Test("a signed bundle verifies with --trust, as file and folder; JSON names the key fingerprint openssl computes")
    func signedBundle() throws {
        let scene = try Scene()
        defer { scene.remove() }
        let human = try Self.tool("verify-bundle", scene.bundle, "--trust", scene.publicKey)
        #expect(human.status == 0, "\(human.stderr)")
        #expect(human.stdout.contains(": OK ("))
        #expect(human.stdout.contains(scene.manifest.bundleId))

        let json = try Self.tool("verify-bundle", scene.bundle, "--trust", scene.publicKey, "--json")
        #expect(json.status == 0)
        let report = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as! [String: Any]
        #expect(report["verified"] as? Bool == true)
        #expect(report["schema"] as? String == "frostbyte-bundle-verification/1")
        #expect(report["sidecar"] as? String == "ok")
        let signature = report["signature"] as! [String: Any]
        #expect(signature["state"] as? String == "trusted")
        let der = try TestCommand.run(["sh", "-c", "openssl pkey -pubin -in '\(scene.publicKey)' -outform DER | sha256sum | cut -c1-64"])
        #expect(signature["matched_key"] as? String == der.stdout.trimmingCharacters(in: .whitespacesAndNewlines))

        let folder = try Self.tool("verify-bundle", scene.extracted, "--trust", scene.publicKey)
        #expect(folder.status == 0, "\(folder.stdout)\(folder.stderr)")

        let unchecked = try Self.tool("verify-bundle", scene.bundle)
        #expect(unchecked.status == 0)
        #expect(unchecked.stdout.contains("warning: signed, key not checked"))
    }

    @Test("inspect shows the manifest's facts, and the matching key with --trust")
    func inspect() throws {
        let scene = try Scene()
        defer { scene.remove() }
        let human = try Self.tool("inspect", scene.bundle, "--trust", scene.publicKey)
        #expect(human.status == 0, "\(human.stderr)")
        for text in ["demo", "3.1.0", scene.manifest.bundleId, "172.29.0.0/16", scene.manifest.images[0].digest,
                     "signed by trusted key"] {
            #expect(human.stdout.contains(text), "missing \(text)")
        }
        let json = try Self.tool("inspect", scene.extracted, "--json")
        #expect(json.status == 0)
        let facts = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as! [String: Any]
        #expect(facts["bundle_id"] as? String == scene.manifest.bundleId)
        #expect(facts["signed"] as? Bool == true)
        #expect((facts["images"] as? [[String: Any]])?.first?["digest"] as? String == scene.manifest.images[0].digest)
    }

    @Test("a real `docker save` archive verifies against the image ID docker reports",
          .requiresDockerAndTestImage)
    func realDockerSave() throws {
        let folder = NSTemporaryDirectory() + "fbverify-docker-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        #expect(try TestCommand.run(["docker", "save", "-o", folder + "/busybox.tar", Docker.testImage]).status == 0)
        let id = try TestCommand.run(["docker", "image", "inspect", "--format", "{{.Id}}", Docker.testImage])
            .stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let scene = try Scene(image: (folder + "/busybox.tar", id))
        defer { scene.remove() }
        let json = try Self.tool("verify-bundle", scene.bundle, "--json")
        #expect(json.status == 0, "\(json.stdout)")
        let report = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as! [String: Any]
        let image = (report["images"] as! [[String: Any]])[0]
        #expect(image["actual_digest"] as? String == id)
    }

    @Test("a bundle made by `build --sign-key` verifies with --trust (file and folder) and with openssl; another key fails")
    func builtBySignedBuild() throws {
        let scratch = NSTemporaryDirectory() + "fbverify-build-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let image = try Scene.makeImage(in: scratch)
        let fixture = try BuildFixture(image: "demo/app:1.0", archive: image.path)
        defer { fixture.remove() }
        let key = fixture.folder + "/signer"
        #expect(try Self.tool("keygen", "--out", key).status == 0)
        let built = try TestCommand.run([FrostbyteBinary.path, "build", fixture.spec, "-o", fixture.out + "/", "--sign-key", key + ".key"])
        #expect(built.status == 0, "\(built.stderr)")
        let bundle = try #require(fixture.outputListing().first { $0.hasSuffix(".tar.zst") }.map { fixture.out + "/" + $0 })

        let json = try Self.tool("verify-bundle", bundle, "--trust", key + ".pub", "--json")
        #expect(json.status == 0, "\(json.stdout)\(json.stderr)")
        let report = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as! [String: Any]
        #expect((report["signature"] as? [String: Any])?["state"] as? String == "trusted")
        #expect(report["sidecar"] as? String == "ok")
        #expect((report["images"] as? [[String: Any]])?.first?["actual_digest"] as? String == image.digest)

        let extract = fixture.folder + "/x"
        try FileManager.default.createDirectory(atPath: extract, withIntermediateDirectories: true)
        #expect(try TestCommand.run(["tar", "--zstd", "-xf", bundle, "-C", extract]).status == 0)
        let root = try #require(try FileManager.default.contentsOfDirectory(atPath: extract).first.map { extract + "/" + $0 })
        #expect(try TestCommand.run(["openssl", "pkeyutl", "-verify", "-pubin", "-inkey", key + ".pub", "-rawin",
                              "-in", root + "/MANIFEST.json", "-sigfile", root + "/MANIFEST.json.sig"]).status == 0)
        let folder = try Self.tool("verify-bundle", root, "--trust", key + ".pub")
        #expect(folder.status == 0, "\(folder.stdout)\(folder.stderr)")

        #expect(try Self.tool("keygen", "--out", fixture.folder + "/other").status == 0)
        let stranger = try Self.tool("verify-bundle", bundle, "--trust", fixture.folder + "/other.pub")
        #expect(stranger.status == 1)
        #expect(stranger.stdout.contains("[signature]"))
    }

    // MARK: - Failures

    @Test("a tampered folder fails with exit 1 and one line per problem")
    func tamperedFolder() throws {
        let scene = try Scene()
        defer { scene.remove() }
        try Data("services: {}\n".utf8).write(to: URL(fileURLWithPath: scene.extracted + "/docker-compose.yml"))
        try Data("x".utf8).write(to: URL(fileURLWithPath: scene.extracted + "/config/extra.txt"))
        let result = try Self.tool("verify-bundle", scene.extracted)
        #expect(result.status == 1)
        #expect(result.stdout.contains("FAILED (3 problems)"))
        #expect(result.stdout.contains("[sha256] docker-compose.yml"))
        #expect(result.stdout.contains("[size] docker-compose.yml"))
        #expect(result.stdout.contains("[unlisted-file] config/extra.txt"))
        let json = try Self.tool("verify-bundle", scene.extracted, "--json")
        #expect(json.status == 1)
        let report = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as! [String: Any]
        #expect((report["problems"] as? [[String: Any]])?.count == 3)
    }

    @Test("a truncated bundle fails with exit 1 and says truncated; a wrong key fails with exit 1")
    func truncatedAndWrongKey() throws {
        let scene = try Scene()
        defer { scene.remove() }
        let other = scene.folder + "/other.key"
        #expect(try TestCommand.run(["openssl", "genpkey", "-algorithm", "ed25519", "-out", other]).status == 0)
        #expect(try TestCommand.run(["openssl", "pkey", "-in", other, "-pubout", "-out", other + ".pub"]).status == 0)
        let wrongKey = try Self.tool("verify-bundle", scene.bundle, "--trust", other + ".pub")
        #expect(wrongKey.status == 1)
        #expect(wrongKey.stdout.contains("[signature] MANIFEST.json.sig"))

        let size = try FileManager.default.attributesOfItem(atPath: scene.bundle)[.size] as! Int
        #expect(truncate(scene.bundle, off_t(size - 100)) == 0)
        let truncated = try Self.tool("verify-bundle", scene.bundle)
        #expect(truncated.status == 1)
        #expect(truncated.stdout.lowercased().contains("truncated"))
    }

    @Test("bad input exits 2 with one clear sentence and no stack trace", arguments: [
        "no argument", "missing path", "empty file", "random bytes", "plain tarball", "gzip tarball",
        "unreadable key", "non-Ed25519 key", "garbage key",
    ])
    func badInput(kind: String) throws {
        let scene = try Scene()
        defer { scene.remove() }
        let file = scene.folder + "/input"
        var arguments = ["verify-bundle", file]
        switch kind {
        case "no argument": arguments = ["verify-bundle"]
        case "missing path": break
        case "empty file": FileManager.default.createFile(atPath: file, contents: Data())
        case "random bytes": #expect(try TestCommand.run(["sh", "-c", "head -c 65536 /dev/urandom > '\(file)'"]).status == 0)
        case "plain tarball": #expect(try TestCommand.run(["tar", "--zstd", "-cf", file, "-C", scene.folder, "image"]).status == 0)
        case "gzip tarball": #expect(try TestCommand.run(["tar", "-czf", file, "-C", scene.folder, "image"]).status == 0)
        case "unreadable key": arguments = ["verify-bundle", scene.bundle, "--trust", scene.folder + "/nokey.pub"]
        case "non-Ed25519 key":
            #expect(try TestCommand.run(["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
                                  "-out", file + ".ec"]).status == 0)
            #expect(try TestCommand.run(["openssl", "pkey", "-in", file + ".ec", "-pubout", "-out", file + ".pub"]).status == 0)
            arguments = ["verify-bundle", scene.bundle, "--trust", file + ".pub"]
        default:
            try Data("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n".utf8)
                .write(to: URL(fileURLWithPath: file + ".pub"))
            arguments = ["verify-bundle", scene.bundle, "--trust", file + ".pub"]
        }
        for command in arguments.first == "verify-bundle" ? ["verify-bundle", "inspect"] : [] {
            var current = arguments
            current[0] = command
            if command == "inspect", kind.hasSuffix("key") { continue }
            let result = try TestCommand.run([FrostbyteBinary.path] + current)
            #expect(result.status == 2, "\(command) \(kind): \(result.stdout)\(result.stderr)")
            #expect(result.stdout.isEmpty)
            let lines = result.stderr.split(separator: "\n")
            #expect(lines.count == 1, "\(result.stderr)")
            #expect(result.stderr.hasPrefix("frostbyte-bundle: "))
            #expect(!result.stderr.contains("Fatal error") && !result.stderr.contains("Stack dump"))
        }
    }
}
