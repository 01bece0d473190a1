import FrostbyteCrypto
import FrostbyteArchive
import FoundationEssentials
import Glibc

/// What `inspect` shows: the manifest's facts, read from the first entries only
/// (no hashing of the rest, so this is not a verification).
///
/// About the signer: a bundle carries only the 64-byte signature, not the public
/// key, so its signer cannot be named from the bundle alone. `signature.state` says
/// whether it is signed; with trusted keys given, `signature.matched_key` is the
/// fingerprint (SHA-256 of the DER SubjectPublicKeyInfo) of the key that verifies.
public struct BundleInspection: Codable, Sendable, Equatable {
    public struct ImageSummary: Codable, Sendable, Equatable {
        public var name: String
        /// v1: the archive file, its size and SHA-256. v2: the manifest blob and its SHA-256.
        public var file: String?
        /// v1: the archive's size. v2: the sum of the sizes of the image's blobs
        /// (manifest, config, layers), shared blobs counted in every image using them.
        public var size: Int64?
        public var digest: String
        public var sha256: SHA256Digest?
        public var manifestDigest: String?
        public var diffIDs: [String]?
        /// v2 only: the layer blobs and how many there are.
        public var layers: [String]?
        public var layerCount: Int?
        enum CodingKeys: String, CodingKey {
            case name, file, size, digest, sha256, layers
            case manifestDigest = "manifest_digest"
            case diffIDs = "diff_ids"
            case layerCount = "layer_count"
        }
    }

    /// Format v2: the blobs and what storing each once saves.
    public struct BlobSummary: Codable, Sendable, Equatable {
        /// Entries of `blobs[]` and the sum of their sizes (each blob once).
        public var count: Int
        public var bytes: Int64
        /// The sum over images of the sizes of their blobs (shared blobs counted per image).
        public var imageBytes: Int64
        /// `imageBytes - bytes`: what storing each blob once saves.
        public var dedupSaving: Int64
        /// Blobs a delta leaves to its base, and their bytes.
        public var inBase: Int
        public var inBaseBytes: Int64
        enum CodingKeys: String, CodingKey {
            case count, bytes
            case imageBytes = "image_bytes"
            case dedupSaving = "dedup_saving"
            case inBase = "in_base"
            case inBaseBytes = "in_base_bytes"
        }
    }

    /// A delta bundle's base and what the delta leaves to it.
    public struct BaseSummary: Codable, Sendable, Equatable {
        public var bundleId: String
        public var name: String
        public var version: String
        public var manifestSha256: SHA256Digest
        /// Entries of `files[]` marked `in_base`, and their bytes.
        public var filesInBase: Int
        public var bytesInBase: Int64
        enum CodingKeys: String, CodingKey {
            case name, version
            case bundleId = "bundle_id"
            case manifestSha256 = "manifest_sha256"
            case filesInBase = "files_in_base"
            case bytesInBase = "bytes_in_base"
        }
    }

    public struct ModelSummary: Codable, Sendable, Equatable {
        public var name: String
        public var path: String
        public var size: Int64
        public var sha256: SHA256Digest
    }

    public var source: String
    public var format: String
    public var kind: Manifest.Kind
    public var name: String
    public var version: String
    public var bundleId: String
    public var createdAt: String
    public var builder: Manifest.Builder
    public var signed: Bool
    public var signature: SignatureStatus
    public var project: String?
    public var networks: [Manifest.Network]
    public var images: [ImageSummary]
    public var models: [ModelSummary]
    /// For an export bundle (`kind: export`): the manifest's `source`, that is the
    /// release it was exported from (bundle_id, project, host) and, per data file,
    /// the service, command and exit status that produced it. Nil for a stack bundle
    /// (and then absent from the JSON). Named `export_source` in JSON because
    /// `source` is the path that was inspected.
    public var exportSource: Manifest.ExportSource?
    /// Regular files listed in the manifest, plus MANIFEST.json, its signature and SHA256SUMS.
    public var fileCount: Int
    /// Sum of the sizes of those files in bytes (uncompressed).
    public var totalSize: Int64
    /// Format v2 only: the blobs (absent from the JSON of v1 bundles).
    public var blobs: BlobSummary?
    /// Delta bundles only: the base (absent from the JSON otherwise).
    public var base: BaseSummary?
    /// For a split bundle (the source is its `.parts.json`): what the index says and its
    /// signature state; nil otherwise (and then absent from the JSON).
    public var parts: SplitPartsSummary? = nil

    enum CodingKeys: String, CodingKey {
        case source, format, kind, name, version, builder, signed, signature, project, networks, images, models
        case blobs, base, parts
        case bundleId = "bundle_id"
        case createdAt = "created_at"
        case exportSource = "export_source"
        case fileCount = "file_count"
        case totalSize = "total_size"
    }
}

extension BundleVerifier {
    /// Reads MANIFEST.json (and its signature and SHA256SUMS, when they follow it) from
    /// the start of the bundle at `path` (archive, folder, or a split bundle's
    /// `.parts.json`, whose parts must all be present with their sizes), without a full pass.
    /// - Throws: `BundleInputError`, `ArchiveReadError`, `SplitPartFailure`, `ManifestError` (exit 2
    ///   or 1 as their classes say).
    public static func inspect(path: String, trust: [TrustedKey] = []) throws -> BundleInspection {
        var info = stat()
        guard stat(path, &info) == 0 else { throw BundleInputError.notFound(path: path) }
        let meta: [String: Data]
        if info.st_mode & S_IFMT == S_IFDIR {
            meta = try BundleHead.folderFiles(path)
        } else {
            guard info.st_size > 0 else { throw BundleInputError.emptyFile(path: path) }
            do {
                meta = try BundleHead.archiveFiles(path)
            } catch let error as ArchiveReadError {
                switch error {
                case .unrecognizedFormat, .unsupportedFormat:
                    throw BundleInputError.notABundle(path: path, reason: error.message)
                default: throw error
                }
            }
        }
        guard let manifestData = meta["MANIFEST.json"] else {
            throw BundleInputError.notABundle(path: path, reason: "it does not start with MANIFEST.json")
        }
        let manifest = try ManifestCoding.decodeManifest(manifestData)
        let signature = meta["MANIFEST.json.sig"]
        var status = SignatureStatus(state: signature == nil ? .unsigned : .signedUnchecked,
                                     trustedKeys: trust.map(\.fingerprint.hex))
        if let signature, !trust.isEmpty {
            if let key = trust.first(where: { $0.key.isValidSignature(signature, for: manifestData) }) {
                status.state = .trusted
                status.matchedKey = key.fingerprint.hex
            } else {
                status.state = .untrusted
            }
        }
        let regular = manifest.files.filter { !$0.isDirectory }
        let metaSize = meta.values.reduce(Int64(0)) { $0 + Int64($1.count) }
        var blobSizes: [String: Int64] = [:]
        for blob in manifest.blobs ?? [] { blobSizes[blob.digest] = blob.size }
        /// v2: the sizes of an image's distinct blobs.
        func blobBytes(_ image: Manifest.Image) -> Int64? {
            guard manifest.isV2 else { return image.size }
            let digests = Set([image.manifestDigest, image.digest].compactMap { $0 } + (image.layers ?? []))
            return digests.reduce(Int64(0)) { $0 + (blobSizes[$1] ?? 0) }
        }
        let inBase = manifest.files.filter { !$0.isCarried }
        var inspection = BundleInspection(
            source: path, format: manifest.format, kind: manifest.kind, name: manifest.name,
            version: manifest.version, bundleId: manifest.bundleId, createdAt: manifest.createdAt,
            builder: manifest.builder, signed: signature != nil, signature: status,
            project: manifest.compose?.project, networks: manifest.compose?.networks ?? [],
            images: manifest.images.map {
                .init(name: $0.name, file: $0.file, size: blobBytes($0), digest: $0.digest, sha256: $0.sha256,
                      manifestDigest: $0.manifestDigest, diffIDs: $0.diffIDs, layers: $0.layers,
                      layerCount: $0.layers?.count)
            },
            models: manifest.models.map { .init(name: $0.name, path: $0.path, size: $0.size, sha256: $0.sha256) },
            exportSource: manifest.source,
            fileCount: regular.count + meta.count,
            totalSize: regular.reduce(metaSize) { $0 + $1.size })
        if manifest.isV2, let blobs = manifest.blobs {
            let bytes = blobs.reduce(Int64(0)) { $0 + $1.size }
            let imageBytes = manifest.images.reduce(Int64(0)) { $0 + (blobBytes($1) ?? 0) }
            let leftOut = Set(inBase.map(\.path))
            let blobsInBase = blobs.filter { leftOut.contains($0.path) }
            inspection.blobs = BundleInspection.BlobSummary(count: blobs.count, bytes: bytes, imageBytes: imageBytes,
                                           dedupSaving: imageBytes - bytes, inBase: blobsInBase.count,
                                           inBaseBytes: blobsInBase.reduce(Int64(0)) { $0 + $1.size })
        }
        if let base = manifest.base {
            inspection.base = BundleInspection.BaseSummary(bundleId: base.bundleId, name: base.name, version: base.version,
                                          manifestSha256: base.manifestSha256, filesInBase: inBase.count,
                                          bytesInBase: inBase.reduce(Int64(0)) { $0 + $1.size })
        }
        if SplitPartsIndex.isIndexPath(path) {
            inspection.parts = try SplitPartsSet(indexPath: path).preflight(trust: trust).summary
        }
        return inspection
    }
}
