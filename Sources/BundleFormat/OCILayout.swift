import FrostbyteCrypto
import FoundationEssentials

/// The OCI image layout that format v2 stores under `images/` (docs/FORMAT.md):
/// `oci-layout`, `index.json` naming one image manifest per image, annotated with
/// its reference, and `blobs/sha256/<hex>`. Builders write the documents here, and
/// only here, so the same images always give the same bytes; readers parse them here.
public enum OCILayout {
    /// The folder of the layout inside a bundle.
    public static let folder = "images"
    public static let blobFolder = "images/blobs/sha256"
    public static let indexPath = "images/index.json"
    public static let layoutPath = "images/oci-layout"

    public static let manifestMediaType = "application/vnd.oci.image.manifest.v1+json"
    public static let indexMediaType = "application/vnd.oci.image.index.v1+json"
    public static let configMediaType = "application/vnd.oci.image.config.v1+json"
    /// Layers are stored uncompressed: a layer blob's digest is its diff ID.
    public static let layerMediaType = "application/vnd.oci.image.layer.v1.tar"
    /// The annotation containerd and Docker 25+ read the full reference from.
    public static let nameAnnotation = "io.containerd.image.name"
    /// The OCI annotation OCI tools (skopeo, umoci, oras: `oci:<layout>:<name>`) address
    /// an image by: also the full reference, so it is unique within the layout.
    public static let refAnnotation = "org.opencontainers.image.ref.name"

    /// `images/blobs/sha256/<hex>` for `sha256:<hex>`: a blob's path in a bundle.
    public static func blobPath(_ digest: String) -> String {
        folder + "/" + layoutBlobPath(digest)
    }

    /// `blobs/sha256/<hex>` for `sha256:<hex>`: a blob's path inside an OCI layout
    /// (or a docker-archive built from one).
    public static func layoutBlobPath(_ digest: String) -> String {
        "blobs/sha256/" + digest.dropPrefix("sha256:")
    }

    /// The digest a blob path names (`sha256:<hex>`), or nil when `path` is not a
    /// well-formed blob path.
    public static func digest(ofBlobPath path: String) -> String? {
        guard path.hasPrefix(blobFolder + "/") else { return nil }
        let hex = String(path.dropFirst(blobFolder.count + 1))
        guard SHA256Digest(hex: hex) != nil else { return nil }
        return "sha256:" + hex
    }

    /// `oci-layout`'s bytes.
    public static let layoutFile = Data(#"{"imageLayoutVersion":"1.0.0"}"#.utf8)

    /// A content descriptor: what a manifest or index says of a blob.
    public struct Descriptor: Codable, Sendable, Equatable {
        public var mediaType: String
        public var digest: String
        public var size: Int64
        public var annotations: [String: String]?
        /// OCI 1.1: the artifact type of the manifest this descriptor points to (index.json
        /// entries of SBOM referrers); absent for images.
        public var artifactType: String?
        public init(mediaType: String, digest: String, size: Int64, annotations: [String: String]? = nil,
                    artifactType: String? = nil) {
            self.mediaType = mediaType; self.digest = digest; self.size = size; self.annotations = annotations
            self.artifactType = artifactType
        }
    }

    /// An OCI image manifest (the fields format v2 reads and writes).
    public struct ImageManifest: Codable, Sendable, Equatable {
        public var schemaVersion: Int
        public var mediaType: String?
        public var config: Descriptor
        public var layers: [Descriptor]
        /// OCI 1.1 artifact manifests (SBOM referrers): the artifact's type and the image
        /// manifest it refers to. Absent in image manifests.
        public var artifactType: String?
        public var subject: Descriptor?
        public init(config: Descriptor, layers: [Descriptor], artifactType: String? = nil, subject: Descriptor? = nil) {
            schemaVersion = 2; mediaType = OCILayout.manifestMediaType; self.config = config; self.layers = layers
            self.artifactType = artifactType; self.subject = subject
        }
    }

    /// An OCI image index (`index.json`).
    public struct Index: Codable, Sendable, Equatable {
        public var schemaVersion: Int
        public var mediaType: String?
        public var manifests: [Descriptor]
        public init(manifests: [Descriptor]) {
            schemaVersion = 2; mediaType = OCILayout.indexMediaType; self.manifests = manifests
        }
    }

    /// The part of an image config that names the layers.
    public struct ConfigLayers: Decodable, Sendable, Equatable {
        public struct RootFS: Decodable, Sendable, Equatable {
            public var type: String?
            public var diffIDs: [String]
            enum CodingKeys: String, CodingKey {
                case type
                case diffIDs = "diff_ids"
            }
        }
        public var rootfs: RootFS
    }

    /// The canonical image manifest of an image: the config and the uncompressed
    /// layers, compact JSON with sorted keys. The same config and layers give the
    /// same bytes whichever engine saved the image.
    public static func manifestData(config: Descriptor, layers: [Descriptor]) throws -> Data {
        try compactEncoder().encode(ImageManifest(config: config, layers: layers))
    }

    /// `index.json`: one manifest descriptor per image, in the order given, each
    /// annotated with its full reference (`docker.io/library/redis:7`) under both
    /// `io.containerd.image.name` (Docker, containerd) and `org.opencontainers.image.ref.name`
    /// (OCI tools). Bundles built before used the bare tag for the latter.
    /// `referrers` (OCI 1.1 artifact manifests, `OCIReferrer.indexEntry`) follow the images.
    public static func indexData(_ images: [(fullReference: String, manifest: Descriptor)],
                                 referrers: [Descriptor] = []) throws -> Data {
        let manifests = images.map { image in
            var descriptor = image.manifest
            descriptor.annotations = [nameAnnotation: image.fullReference, refAnnotation: image.fullReference]
            return descriptor
        }
        return try compactEncoder().encode(Index(manifests: manifests + referrers))
    }

    /// Decodes a manifest blob.
    public static func parseManifest(_ data: Data) -> ImageManifest? {
        try? JSONDecoder().decode(ImageManifest.self, from: data)
    }

    /// Decodes `index.json`.
    public static func parseIndex(_ data: Data) -> Index? {
        try? JSONDecoder().decode(Index.self, from: data)
    }

    /// The config's `rootfs.diff_ids`.
    public static func parseDiffIDs(config data: Data) -> [String]? {
        (try? JSONDecoder().decode(ConfigLayers.self, from: data))?.rootfs.diffIDs
    }

    static func compactEncoder() -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }
}

extension String {
    /// The string without `prefix` when it starts with it.
    func dropPrefix(_ prefix: String) -> String {
        hasPrefix(prefix) ? String(dropFirst(prefix.count)) : self
    }
}
