import BundleFormat
import CArchive
import Foundation

/// One blob of a v2 fixture: its bytes (in memory, or a file for big layers).
struct V2Blob {
    var source: BundleEntry.Source
    var digest: String
    var size: Int64
    var mediaType: String

    init(_ data: Data, mediaType: String) {
        source = .data(data)
        digest = "sha256:" + SHA256Hasher.hash(data).hex
        size = Int64(data.count)
        self.mediaType = mediaType
    }

    /// A blob stored in a file, hashed here.
    init(file path: String, mediaType: String) throws {
        source = .file(path)
        let hashed = try BundleWriter.hash([BundleEntry(path: "x", source: .file(path))])[0]
        digest = "sha256:" + hashed.digest!.hex
        size = hashed.size!
        self.mediaType = mediaType
    }

    var path: String { OCILayout.blobPath(digest) }
    var descriptor: OCILayout.Descriptor { .init(mediaType: mediaType, digest: digest, size: size) }
    var listed: Manifest.Blob { .init(digest: digest, size: size, mediaType: mediaType) }
    var data: Data {
        if case .data(let data) = source { return data }
        return Data()
    }
}

/// One image of a v2 fixture: a config whose `rootfs.diff_ids` are its layers (or
/// `diffIDs` when a test wants them wrong), and the canonical manifest naming both
/// (or `manifestConfig` instead of the config, when a test wants that wrong).
struct V2Image {
    var name: String
    var fullReference: String
    var tag: String
    var config: V2Blob
    var layers: [V2Blob]
    var manifest: V2Blob

    init(name: String, fullReference: String, tag: String, layers: [V2Blob], diffIDs: [String]? = nil,
         manifestConfig: V2Blob? = nil) throws {
        let ids = diffIDs ?? layers.map(\.digest)
        let quoted = ids.map { "\"\($0)\"" }.joined(separator: ",")
        let config = Data(#"{"architecture":"amd64","config":{"Cmd":["/bin/\#(tag)"]},"os":"linux","rootfs":{"type":"layers","diff_ids":[\#(quoted)]}}"#.utf8)
        self.name = name; self.fullReference = fullReference; self.tag = tag; self.layers = layers
        self.config = V2Blob(config, mediaType: OCILayout.configMediaType)
        manifest = V2Blob(try OCILayout.manifestData(config: (manifestConfig ?? self.config).descriptor,
                                                     layers: layers.map(\.descriptor)),
                          mediaType: OCILayout.manifestMediaType)
    }

    /// The image as MANIFEST.json's `images[]` records it.
    var listed: Manifest.Image {
        .init(name: name, digest: config.digest, manifestDigest: manifest.digest, layers: layers.map(\.digest))
    }
}

/// A format v2 bundle made in-process with BundleWriter (the code behind `build`):
/// a compose file, the OCI layout with two images that share a layer, and the knobs
/// the tamper tests turn before writing.
struct V2Fixture {
    var version = "1.0.0"
    var compose = Data("services:\n  app:\n    image: frostbyte-demo/app:1.0\n  worker:\n    image: frostbyte-demo/worker:1.0\n".utf8)
    var images: [V2Image]
    /// Blobs stored and listed in `blobs[]` though no image uses them.
    var extraBlobs: [V2Blob] = []
    /// Replaces the bytes stored under a blob path (files[] then describes the new bytes).
    var blobOverride: [String: Data] = [:]
    /// Extra bundle entries (not listed in blobs[]).
    var extraEntries: [BundleEntry] = []
    var index: Data?
    var base: Manifest.Base?
    /// Paths marked in_base (left out of the archive).
    var inBase: Set<String> = []
    var editManifest: (inout Manifest) -> Void = { _ in }
    var signingKey: SigningKey?

    /// The shared layer: any bytes; its SHA-256 is the diff ID the configs list.
    static let sharedLayer = V2Blob(Tamper.bytes(48_000, seed: 1), mediaType: OCILayout.layerMediaType)

    /// Two images, app (shared layer + its own) and worker (shared layer + its own).
    static func standard() throws -> V2Fixture {
        let appLayer = V2Blob(Tamper.bytes(30_000, seed: 2), mediaType: OCILayout.layerMediaType)
        let workerLayer = V2Blob(Tamper.bytes(20_000, seed: 3), mediaType: OCILayout.layerMediaType)
        return V2Fixture(images: [
            try V2Image(name: "frostbyte-demo/app:1.0", fullReference: "docker.io/frostbyte-demo/app:1.0", tag: "1.0",
                        layers: [sharedLayer, appLayer]),
            try V2Image(name: "frostbyte-demo/worker:1.0", fullReference: "docker.io/frostbyte-demo/worker:1.0", tag: "1.0",
                        layers: [sharedLayer, workerLayer]),
        ])
    }

    /// Every blob, in `blobs[]` order: per image its manifest, config, layers; first use only.
    var blobs: [V2Blob] {
        var seen = Set<String>()
        var result: [V2Blob] = []
        for blob in images.flatMap({ [$0.manifest, $0.config] + $0.layers }) + extraBlobs
        where seen.insert(blob.digest).inserted {
            result.append(blob)
        }
        return result
    }

    func indexData() throws -> Data {
        try index ?? OCILayout.indexData(images.map { ($0.fullReference, $0.manifest.descriptor) })
    }

    /// The draft manifest and hashed entries BundleWriter takes.
    func parts() throws -> (manifest: Manifest, entries: [BundleEntry]) {
        var entries = [
            BundleEntry(path: "docker-compose.yml", source: .data(compose)),
            BundleEntry(path: OCILayout.layoutPath, source: .data(OCILayout.layoutFile)),
            BundleEntry(path: OCILayout.indexPath, source: .data(try indexData())),
        ]
        for blob in blobs {
            entries.append(BundleEntry(path: blob.path, source: blobOverride[blob.path].map { .data($0) } ?? blob.source))
        }
        entries += extraEntries
        entries = try BundleWriter.hash(entries)
        for index in entries.indices where inBase.contains(entries[index].path) { entries[index].inBase = true }
        var manifest = Manifest(
            name: "demo", version: version, bundleId: "", createdAt: "2026-01-01T00:00:00Z",
            builder: .init(name: "frostbyte-bundle", version: "test"),
            compose: .init(file: "docker-compose.yml", sha256: SHA256Hasher.hash(compose), project: "demo",
                           networks: [.init(name: "demo-internal", subnet: "172.29.0.0/16", internal: true)]),
            images: images.map(\.listed), files: [], format: Manifest.formatV2,
            blobs: blobs.map(\.listed), base: base)
        editManifest(&manifest)
        return (manifest, entries)
    }

    @discardableResult
    func write(to path: String, compression: ArchiveCompression = .standard) throws -> BundleWriteResult {
        let (manifest, entries) = try parts()
        return try BundleWriter(compression: compression, mtime: 1_767_225_600, signingKey: signingKey)
            .write(manifest: manifest, entries: entries, to: path)
    }

    /// This release as the base of a delta: the manifest's `base` record.
    static func baseRecord(_ written: BundleWriteResult) -> Manifest.Base {
        .init(bundleId: written.manifest.bundleId, name: written.manifest.name, version: written.manifest.version,
              manifestSha256: SHA256Hasher.hash(written.manifestData))
    }

    /// Reads a plain tar's entries (test bundles are small), lets `transform` change
    /// them, and writes them to `output` (zstd unless told otherwise).
    static func rewrite(_ tar: String, to output: String, zstd: Bool = true,
                        transform: ([FixtureEntry]) throws -> [FixtureEntry]) throws {
        let reader = try ArchiveReader(path: tar)
        var entries: [FixtureEntry] = []
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 64)
        defer { buffer.deallocate() }
        while let header = try reader.nextEntry() {
            var data = Data()
            while true {
                let count = try reader.readData(into: buffer)
                if count == 0 { break }
                data.append(contentsOf: UnsafeRawBufferPointer(rebasing: buffer[0..<count]))
            }
            entries.append(FixtureEntry(path: header.pathBytes, kind: header.kind == .directory ? .directory : .file,
                                        mode: header.permissions, data: data))
        }
        try FixtureTarWriter.write(try transform(entries), to: output, zstd: zstd)
    }

    /// Writes this fixture as a plain tar, rewrites it through `transform`, and
    /// returns the rewritten bundle's path.
    func writeTampered(in folder: TemporaryFolder, transform: ([FixtureEntry]) throws -> [FixtureEntry]) throws -> String {
        let plain = folder.file("plain-\(UUID().uuidString).tar")
        try write(to: plain, compression: .none)
        defer { unlink(plain); unlink(plain + ".sha256") }
        let output = folder.file("demo-\(version).tar.zst")
        try Self.rewrite(plain, to: output, transform: transform)
        return output
    }
}
