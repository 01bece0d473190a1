import FrostbyteCore
import BundleFormat
import FrostbyteArchive
import FrostbyteCrypto
import FoundationEssentials
import Glibc

/// The generated seeds of the `verify` and `image-archive` targets: small but
/// complete bundles made with BundleWriter (the code behind `build`), the way the
/// BundleFormatTests fixtures make them, so every check of the verifier passes on
/// them before mutation. Written by `scripts/fuzz --seeds`; the results are committed.
enum SeedBundles {
    static let mtime: Int64 = 1_767_225_600

    static func write(into folder: String) throws {
        for sub in ["verify", "image-archive"] {
            try FileManager.default.createDirectory(atPath: folder + "/" + sub, withIntermediateDirectories: true)
        }
        let key = try SigningKey.generate()
        try (try key.verifyingKey().pem()).write(to: URL(fileURLWithPath: folder + "/verify-trust.pub"))

        let legacy = try legacyImage(in: folder)
        let ociImage = try ociArchive(in: folder)
        try legacy.archive.write(to: URL(fileURLWithPath: folder + "/image-archive/legacy.tar"))
        try ociImage.write(to: URL(fileURLWithPath: folder + "/image-archive/oci.tar"))

        let compose = Data("services:\n  app:\n    image: frostbyte-demo/app:1.0\n".utf8)
        // Format v2: an OCI layout with two images sharing a layer.
        let shared = blob(Data(repeating: 0x61, count: 300), OCILayout.layerMediaType)
        let own = blob(Data(repeating: 0x62, count: 200), OCILayout.layerMediaType)
        let configData = Data(#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":["\#(shared.digest)","\#(own.digest)"]}}"#.utf8)
        let config = blob(configData, OCILayout.configMediaType)
        let manifestBlob = blob(try OCILayout.manifestData(config: config.descriptor, layers: [shared.descriptor, own.descriptor]),
                                OCILayout.manifestMediaType)
        let index = try OCILayout.indexData([("docker.io/frostbyte-demo/app:1.0", manifestBlob.descriptor)])
        var entries = [
            BundleEntry(path: "docker-compose.yml", source: .data(compose)),
            BundleEntry(path: OCILayout.layoutPath, source: .data(OCILayout.layoutFile)),
            BundleEntry(path: OCILayout.indexPath, source: .data(index)),
        ]
        let blobs = [manifestBlob, config, shared, own]
        entries += blobs.map { BundleEntry(path: OCILayout.blobPath($0.digest), source: .data($0.data)) }
        let v2 = Manifest(
            name: "demo", version: "1.0.0", bundleId: "", createdAt: "2026-01-01T00:00:00Z",
            builder: .init(name: "frostbyte-bundle", version: "fuzz-seed"),
            compose: composeRecord(compose),
            images: [.init(name: "frostbyte-demo/app:1.0", digest: config.digest, manifestDigest: manifestBlob.digest,
                           layers: [shared.digest, own.digest])],
            files: [], format: Manifest.formatV2,
            blobs: blobs.map { .init(digest: $0.digest, size: Int64($0.data.count), mediaType: $0.mediaType) })
        try writeBundle(v2, entries, key: key, to: folder + "/verify/v2.tar", compression: .none)
        try writeBundle(v2, entries, key: key, to: folder + "/verify/v2.tar.zst", compression: .zstd(level: 3))
        try writeBundle(v2, entries, key: nil, to: folder + "/verify/v2-unsigned.tar", compression: .none)
        try writeSplitIndex(v2, entries, key: key, into: folder)

        // Format v1: one `docker save` archive per image, a model, a script, a migration.
        let v1Entries = [
            BundleEntry(path: "docker-compose.yml", source: .data(compose)),
            BundleEntry(path: "images/app.tar", source: .data(legacy.archive)),
            BundleEntry(path: "models/embed.bin", source: .data(Data(repeating: 0x6D, count: 100))),
            BundleEntry(path: "scripts/install.sh", source: .data(Data("#!/bin/sh\necho install\n".utf8))),
            BundleEntry(path: "migrations/001_init.sql", source: .data(Data("CREATE TABLE t(id int);\n".utf8))),
        ]
        let hashedV1 = try BundleWriter.hash(v1Entries)
        func digest(_ path: String) -> SHA256Digest { hashedV1.first { $0.path == path }!.digest! }
        let v1 = Manifest(
            name: "demo", version: "1.0.0", bundleId: "", createdAt: "2026-01-01T00:00:00Z",
            builder: .init(name: "frostbyte-bundle", version: "fuzz-seed"),
            compose: composeRecord(compose),
            images: [.init(name: "frostbyte-demo/app:1.0", file: "images/app.tar", sha256: digest("images/app.tar"),
                           digest: legacy.digest, size: Int64(legacy.archive.count))],
            models: [.init(name: "embed", path: "models/embed.bin", sha256: digest("models/embed.bin"), size: 100)],
            scripts: ["scripts/install.sh"],
            migrations: .init(service: "postgres", database: "demo", user: "demo", files: ["migrations/001_init.sql"]),
            files: [])
        try writeBundle(v1, v1Entries, key: key, to: folder + "/verify/v1.tar", compression: .none)
    }

    private static func composeRecord(_ compose: Data) -> Manifest.Compose {
        .init(file: "docker-compose.yml", sha256: SHA256Hasher.hash(compose), project: "demo",
              networks: [.init(name: "demo-internal", subnet: "172.29.0.0/16", internal: true)])
    }

    private static func writeBundle(_ manifest: Manifest, _ entries: [BundleEntry], key: SigningKey?,
                                    to path: String, compression: ArchiveCompression) throws {
        _ = try BundleWriter(compression: compression, mtime: mtime, signingKey: key)
            .write(manifest: manifest, entries: try BundleWriter.hash(entries), to: path)
        unlink(path + ".sha256")
    }

    /// The `.parts.json` of the v2 bundle split into 4 KiB parts (the parts are
    /// dropped; the `parts` target reads only the index).
    private static func writeSplitIndex(_ manifest: Manifest, _ entries: [BundleEntry], key: SigningKey,
                                        into folder: String) throws {
        let scratch = folder + "/.split"
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let bundle = scratch + "/demo-1.0.0.tar"
        _ = try BundleWriter(compression: .none, mtime: mtime, signingKey: key)
            .write(manifest: manifest, entries: try BundleWriter.hash(entries),
                   to: try BundleWriter.destination(at: bundle, splitSize: 4096))
        try FileManager.default.createDirectory(atPath: folder + "/parts", withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: bundle + ".parts.json", toPath: folder + "/parts/demo-1.0.0.tar.parts.json")
    }

    struct Blob {
        var data: Data
        var mediaType: String
        var digest: String { "sha256:" + SHA256Hasher.hash(data).hex }
        var descriptor: OCILayout.Descriptor { .init(mediaType: mediaType, digest: digest, size: Int64(data.count)) }
    }

    private static func blob(_ data: Data, _ mediaType: String) -> Blob { Blob(data: data, mediaType: mediaType) }

    /// A legacy `docker save` archive (Docker 20.10's layout) and its image ID.
    private static func legacyImage(in folder: String) throws -> (archive: Data, digest: String) {
        let layer = try tar([("bin/app", Data(repeating: 0x41, count: 100))], in: folder)
        let config = Data(#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":["sha256:\#(SHA256Hasher.hash(layer).hex)"]}}"#.utf8)
        let id = SHA256Hasher.hash(config).hex
        let layerDir = SHA256Hasher.hash(layer).hex
        let manifest = Data(#"[{"Config":"\#(id).json","RepoTags":["frostbyte-demo/app:1.0"],"Layers":["\#(layerDir)/layer.tar"]}]"#.utf8)
        let archive = try tar([("\(id).json", config), ("\(layerDir)/VERSION", Data("1.0".utf8)),
                               ("\(layerDir)/layer.tar", layer), ("manifest.json", manifest),
                               ("repositories", Data("{}".utf8))], in: folder)
        return (archive, "sha256:" + id)
    }

    /// An OCI-layout `docker save` archive (Docker >= 25).
    private static func ociArchive(in folder: String) throws -> Data {
        let layer = try tar([("bin/app", Data(repeating: 0x42, count: 100))], in: folder)
        let config = blob(Data(#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":["sha256:\#(SHA256Hasher.hash(layer).hex)"]}}"#.utf8),
                          OCILayout.configMediaType)
        let layerBlob = blob(layer, OCILayout.layerMediaType)
        let manifest = blob(try OCILayout.manifestData(config: config.descriptor, layers: [layerBlob.descriptor]),
                            OCILayout.manifestMediaType)
        let index = try OCILayout.indexData([("docker.io/frostbyte-demo/app:1.0", manifest.descriptor)])
        let hex = { (blob: Blob) in String(blob.digest.dropFirst(7)) }
        return try tar([("blobs/sha256/\(hex(config))", config.data), ("blobs/sha256/\(hex(layerBlob))", layer),
                        ("blobs/sha256/\(hex(manifest))", manifest.data), ("index.json", index),
                        ("oci-layout", OCILayout.layoutFile),
                        ("manifest.json", Data(#"[{"Config":"blobs/sha256/\#(hex(config))","RepoTags":["frostbyte-demo/app:1.0"],"Layers":["blobs/sha256/\#(hex(layerBlob))"]}]"#.utf8))],
                       in: folder)
    }

    /// A plain tar of `files` (written through ArchiveWriter, read back).
    private static func tar(_ files: [(String, Data)], in folder: String) throws -> Data {
        let path = folder + "/.seed-\(getpid()).tar"
        let output = try AtomicOutputFile(finalPath: path)
        defer { output.discard(); unlink(path) }
        let archive = try ArchiveWriter(output: output, compression: .none, mtime: mtime)
        for (name, data) in files { try archive.writeFile(name, mode: .file, contents: data) }
        try archive.finish()
        _ = try output.close()
        try output.commit()
        return try Data(contentsOf: URL(fileURLWithPath: path))
    }
}
