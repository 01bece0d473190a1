import FrostbyteCrypto
import FoundationEssentials
import Glibc

/// One thing wrong with a bundle: which check, which path, what was expected,
/// what was found. Each problem is reported on its own.
public struct VerificationProblem: Error, Codable, Sendable, Equatable, CustomStringConvertible {
    /// The check that failed. The raw values are the `check` strings of the JSON
    /// report (docs/FORMAT.md, "verify-bundle report").
    public enum Check: String, Codable, Sendable, CaseIterable {
        case archive                 // truncated, corrupt zstd, damaged tar
        case sidecar                 // <bundle>.sha256 does not match
        case manifestMissing = "manifest-missing"
        case manifestNotFirst = "manifest-not-first"
        case manifestInvalid = "manifest-invalid"
        case manifestFormat = "manifest-format"
        case manifestField = "manifest-field"
        case manifestReference = "manifest-reference"   // images/models/compose point at unlisted files
        case entryOrder = "entry-order"
        case signature
        case unsigned
        case missingFile = "missing-file"
        case unlistedFile = "unlisted-file"
        case size
        case sha256
        case entryKind = "entry-kind"                   // directory listed as file or the reverse
        case mode
        case specialModeBits = "special-mode-bits"      // setuid, setgid, sticky
        case symlink
        case hardLink = "hard-link"
        case device
        case fifo
        case unsupportedEntry = "unsupported-entry"     // sockets, unknown types
        case absolutePath = "absolute-path"
        case parentTraversal = "parent-traversal"
        case unsafePath = "unsafe-path"                 // empty or "." components, control characters
        case nonUTF8Path = "non-utf8-path"
        case outsideRoot = "outside-root"
        case rootFolder = "root-folder"
        case duplicate
        case caseCollision = "case-collision"
        case sumsMissing = "sha256sums-missing"
        case sumsMalformed = "sha256sums-malformed"
        case sumsMismatch = "sha256sums-mismatch"
        case bundleId = "bundle-id"
        case imageArchive = "image-archive"
        case imageDigest = "image-digest"
        case tooLarge = "too-large"
        // Format v2 (OCI layout under images/) and delta bundles.
        case blobDigest = "blob-digest"                 // a blob's name, content and files[] digest differ
        case blobUnreferenced = "blob-unreferenced"     // a blob file not in blobs[], or a blobs[] entry no image uses
        case imageManifest = "image-manifest"           // an image manifest blob disagreeing with images[]
        case imageConfig = "image-config"               // a config's rootfs.diff_ids disagreeing with images[].layers
        case ociIndex = "oci-index"                     // images/index.json or images/oci-layout wrong
        case base                                       // delta: in_base entries and the base they need
        // Split media (build --split).
        case part                                       // a part of a split bundle: missing, other size, other bytes, extra
        case partsIndex = "parts-index"                 // the parts index disagrees with the bundle its parts make up
        case provenance                                 // provenance/build.intoto.json: envelope, signature, statement, subject
        case sbomRederived = "sbom-rederived"           // --rederive-sbom: a shipped SBOM differs from its layers'
        case sbomReferrer = "sbom-referrer"             // an image's OCI 1.1 SBOM referrer: not its SBOM, or another subject
        case partsSignature = "parts-signature"         // <index>.sig absent or not by a --trust key
    }

    public var check: Check
    /// The bundle path concerned (relative to the root folder when it is inside it).
    public var path: String?
    public var expected: String?
    public var actual: String?
    /// For `part` problems: the part's number (1-based) in a split bundle's index.
    public var part: Int?
    /// One sentence for humans.
    public var message: String

    public init(_ check: Check, path: String? = nil, expected: String? = nil, actual: String? = nil,
                part: Int? = nil, _ message: String) {
        self.check = check; self.path = path; self.expected = expected; self.actual = actual
        self.part = part; self.message = message
    }

    public var description: String {
        var text = "[\(check.rawValue)] "
        if let path { text += "\(path): " }
        text += message
        if let expected, let actual { text += " (expected \(expected), found \(actual))" }
        return text
    }
}

/// The signature state of a verified bundle.
public struct SignatureStatus: Codable, Sendable, Equatable {
    public enum State: String, Codable, Sendable {
        /// No MANIFEST.json.sig in the bundle.
        case unsigned
        /// Signed, but no `--trust` key was given, so the signature was not checked.
        case signedUnchecked = "signed-unchecked"
        /// The signature verifies against the trusted key in `matchedKey`.
        case trusted
        /// Signed, but by none of the trusted keys (or the signature is not 64 bytes).
        case untrusted
    }
    public var state: State
    /// Fingerprint (SHA-256 of the DER SubjectPublicKeyInfo) of the key that verified.
    public var matchedKey: String?
    /// Fingerprints of the `--trust` keys that were tried.
    public var trustedKeys: [String]

    public init(state: State, matchedKey: String? = nil, trustedKeys: [String] = []) {
        self.state = state; self.matchedKey = matchedKey; self.trustedKeys = trustedKeys
    }

    enum CodingKeys: String, CodingKey {
        case state
        case matchedKey = "matched_key"
        case trustedKeys = "trusted_keys"
    }
}

/// What the `docker save` archive of one image turned out to hold.
public struct ImageCheck: Codable, Sendable, Equatable {
    public var file: String
    public var name: String
    /// The image ID from the manifest (`sha256:<hex>`).
    public var expectedDigest: String
    /// `sha256:` + SHA-256 of the config JSON found inside the archive.
    public var actualDigest: String?
    /// `docker-legacy` (manifest.json + <id>.json) or `oci` (index.json + blobs/sha256).
    public var layout: String?
    public var layers: Int
    /// Format v2: the image manifest blob (`images[].manifest_digest`); `file` is then
    /// that blob's path and `actualDigest` the config its manifest names.
    public var manifestDigest: String?

    enum CodingKeys: String, CodingKey {
        case file, name, layout, layers
        case expectedDigest = "expected_digest"
        case actualDigest = "actual_digest"
        case manifestDigest = "manifest_digest"
    }
}

/// Format v2: what the bundle's blobs amounted to.
public struct BlobTally: Codable, Sendable, Equatable {
    /// Entries of `blobs[]`.
    public var listed: Int
    /// Blob files the bundle carried and that were hashed.
    public var carried: Int
    /// Blobs a delta leaves to its base (`in_base`).
    public var inBase: Int

    public init(listed: Int, carried: Int, inBase: Int) {
        self.listed = listed; self.carried = carried; self.inBase = inBase
    }

    enum CodingKeys: String, CodingKey {
        case listed, carried
        case inBase = "in_base"
    }
}

/// A delta bundle's base (the manifest's `base`) and whether it was checked.
public struct BaseCheck: Codable, Sendable, Equatable {
    public enum State: String, Codable, Sendable {
        /// No `--base` was given: the in_base entries were not compared with anything.
        case unchecked
        /// The given base's MANIFEST.json hashes to `manifest_sha256` and lists every
        /// in_base entry with the same SHA-256 and size.
        case ok
        /// The given base is not the one the delta needs (see the `base` problems).
        case mismatch
    }
    public var bundleId: String
    public var name: String
    public var version: String
    public var manifestSha256: String
    /// Entries of `files[]` marked `in_base` (not in this bundle), and their bytes.
    public var inBaseFiles: Int
    public var inBaseBytes: Int64
    public var state: State
    /// The `--base` path the in_base entries were compared with, if any.
    public var checkedAgainst: String?

    public init(base: Manifest.Base, inBaseFiles: Int, inBaseBytes: Int64, state: State, checkedAgainst: String?) {
        bundleId = base.bundleId; name = base.name; version = base.version; manifestSha256 = base.manifestSha256.hex
        self.inBaseFiles = inBaseFiles; self.inBaseBytes = inBaseBytes; self.state = state
        self.checkedAgainst = checkedAgainst
    }

    enum CodingKeys: String, CodingKey {
        case name, version, state
        case bundleId = "bundle_id"
        case manifestSha256 = "manifest_sha256"
        case inBaseFiles = "in_base_files"
        case inBaseBytes = "in_base_bytes"
        case checkedAgainst = "checked_against"
    }
}

/// The outcome of verifying a bundle file or folder. `verified` is true exactly when
/// `problems` is empty; warnings never fail a bundle (the installer applies its
/// own signature policy to `signature`).
public struct VerificationReport: Codable, Sendable, Equatable {
    /// Schema name of the JSON report.
    public static let schema = "frostbyte-bundle-verification/1"

    public enum SourceKind: String, Codable, Sendable { case archive, directory }

    public var schema: String = VerificationReport.schema
    public var source: String
    public var sourceKind: SourceKind
    public var verified: Bool { problems.isEmpty }
    public var name: String?
    public var version: String?
    public var bundleId: String?
    /// The root folder of an archive (`<name>-<version>`).
    public var rootFolder: String?
    public var signature: SignatureStatus
    /// "ok", "absent" or "mismatch" for the `<bundle>.sha256` sidecar; nil for folders.
    public var sidecar: String?
    /// For a split bundle (the source is its `.parts.json`): what the index says and its
    /// signature state; nil otherwise (and then absent from the JSON).
    public var parts: SplitPartsSummary?
    public var filesChecked: Int = 0
    public var bytesHashed: Int64 = 0
    public var images: [ImageCheck] = []
    /// Format v2 only: the blobs (absent from the JSON of v1 bundles).
    public var blobs: BlobTally?
    /// Delta bundles only: the base the bundle needs (absent from the JSON otherwise).
    public var base: BaseCheck?
    /// `verify-bundle --rederive-sbom` only: the SBOMs written again and found
    /// byte-identical to the shipped ones (absent from the JSON otherwise).
    public var sbomRederived: RederivedSBOMs?
    public var problems: [VerificationProblem] = []
    public var warnings: [String] = []
    /// The decoded manifest when it could be read (not part of the JSON report).
    public var manifest: Manifest?
    /// Exact bytes of MANIFEST.json (not part of the JSON report).
    public var manifestData: Data?

    public init(source: String, sourceKind: SourceKind) {
        self.source = source
        self.sourceKind = sourceKind
        self.signature = SignatureStatus(state: .unsigned)
    }

    enum CodingKeys: String, CodingKey {
        case schema, source, name, version, signature, sidecar, images, problems, warnings, parts
        case verified, blobs, base
        case sbomRederived = "sbom_rederived"
        case sourceKind = "source_kind"
        case bundleId = "bundle_id"
        case rootFolder = "root_folder"
        case filesChecked = "files_checked"
        case bytesHashed = "bytes_hashed"
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(schema, forKey: .schema)
        try container.encode(source, forKey: .source)
        try container.encode(sourceKind, forKey: .sourceKind)
        try container.encode(verified, forKey: .verified)
        try container.encode(name, forKey: .name)
        try container.encode(version, forKey: .version)
        try container.encode(bundleId, forKey: .bundleId)
        try container.encode(rootFolder, forKey: .rootFolder)
        try container.encode(signature, forKey: .signature)
        try container.encode(sidecar, forKey: .sidecar)
        try container.encodeIfPresent(parts, forKey: .parts)
        try container.encode(filesChecked, forKey: .filesChecked)
        try container.encode(bytesHashed, forKey: .bytesHashed)
        try container.encode(images, forKey: .images)
        try container.encodeIfPresent(blobs, forKey: .blobs)
        try container.encodeIfPresent(base, forKey: .base)
        try container.encodeIfPresent(sbomRederived, forKey: .sbomRederived)
        try container.encode(problems, forKey: .problems)
        try container.encode(warnings, forKey: .warnings)
    }

    public init(from decoder: Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        source = try container.decode(String.self, forKey: .source)
        sourceKind = try container.decode(SourceKind.self, forKey: .sourceKind)
        schema = try container.decode(String.self, forKey: .schema)
        name = try container.decodeIfPresent(String.self, forKey: .name)
        version = try container.decodeIfPresent(String.self, forKey: .version)
        bundleId = try container.decodeIfPresent(String.self, forKey: .bundleId)
        rootFolder = try container.decodeIfPresent(String.self, forKey: .rootFolder)
        signature = try container.decode(SignatureStatus.self, forKey: .signature)
        sidecar = try container.decodeIfPresent(String.self, forKey: .sidecar)
        parts = try container.decodeIfPresent(SplitPartsSummary.self, forKey: .parts)
        filesChecked = try container.decode(Int.self, forKey: .filesChecked)
        bytesHashed = try container.decode(Int64.self, forKey: .bytesHashed)
        images = try container.decode([ImageCheck].self, forKey: .images)
        blobs = try container.decodeIfPresent(BlobTally.self, forKey: .blobs)
        base = try container.decodeIfPresent(BaseCheck.self, forKey: .base)
        sbomRederived = try container.decodeIfPresent(RederivedSBOMs.self, forKey: .sbomRederived)
        problems = try container.decode([VerificationProblem].self, forKey: .problems)
        warnings = try container.decode([String].self, forKey: .warnings)
    }

    /// True when some problem comes from `check`.
    public func has(_ check: VerificationProblem.Check, path: String? = nil) -> Bool {
        problems.contains { $0.check == check && (path == nil || $0.path == path) }
    }
}

/// What `verify-bundle --rederive-sbom` wrote again and found byte-identical.
public struct RederivedSBOMs: Codable, Sendable, Equatable {
    /// Image SBOMs identical to the shipped `images[].sbom` files.
    public var imagesIdentical: Int
    /// The bundle SBOM (`sbom`) identical to the shipped one.
    public var bundleIdentical: Bool

    public init(imagesIdentical: Int, bundleIdentical: Bool) {
        self.imagesIdentical = imagesIdentical; self.bundleIdentical = bundleIdentical
    }

    enum CodingKeys: String, CodingKey {
        case imagesIdentical = "images_identical"
        case bundleIdentical = "bundle_identical"
    }
}
