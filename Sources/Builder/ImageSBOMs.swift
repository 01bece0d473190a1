import FrostbyteCore
import BundleFormat
import SBOM
import FoundationEssentials
import FrostbyteCrypto
import FrostbyteArchive
import Stack

/// Scans every entry `ImageBlobExtractor` streams as a layer tar, in the same pass
/// that hashes and stores it, and keeps each layer's `LayerScan` by the entry's
/// digest (a layer's diff ID). Entries that are not tar archives (configs,
/// manifests) leave nothing. Holds only the scans: a few small files per layer.
final class LayerScanCollector: ArchiveEntryObserver {
    private(set) var scans: [String: LayerScan] = [:]
    private var scanner: LayerScanner?

    func entryBegins(path: String, size: Int64) {
        // The smallest tar is its two end-of-archive blocks.
        scanner = size >= 1024 ? LayerScanner() : nil
    }

    func entryData(_ bytes: UnsafeRawBufferPointer) { scanner?.consume(bytes) }

    func entryEnds(digest: String) {
        if let scan = scanner?.scan { scans[digest] = scan }
        scanner = nil
    }
}

/// The per-image SBOM files of a v2 bundle (docs/FORMAT.md, "SBOMs"):
/// `sbom/<safe-ref>.cdx.json`, CycloneDX 1.6 JSON, listed in MANIFEST.json like
/// every file (so the signature covers them) and named by `images[].sbom`.
enum ImageSBOMs {
    static let folder = "sbom"

    /// `sbom/<safe-ref>.cdx.json` (`frostbyte-demo/postgres:1.0` →
    /// `sbom/frostbyte-demo_postgres_1.0.cdx.json`).
    static func path(_ reference: String) -> String {
        let archive = BuildInputs.imageFileName(reference)
        return "\(folder)/\(archive.dropFirst("images/".count).dropLast(".tar".count)).cdx.json"
    }

    /// The SBOM entry of `image` from the scans of its layers.
    static func entry(for image: Manifest.Image, scans: [String: LayerScan], timestamp: String,
                      builder: Manifest.Builder) throws -> BundleEntry {
        let data = try document(for: image, scans: scans, timestamp: timestamp, builder: builder)
        return BundleEntry(path: path(image.name), source: .data(data), mode: .file,
                           digest: SHA256Hasher.hash(data), size: Int64(data.count))
    }

    /// The SBOM bytes of `image` from the scans of its layers (keyed by diff ID).
    static func document(for image: Manifest.Image, scans: [String: LayerScan], timestamp: String,
                         builder: Manifest.Builder) throws -> Data {
        let layers = (image.layers ?? []).map { (diffID: $0, scan: scans[$0]) }
        return try CycloneDXWriter.document(
            ImageCatalogue(layers: layers),
            image: .init(reference: image.name, manifestDigest: image.manifestDigest ?? "", configDigest: image.digest),
            timestamp: timestamp, tool: (builder.name, builder.version))
    }
}

extension BundleBuilder {
    /// The `sbom/` entries of a v2 build, sorted as the bundle lists them: the folder, each
    /// image's SBOM (`staged.sboms`) and the bundle SBOM (`BundleSBOM`), which names the
    /// images, the models and every file of `hashed` and those SBOMs with their SHA-256.
    /// - Throws: encoding errors (none in practice).
    func sbomEntries(_ spec: BundleSpec, staged: StagedLayout, hashed: [BundleEntry],
                     models: [(model: BundleSpec.Model, entry: BundleEntry)], epoch: Int64) throws -> [BundleEntry] {
        let digests = Dictionary((hashed + staged.sboms).compactMap { entry in entry.digest.map { (entry.path, $0) } },
                                 uniquingKeysWith: { first, _ in first })
        let listedModels = models.compactMap { model, entry in
            digests[entry.path].map { Manifest.Model(name: model.name, path: entry.path, sha256: $0, size: entry.size ?? 0) }
        }
        let files = (hashed + staged.sboms).compactMap { entry in
            entry.source == .directory ? nil : entry.digest.map { (path: entry.path, sha256: $0) }
        }
        let data = try BundleSBOM.document(name: spec.name, version: spec.version, images: staged.images,
                                           models: listedModels, files: files, provenance: nil,
                                           createdAt: BuildInputs.iso8601(epoch), builder: request.builder)
        let bundle = BundleEntry(path: BundleSBOM.path, source: .data(data), mode: .file,
                                 digest: SHA256Hasher.hash(data), size: Int64(data.count))
        return (staged.sboms + [bundle]).sorted { $0.path.utf8.lexicographicallyPrecedes($1.path.utf8) }
    }
}
