import FrostbyteCore
import BundleFormat
import FrostbyteCrypto
import Foundation

/// A scratch folder removed when the test ends (call `remove()` in `defer`).
struct TemporaryFolder {
    let path: String

    init() throws {
        var template = Array((NSTemporaryDirectory() + "/fbverify-XXXXXX").utf8CString)
        guard let made = mkdtemp(&template) else { throw FixtureError.libarchive("mkdtemp failed") }
        path = String(cString: made)
    }

    func file(_ name: String) -> String { path + "/" + name }

    func remove() { try? FileManager.default.removeItem(atPath: path) }

    /// Every path below the folder (relative), for "nothing was written" checks.
    func listing() -> [String] {
        (FileManager.default.subpaths(atPath: path) ?? []).sorted()
    }
}

/// A good bundle built in the test, and the knobs the tamper tests turn.
/// Entry order follows DESIGN "Bundle format v1": the root folder, MANIFEST.json,
/// MANIFEST.json.sig, SHA256SUMS, small files sorted by path, models/, images/.
struct FixtureBundle {
    var name = "demo"
    var version = "1.0.0"
    /// Payload entries with paths relative to the root folder, in archive order.
    var payload: [FixtureEntry]
    var imageDigest: String
    var signingKey: SigningKey?
    var editManifest: (inout Manifest) -> Void = { _ in }
    /// Replaces the rendered SHA256SUMS (bundle_id is still computed from it).
    var sumsOverride: Data?
    /// Replaces the bytes of MANIFEST.json entirely.
    var manifestOverride: Data?
    var keepBundleId: String?

    var root: String { "\(name)-\(version)" }

    /// The standard good bundle: compose file, env example, config, a script, a
    /// migration, a 1.5 MiB model (several pipeline chunks) and one legacy image.
    static func standard(in folder: String, signingKey: SigningKey? = nil,
                         image: (archive: Data, digest: String)? = nil) throws -> FixtureBundle {
        let image = try image ?? FixtureImage.legacy(in: folder)
        // 4 bits of entropy a byte: zstd really compresses it (Huffman blocks, not
        // raw ones), so corrupting the compressed stream is detected by the decoder.
        var model = Data(count: 1_500_000)
        var state: UInt64 = 7
        for index in model.indices {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            model[index] = UInt8(ascii: "a") + UInt8(truncatingIfNeeded: state >> 60)
        }
        let payload: [FixtureEntry] = [
            .file(".env.example", Data("POSTGRES_PASSWORD=change-me\n".utf8)),
            .directory("config"),
            .file("config/tenant.json", Data(#"{"tenant":"demo"}"#.utf8)),
            .file("docker-compose.yml", Data("services:\n  app:\n    image: demo/app:1.0\n".utf8)),
            .directory("migrations"),
            .file("migrations/001_init.sql", Data("CREATE TABLE audit_log(id int);\n".utf8)),
            .directory("scripts"),
            .file("scripts/install.sh", Data("#!/bin/sh\necho install\n".utf8), mode: 0o755),
            .directory("models"),
            .file("models/embed.bin", model),
            .directory("images"),
            .file("images/app.tar", image.archive),
        ]
        return FixtureBundle(payload: payload, imageDigest: image.digest, signingKey: signingKey)
    }

    func payloadData(_ path: String) -> Data {
        payload.first { $0.pathString == path }!.data
    }

    func listedFiles() -> [Manifest.File] {
        payload.map { entry in
            entry.kind == .directory
                ? Manifest.File(path: entry.pathString, sha256: nil, size: 0, mode: "0755")
                : Manifest.File(path: entry.pathString, sha256: SHA256Hasher.hash(entry.data),
                                size: Int64(entry.data.count), mode: String(entry.mode, radix: 8).leftPad4)
        }
    }

    /// MANIFEST.json, signature and SHA256SUMS as the builder would write them.
    func metadata() throws -> (manifest: Data, signature: Data?, sums: Data) {
        let files = listedFiles()
        func digest(_ path: String) -> SHA256Digest { files.first { $0.path == path }!.sha256! }
        func size(_ path: String) -> Int64 { files.first { $0.path == path }!.size }
        var manifest = Manifest(
            name: name, version: version, bundleId: "", createdAt: "2026-01-01T00:00:00Z",
            builder: .init(name: "frostbyte-bundle", version: "0.1.0"),
            compose: .init(file: "docker-compose.yml", sha256: digest("docker-compose.yml"), project: "demo",
                           networks: [.init(name: "demo-internal", subnet: "172.29.0.0/16", internal: true)]),
            images: [.init(name: "demo/app:1.0", file: "images/app.tar", sha256: digest("images/app.tar"),
                           digest: imageDigest, size: size("images/app.tar"))],
            models: [.init(name: "embed", path: "models/embed.bin", sha256: digest("models/embed.bin"),
                           size: size("models/embed.bin"))],
            scripts: ["scripts/install.sh"],
            migrations: .init(service: "postgres", database: "demo", user: "demo", files: ["migrations/001_init.sql"]),
            files: files)
        editManifest(&manifest)
        let sums = sumsOverride ?? SHA256Sums.render(manifest.files)
        manifest.bundleId = keepBundleId ?? SHA256Sums.bundleId(name: manifest.name, version: manifest.version, sums: sums)
        let manifestData = try manifestOverride ?? DeterministicJSON.encode(manifest)
        let signature = try signingKey?.sign(manifestData)
        return (manifestData, signature, sums)
    }

    /// Every archive entry with full paths, in bundle order.
    func entries() throws -> [FixtureEntry] {
        let meta = try metadata()
        var entries: [FixtureEntry] = [.directory(root + "/"), .file("\(root)/MANIFEST.json", meta.manifest)]
        if let signature = meta.signature { entries.append(.file("\(root)/MANIFEST.json.sig", signature)) }
        entries.append(.file("\(root)/SHA256SUMS", meta.sums))
        for var entry in payload {
            entry.path = Array("\(root)/".utf8) + entry.path
            entries.append(entry)
        }
        return entries
    }

    /// Writes the bundle (after `transform`, which may plant hostile entries).
    @discardableResult
    func write(to path: String, zstd: Bool = true,
               transform: ([FixtureEntry]) throws -> [FixtureEntry] = { $0 }) throws -> String {
        try FixtureTarWriter.write(try transform(try entries()), to: path, zstd: zstd)
        return path
    }

    /// Writes the bundle's root folder as `tar -xf` would leave it.
    func writeFolder(in parent: String) throws -> String {
        let meta = try metadata()
        let folder = parent + "/" + root
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        var files: [(String, Data, UInt32)] = [("MANIFEST.json", meta.manifest, 0o644), ("SHA256SUMS", meta.sums, 0o644)]
        if let signature = meta.signature { files.append(("MANIFEST.json.sig", signature, 0o644)) }
        for entry in payload {
            let full = folder + "/" + entry.pathString
            if entry.kind == .directory {
                try FileManager.default.createDirectory(atPath: full, withIntermediateDirectories: true)
                chmod(full, mode_t(entry.mode))
            } else {
                files.append((entry.pathString, entry.data, entry.mode))
            }
        }
        for (path, data, mode) in files {
            let full = folder + "/" + path
            try data.write(to: URL(fileURLWithPath: full))
            chmod(full, mode_t(mode))
        }
        return folder
    }
}

extension String {
    var leftPad4: String { count >= 4 ? self : String(repeating: "0", count: 4 - count) + self }
}
