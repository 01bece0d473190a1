import FrostbyteCore
import FrostbyteCrypto
import BundleFormat
import SBOM
import FoundationEssentials

/// The bundle SBOM of a v2 bundle (docs/FORMAT.md, "SBOMs"): `sbom/bundle.cdx.json`,
/// CycloneDX 1.6 JSON written by `BundleSBOMWriter`, listed in MANIFEST.json (`sbom`,
/// and in `files[]`, so the signature covers it). It names every image by manifest
/// digest with its own SBOM file, every model, and every other file with its SHA-256:
/// all of it read from what MANIFEST.json lists, so `verify-bundle --rederive-sbom`
/// writes it again from the manifest alone.
public enum BundleSBOM {
    public static let path = "sbom/bundle.cdx.json"

    /// A file the bundle SBOM describes: path and SHA-256.
    public typealias File = (path: String, sha256: SHA256Digest)

    /// The document's bytes. `files` are the bundle's files (no folders) as MANIFEST.json
    /// lists them, in any order; blobs (`images/blobs/`, described by the images), the
    /// models (their own components), the bundle SBOM itself and the provenance (written
    /// after it, and covering it) are left out of the `file` components.
    /// - Throws: encoding errors (none in practice).
    public static func document(name: String, version: String, images: [Manifest.Image], models: [Manifest.Model],
                                files: [File], provenance: String?, createdAt: String,
                                builder: Manifest.Builder) throws -> Data {
        let byPath = Dictionary(files.map { ($0.path, $0.sha256) }, uniquingKeysWith: { first, _ in first })
        let modelPaths = Set(models.map(\.path))
        let provenanceFolder = provenance.map { PathText.deletingLastComponent($0) + "/" }
        let others = files.filter { file in
            !file.path.hasPrefix(OCILayout.folder + "/blobs/") && file.path != path && !modelPaths.contains(file.path)
                && file.path != provenance && !(provenanceFolder.map { file.path.hasPrefix($0) } ?? false)
        }.sorted { $0.path.utf8.lexicographicallyPrecedes($1.path.utf8) }
        let contents = BundleSBOMWriter.Contents(
            name: name, version: version,
            images: images.map { image in
                BundleSBOMWriter.Image(reference: image.name, manifestDigest: image.manifestDigest ?? image.digest,
                                       sbom: image.sbom.flatMap { sbom in byPath[sbom].map { (sbom, $0.hex) } })
            },
            models: models.map { .init(name: $0.name, path: $0.path, sha256: $0.sha256.hex) },
            files: others.map { .init(name: $0.path, path: $0.path, sha256: $0.sha256.hex) })
        return try BundleSBOMWriter.document(contents, timestamp: createdAt, tool: (builder.name, builder.version),
                                             sha256Hex: { SHA256Hasher.hash($0).hex })
    }

    /// The document of the bundle `manifest` describes (its `files[]`, images and models).
    public static func document(for manifest: Manifest) throws -> Data {
        try document(name: manifest.name, version: manifest.version, images: manifest.images, models: manifest.models,
                     files: manifest.files.compactMap { file in
                         guard !file.isDirectory, let sha256 = file.sha256 else { return nil }
                         return (file.path, sha256)
                     },
                     provenance: manifest.provenance, createdAt: manifest.createdAt, builder: manifest.builder)
    }
}
