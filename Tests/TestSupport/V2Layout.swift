import BundleFormat
import Foundation
import FrostbyteCrypto

/// One blob of a hand-built v2 layout: its bytes (in memory, or a file for big
/// layers), digest (`sha256:<hex>`), size and media type.
public struct V2Blob: Sendable {
    public var source: BundleEntry.Source
    public var digest: String
    public var size: Int64
    public var mediaType: String

    /// A blob of `data`, hashed here.
    public init(_ data: Data, mediaType: String) {
        source = .data(data)
        digest = SHA256Hasher.hash(data).prefixed
        size = Int64(data.count)
        self.mediaType = mediaType
    }

    /// A blob stored in a file, hashed here.
    public init(file path: String, mediaType: String) throws {
        source = .file(path)
        let hashed = try SHA256Hasher.hash(fileAt: path)
        digest = hashed.digest.prefixed
        size = hashed.size
        self.mediaType = mediaType
    }

    /// Its path inside a bundle (`images/blobs/sha256/<hex>`).
    public var path: String { OCILayout.blobPath(digest) }
    public var descriptor: OCILayout.Descriptor { .init(mediaType: mediaType, digest: digest, size: size) }
    /// The blob as MANIFEST.json's `blobs[]` lists it.
    public var listed: Manifest.Blob { .init(digest: digest, size: size, mediaType: mediaType) }
    /// The bytes of an in-memory blob (empty for a file blob).
    public var data: Data {
        if case .data(let data) = source { return data }
        return Data()
    }
}

/// One image of a v2 layout: a config, its layers and the canonical image manifest
/// (`OCILayout.manifestData`) naming both.
public struct V2Image: Sendable {
    public var name: String
    public var fullReference: String
    public var tag: String
    public var config: V2Blob
    public var layers: [V2Blob]
    public var manifest: V2Blob

    /// An image with a made-up config whose `rootfs.diff_ids` are its layers' digests
    /// (or `diffIDs`, when a test wants them wrong); its manifest names the config (or
    /// `manifestConfig`, when a test wants that wrong).
    public init(name: String, fullReference: String, tag: String, layers: [V2Blob], diffIDs: [String]? = nil,
                manifestConfig: V2Blob? = nil) throws {
        let quoted = (diffIDs ?? layers.map(\.digest)).map { "\"\($0)\"" }.joined(separator: ",")
        let config = Data(#"{"architecture":"amd64","config":{"Cmd":["/bin/\#(tag)"]},"os":"linux","rootfs":{"type":"layers","diff_ids":[\#(quoted)]}}"#.utf8)
        try self.init(name: name, fullReference: fullReference, tag: tag,
                      config: V2Blob(config, mediaType: OCILayout.configMediaType), layers: layers,
                      manifestConfig: manifestConfig)
    }

    /// An image with a given config blob (for instance a real image's, from `docker save`).
    public init(name: String, fullReference: String, tag: String, config: V2Blob, layers: [V2Blob],
                manifestConfig: V2Blob? = nil) throws {
        self.name = name; self.fullReference = fullReference; self.tag = tag
        self.config = config; self.layers = layers
        manifest = V2Blob(try OCILayout.manifestData(config: (manifestConfig ?? config).descriptor,
                                                     layers: layers.map(\.descriptor)),
                          mediaType: OCILayout.manifestMediaType)
    }

    /// The image as MANIFEST.json's `images[]` records it.
    public var listed: Manifest.Image {
        .init(name: name, digest: config.digest, manifestDigest: manifest.digest, layers: layers.map(\.digest))
    }
}

/// The `images/` part of a format v2 bundle built by hand: `oci-layout`,
/// `index.json` naming every image, and each blob once (first use wins), in the order
/// MANIFEST.json's `blobs[]` lists them: per image its manifest, config, layers, then
/// `extraBlobs`.
public struct V2Layout: Sendable {
    public var images: [V2Image]
    /// Blobs stored and listed though no image uses them.
    public var extraBlobs: [V2Blob] = []
    /// `index.json` bytes instead of the ones made from `images`.
    public var index: Data?

    public init(images: [V2Image], extraBlobs: [V2Blob] = [], index: Data? = nil) {
        self.images = images; self.extraBlobs = extraBlobs; self.index = index
    }

    /// Every blob, in `blobs[]` order, each once.
    public var blobs: [V2Blob] {
        var seen = Set<String>()
        return (images.flatMap { [$0.manifest, $0.config] + $0.layers } + extraBlobs).filter { seen.insert($0.digest).inserted }
    }

    /// `index.json`: `index`, else one entry per image.
    public func indexData() throws -> Data {
        try index ?? OCILayout.indexData(images.map { ($0.fullReference, $0.manifest.descriptor) })
    }

    /// The bundle entries of the layout: `oci-layout`, `index.json`, then every blob
    /// (with its known digest and size, so `BundleWriter.hash` does not read it again),
    /// its bytes replaced by `override[path]` where a test wants them wrong (left for
    /// `BundleWriter.hash`, so files[] describes the bytes carried).
    public func entries(override: [String: Data] = [:]) throws -> [BundleEntry] {
        [BundleEntry(path: OCILayout.layoutPath, source: .data(OCILayout.layoutFile)),
         BundleEntry(path: OCILayout.indexPath, source: .data(try indexData()))]
            + blobs.map { blob in
                if let bytes = override[blob.path] { return BundleEntry(path: blob.path, source: .data(bytes)) }
                return BundleEntry(path: blob.path, source: blob.source, digest: SHA256Digest(prefixed: blob.digest),
                                   size: blob.size)
            }
    }

    /// Writes every blob to `<folder>/<blob.path>` (an extracted release's layout),
    /// creating the blob folder.
    public func writeBlobs(into folder: String) throws {
        try FileManager.default.createDirectory(atPath: "\(folder)/\(OCILayout.blobFolder)", withIntermediateDirectories: true)
        for blob in blobs {
            let target = "\(folder)/\(blob.path)"
            switch blob.source {
            case .data(let data): try data.write(to: URL(fileURLWithPath: target))
            case .file(let path): try FileManager.default.copyItem(atPath: path, toPath: target)
            case .directory: throw TestFailure("blob \(blob.digest) is a folder")
            case .zstdFile(let path): try TestCommand.check(["zstd", "-q", "-d", path, "-o", target])
            }
        }
    }

    /// The blobs as MANIFEST.json's `files[]` lists them (0644 regular files).
    public var files: [Manifest.File] {
        blobs.map { Manifest.File(path: $0.path, sha256: SHA256Digest(prefixed: $0.digest), size: $0.size, mode: "0644") }
    }
}
