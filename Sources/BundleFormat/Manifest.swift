import FrostbyteCore
import FrostbyteCrypto
import FoundationEssentials
import Glibc

/// MANIFEST.json of bundle formats v1 and v2 (docs/FORMAT.md). Encoded with sorted keys and
/// 2-space indentation by `ManifestCoding`, so the same manifest gives the same bytes.
/// Paths are relative to the bundle's root folder (`<name>-<version>/`).
public struct Manifest: Codable, Sendable, Equatable {
    /// Format v1: one `docker save` archive per image under `images/`.
    public static let formatV1 = "frostbyte-bundle/1"
    /// Format v2: `images/` is one OCI image layout; each blob is stored once.
    public static let formatV2 = "frostbyte-bundle/2"
    /// Every format this version reads.
    public static let readableFormats = [formatV1, formatV2]

    /// True for format v2 (OCI layout, blobs).
    public var isV2: Bool { format == Manifest.formatV2 }

    /// The largest size a manifest may give a file, image, model or blob (16 TiB).
    /// A MANIFEST.json is at most `BundleHead.manifestLimit` (16 MiB), so it names
    /// fewer than 2^18 sizes, and any sum of them, even one counting a shared blob
    /// once per image, stays below 2^62: no total a reader computes can overflow.
    public static let maximumSize: Int64 = 1 << 44

    /// Throws for the first size outside 0...`maximumSize` (decoding calls it).
    func checkSizes() throws {
        func check(_ value: Int64?, _ field: @autoclosure () -> String) throws {
            guard let value, value < 0 || value > Self.maximumSize else { return }
            throw ManifestError.sizeOutOfRange(field: field(), value: value)
        }
        for (index, file) in files.enumerated() { try check(file.size, "files[\(index)].size") }
        for (index, image) in images.enumerated() { try check(image.size, "images[\(index)].size") }
        for (index, model) in models.enumerated() { try check(model.size, "models[\(index)].size") }
        for (index, blob) in (blobs ?? []).enumerated() { try check(blob.size, "blobs[\(index)].size") }
    }

    /// What a bundle carries: a deployable stack, or data exported from one.
    public enum Kind: String, Codable, Sendable { case stack, export }

    public var format: String
    public var kind: Kind
    public var name: String
    public var version: String
    /// `<name>-<version>-<first 12 hex of sha256(SHA256SUMS)>`.
    public var bundleId: String
    /// ISO 8601 UTC, from SOURCE_DATE_EPOCH or the spec's date.
    public var createdAt: String
    public var builder: Builder
    public var compose: Compose?
    public var gateway: Gateway?
    public var images: [Image]
    public var models: [Model]
    /// Paths of the operator scripts (`scripts/*.sh`).
    public var scripts: [String]
    public var migrations: Migrations?
    public var exports: [ExportStep]?
    /// For `kind: export`: where the data came from and what produced each file.
    public var source: ExportSource?
    /// Every entry of the bundle except MANIFEST.json, MANIFEST.json.sig and SHA256SUMS.
    /// In a delta bundle it lists the whole release; entries the base already has are
    /// marked `in_base` and are not in the archive.
    public var files: [File]
    /// Format v2: every blob the images use (layers, configs, image manifests), in
    /// archive order, each once.
    public var blobs: [Blob]?
    /// Format v2 delta bundles: the release whose files and blobs this one leaves out.
    public var base: Base?
    /// Format v2, signed bundles (optional): the build provenance, `provenance/build.intoto.json`,
    /// a file of `files[]` (docs/FORMAT.md, "Provenance"). Absent in bundles built before it existed.
    public var provenance: String?
    /// Format v2 (optional): the bundle SBOM, `sbom/bundle.cdx.json`, a file of `files[]`
    /// (docs/FORMAT.md, "SBOMs"). Absent in bundles built before it existed.
    public var sbom: String?

    public init(
        kind: Kind = .stack, name: String, version: String, bundleId: String, createdAt: String,
        builder: Builder, compose: Compose? = nil, gateway: Gateway? = nil,
        images: [Image] = [], models: [Model] = [], scripts: [String] = [],
        migrations: Migrations? = nil, exports: [ExportStep]? = nil,
        source: ExportSource? = nil, files: [File], format: String = Manifest.formatV1,
        blobs: [Blob]? = nil, base: Base? = nil
    ) {
        self.format = format
        self.blobs = blobs
        self.base = base
        self.kind = kind
        self.name = name
        self.version = version
        self.bundleId = bundleId
        self.createdAt = createdAt
        self.builder = builder
        self.compose = compose
        self.gateway = gateway
        self.images = images
        self.models = models
        self.scripts = scripts
        self.migrations = migrations
        self.exports = exports
        self.source = source
        self.files = files
    }

    enum CodingKeys: String, CodingKey {
        case format, kind, name, version, builder, compose, gateway, images, models, scripts
        case migrations, exports, source, files, blobs, base, provenance, sbom
        case bundleId = "bundle_id"
        case createdAt = "created_at"
    }

    /// The tool that wrote the bundle.
    public struct Builder: Codable, Sendable, Equatable {
        public var name: String
        public var version: String
        public init(name: String, version: String) { self.name = name; self.version = version }
    }

    /// The hardened compose file and the networks it declares.
    public struct Compose: Codable, Sendable, Equatable {
        public var file: String
        public var sha256: SHA256Digest
        public var project: String
        public var networks: [Network]
        public init(file: String, sha256: SHA256Digest, project: String, networks: [Network]) {
            self.file = file; self.sha256 = sha256; self.project = project; self.networks = networks
        }
    }

    /// One compose network as the bundle requires it on the host.
    public struct Network: Codable, Sendable, Equatable {
        public var name: String
        public var subnet: String
        public var `internal`: Bool
        public init(name: String, subnet: String, internal: Bool) {
            self.name = name; self.subnet = subnet; self.internal = `internal`
        }
    }

    /// The service the host talks to, at a fixed address on the internal network.
    public struct Gateway: Codable, Sendable, Equatable {
        public var service: String
        public var ipv4Address: String
        public var port: Int
        public var healthPath: String
        public init(service: String, ipv4Address: String, port: Int, healthPath: String) {
            self.service = service; self.ipv4Address = ipv4Address; self.port = port
            self.healthPath = healthPath
        }
        enum CodingKeys: String, CodingKey {
            case service, port
            case ipv4Address = "ipv4_address"
            case healthPath = "health_path"
        }
    }

    /// One image. v1: a `docker save` archive (`file`, `sha256`, `size`). v2: an image
    /// of the OCI layout under `images/` (`manifest_digest`, `layers`, and `file`/`sha256`
    /// naming its image manifest blob; bundles built before those two lack them).
    /// `digest` is the config digest in both: the image ID graphdriver engines report.
    public struct Image: Codable, Sendable, Equatable {
        public var name: String
        /// v1: `images/<safe-ref>.tar`, its SHA-256 and size. v2: the image manifest
        /// blob (`images/blobs/sha256/<hex>`) and its SHA-256 (`<hex>`), no size; optional.
        public var file: String?
        public var sha256: SHA256Digest?
        public var size: Int64?
        /// The config digest: the image ID graphdriver engines report.
        public var digest: String
        /// v1 (optional): the manifest (or index) digest the save's index.json names.
        /// v2 (required): the digest of the image manifest blob in `images/`. The
        /// containerd image store reports it as the image ID.
        public var manifestDigest: String?
        /// v1 (optional): the layers' diff IDs from the image config.
        public var diffIDs: [String]?
        /// v2: the layer blobs in order. Layers are stored uncompressed, so these are
        /// also the config's diff IDs.
        public var layers: [String]?
        /// v2 (optional): the image's CycloneDX SBOM, `sbom/<safe-ref>.cdx.json`, a file of `files[]`.
        public var sbom: String?
        /// v2 (optional): the digest of the OCI 1.1 artifact manifest (a blob of `blobs[]`,
        /// named in `images/index.json`) that attaches `sbom` to this image's manifest as
        /// its `subject` (docs/FORMAT.md, "SBOM referrers").
        public var sbomReferrer: String?
        public init(name: String, file: String, sha256: SHA256Digest, digest: String, size: Int64,
                    manifestDigest: String? = nil, diffIDs: [String]? = nil) {
            self.name = name; self.file = file; self.sha256 = sha256; self.digest = digest; self.size = size
            self.manifestDigest = manifestDigest; self.diffIDs = diffIDs
        }
        /// A v2 image; `file` and `sha256` name its manifest blob.
        public init(name: String, digest: String, manifestDigest: String, layers: [String]) {
            self.name = name; self.digest = digest; self.manifestDigest = manifestDigest; self.layers = layers
            self.file = OCILayout.blobPath(manifestDigest)
            self.sha256 = SHA256Digest(prefixed: manifestDigest)
        }
        /// The v1 `docker save` archive; nil for a v2 image (whose `file` is its manifest blob).
        public var archiveFile: String? { layers == nil ? file : nil }
        /// The layers' diff IDs, whichever format recorded them.
        public var layerDiffIDs: [String]? { layers ?? diffIDs }
        enum CodingKeys: String, CodingKey {
            case name, file, sha256, digest, size, layers, sbom
            case manifestDigest = "manifest_digest"
            case diffIDs = "diff_ids"
            case sbomReferrer = "sbom_referrer"
        }
    }

    /// One blob of the v2 OCI layout, stored at `images/blobs/sha256/<hex>`.
    public struct Blob: Codable, Sendable, Equatable {
        /// `sha256:<hex>` of the blob's bytes.
        public var digest: String
        public var size: Int64
        /// OCI media type: image manifest, image config or (uncompressed) layer.
        public var mediaType: String
        public init(digest: String, size: Int64, mediaType: String) {
            self.digest = digest; self.size = size; self.mediaType = mediaType
        }
        /// The blob's path relative to the bundle's root folder.
        public var path: String { OCILayout.blobPath(digest) }
        enum CodingKeys: String, CodingKey {
            case digest, size
            case mediaType = "media_type"
        }
    }

    /// The release a delta bundle builds on, under the signature.
    public struct Base: Codable, Sendable, Equatable {
        public var bundleId: String
        public var name: String
        public var version: String
        /// SHA-256 of the base's exact MANIFEST.json bytes.
        public var manifestSha256: SHA256Digest
        public init(bundleId: String, name: String, version: String, manifestSha256: SHA256Digest) {
            self.bundleId = bundleId; self.name = name; self.version = version; self.manifestSha256 = manifestSha256
        }
        enum CodingKeys: String, CodingKey {
            case name, version
            case bundleId = "bundle_id"
            case manifestSha256 = "manifest_sha256"
        }
    }

    /// One model file under `models/`.
    public struct Model: Codable, Sendable, Equatable {
        public var name: String
        public var path: String
        public var sha256: SHA256Digest
        public var size: Int64
        public init(name: String, path: String, sha256: SHA256Digest, size: Int64) {
            self.name = name; self.path = path; self.sha256 = sha256; self.size = size
        }
    }

    /// How the host applies `migrations/*.sql` (PostgreSQL through `psql`).
    public struct Migrations: Codable, Sendable, Equatable {
        public var service: String
        public var database: String
        public var user: String
        /// Paths of the SQL files, in the order they are applied.
        public var files: [String]
        public init(service: String, database: String, user: String, files: [String]) {
            self.service = service; self.database = database; self.user = user; self.files = files
        }
    }

    /// One export step: a command run in a service whose stdout becomes a file.
    public struct ExportStep: Codable, Sendable, Equatable {
        public var name: String
        public var service: String
        public var command: [String]
        public init(name: String, service: String, command: [String]) {
            self.name = name; self.service = service; self.command = command
        }
    }

    /// Provenance of an export bundle.
    public struct ExportSource: Codable, Sendable, Equatable {
        public var bundleId: String
        public var project: String
        public var host: String
        public var steps: [ExportResult]
        public init(bundleId: String, project: String, host: String, steps: [ExportResult]) {
            self.bundleId = bundleId; self.project = project; self.host = host; self.steps = steps
        }
        enum CodingKeys: String, CodingKey {
            case project, host, steps
            case bundleId = "bundle_id"
        }
    }

    /// What one export step produced.
    public struct ExportResult: Codable, Sendable, Equatable {
        public var path: String
        public var service: String
        public var command: [String]
        public var exitStatus: Int32
        public init(path: String, service: String, command: [String], exitStatus: Int32) {
            self.path = path; self.service = service; self.command = command; self.exitStatus = exitStatus
        }
        enum CodingKeys: String, CodingKey {
            case path, service, command
            case exitStatus = "exit_status"
        }
    }

    /// One bundle entry: a regular file (with digest) or a directory (`sha256` nil, size 0).
    public struct File: Codable, Sendable, Equatable {
        public var path: String
        public var sha256: SHA256Digest?
        public var size: Int64
        /// Octal permission bits, "0644" or "0755".
        public var mode: String
        /// Delta bundles: true when the entry is left out because the base has it.
        public var inBase: Bool?
        public init(path: String, sha256: SHA256Digest?, size: Int64, mode: String, inBase: Bool? = nil) {
            self.path = path; self.sha256 = sha256; self.size = size; self.mode = mode; self.inBase = inBase
        }
        /// True for a directory entry.
        public var isDirectory: Bool { sha256 == nil }
        /// True when the archive carries the entry (always, except in delta bundles).
        public var isCarried: Bool { inBase != true }
        enum CodingKeys: String, CodingKey {
            case path, sha256, size, mode
            case inBase = "in_base"
        }
    }
}

/// Errors decoding MANIFEST.json.
public enum ManifestError: UserFacingError, Equatable {
    case notJSON(detail: String)
    case missingField(String)
    case unknownFormat(String)
    /// A size outside 0...`Manifest.maximumSize` (`field` as `files[3].size`).
    case sizeOutOfRange(field: String, value: Int64)

    public var message: String {
        switch self {
        case .sizeOutOfRange(let field, let value):
            return "MANIFEST.json gives \(field) as \(value) bytes; a size must be 0 to \(Manifest.maximumSize) (16 TiB)"
        case .notJSON(let detail): return "MANIFEST.json is not a valid manifest: \(detail)"
        case .missingField(let field): return "MANIFEST.json lacks the required field '\(field)'"
        case .unknownFormat(let format):
            return "MANIFEST.json has format '\(format)'; this tool reads "
                + Manifest.readableFormats.map { "'\($0)'" }.joined(separator: " and ") + " only, use a newer frostbyte-bundle"
        }
    }

    public var exitStatus: ExitStatus { .checkFailed }
}

/// Reading MANIFEST.json. Writing it (and every other document the tool writes for
/// others to hash) goes through `DeterministicJSON`: same value, same bytes.
public enum ManifestCoding {
    /// Decodes MANIFEST.json, naming a missing field or an unknown format precisely.
    public static func decodeManifest(_ data: Data) throws -> Manifest {
        /// Only the "format" field, when it is a string; anything else decodes to nil.
        struct FormatProbe: Decodable { let format: String? }
        if let format = (try? JSONDecoder().decode(FormatProbe.self, from: data))?.format,
           !Manifest.readableFormats.contains(format) {
            throw ManifestError.unknownFormat(format)
        }
        let manifest: Manifest
        do {
            manifest = try JSONDecoder().decode(Manifest.self, from: data)
        } catch DecodingError.keyNotFound(let key, let context) {
            let path = (context.codingPath + [key]).map(\.stringValue).joined(separator: ".")
            throw ManifestError.missingField(path)
        } catch let error as DecodingError {
            throw ManifestError.notJSON(detail: Self.describe(error))
        } catch {
            throw ManifestError.notJSON(detail: "\(error)")
        }
        try manifest.checkSizes()
        return manifest
    }

    private static func describe(_ error: DecodingError) -> String {
        switch error {
        case .typeMismatch(_, let context), .valueNotFound(_, let context), .dataCorrupted(let context):
            let path = context.codingPath.map(\.stringValue).joined(separator: ".")
            return path.isEmpty ? context.debugDescription : "\(path): \(context.debugDescription)"
        case .keyNotFound(let key, _):
            return "missing \(key.stringValue)"
        @unknown default:
            return "\(error)"
        }
    }
}

/// `SHA256SUMS` in coreutils format: `<hex>  <path>\n` per regular file, sorted by path.
public enum SHA256Sums {
    /// Renders the SHA256SUMS text for the regular files of `files`.
    public static func render(_ files: [Manifest.File]) -> Data {
        var text = ""
        for file in files.sorted(by: { $0.path.utf8.lexicographicallyPrecedes($1.path.utf8) }) {
            guard let digest = file.sha256 else { continue }
            text += "\(digest.hex)  \(file.path)\n"
        }
        return Data(text.utf8)
    }

    /// `<name>-<version>-<first 12 hex of sha256(SHA256SUMS)>`; checkable with
    /// `sha256sum SHA256SUMS | cut -c1-12`.
    public static func bundleId(name: String, version: String, sums: Data) -> String {
        "\(name)-\(version)-\(SHA256Hasher.hash(sums).hex.prefix(12))"
    }

    /// Parses SHA256SUMS into path → digest; nil when any line is malformed.
    public static func parse(_ data: Data) -> [String: SHA256Digest]? {
        guard let text = String(data: data, encoding: .utf8) else { return nil }
        var result: [String: SHA256Digest] = [:]
        for line in text.split(separator: "\n", omittingEmptySubsequences: true) {
            let parts = line.split(separator: " ", maxSplits: 2, omittingEmptySubsequences: false)
            guard parts.count == 3, parts[1].isEmpty, let digest = SHA256Digest(hex: String(parts[0])),
                  result[String(parts[2])] == nil else { return nil }
            result[String(parts[2])] = digest
        }
        return result
    }
}
