import FrostbyteCore
import FoundationEssentials

/// Writes the packages of a bundle's images (as `SBOMSummary` read them back from
/// the CycloneDX SBOMs) as one SPDX 2.3 JSON document: `inspect --sbom --format spdx`.
///
/// Guarantees: the same images and bundle give the same bytes (keys sorted, 2-space
/// indentation, trailing newline; `created` is the bundle's `created_at`, the
/// namespace is derived from the bundle id, SPDX IDs from positions); each image is a
/// `CONTAINER` package described by the document, containing its packages, each with
/// its purl as a `PACKAGE-MANAGER` external reference and its layer in `sourceInfo`.
public enum SPDXWriter {
    /// One image of the document.
    public struct Image: Sendable {
        public var name: String
        /// `sha256:<hex>` of the image manifest blob.
        public var manifestDigest: String
        public var summary: SBOMSummary
        public init(name: String, manifestDigest: String, summary: SBOMSummary) {
            self.name = name; self.manifestDigest = manifestDigest; self.summary = summary
        }
    }

    /// The document's bytes. `created` is `YYYY-MM-DDTHH:MM:SSZ`.
    public static func document(bundleId: String, created: String, tool: (name: String, version: String),
                                images: [Image]) throws -> Data {
        var packages: [Package] = []
        var relationships: [Relationship] = []
        for (index, image) in images.enumerated() {
            let imageID = "SPDXRef-Image-\(index)"
            packages.append(Package(
                SPDXID: imageID, name: image.name, versionInfo: image.manifestDigest,
                primaryPackagePurpose: "CONTAINER",
                checksums: [Checksum(algorithm: "SHA256", checksumValue: String(image.manifestDigest.dropFirst(7)))]))
            relationships.append(Relationship(spdxElementId: "SPDXRef-DOCUMENT", relationshipType: "DESCRIBES",
                                              relatedSpdxElement: imageID))
            for (position, package) in image.summary.packages.enumerated() {
                let packageID = "SPDXRef-Package-\(index)-\(position)"
                packages.append(Package(
                    SPDXID: packageID, name: package.name, versionInfo: package.version,
                    primaryPackagePurpose: "LIBRARY",
                    externalRefs: [ExternalRef(referenceCategory: "PACKAGE-MANAGER", referenceType: "purl",
                                               referenceLocator: package.purl)],
                    sourceInfo: package.layer.map { "\(package.type) package database of layer \($0)" }))
                relationships.append(Relationship(spdxElementId: imageID, relationshipType: "CONTAINS",
                                                  relatedSpdxElement: packageID))
            }
        }
        let document = Document(
            name: bundleId, documentNamespace: "https://frostbyte-bundle.invalid/spdx/\(bundleId)",
            creationInfo: CreationInfo(created: created, creators: ["Tool: \(tool.name)-\(tool.version)"]),
            packages: packages, relationships: relationships)
        return try DeterministicJSON.encode(document)
    }

    struct Document: Encodable {
        var spdxVersion = "SPDX-2.3"
        var dataLicense = "CC0-1.0"
        var SPDXID = "SPDXRef-DOCUMENT"
        var name: String
        var documentNamespace: String
        var creationInfo: CreationInfo
        var packages: [Package]
        var relationships: [Relationship]
    }

    struct CreationInfo: Encodable { var created: String; var creators: [String] }

    struct Package: Encodable {
        var SPDXID: String
        var name: String
        var versionInfo: String
        var downloadLocation = "NOASSERTION"
        var filesAnalyzed = false
        var primaryPackagePurpose: String
        var checksums: [Checksum]? = nil
        var externalRefs: [ExternalRef]? = nil
        var sourceInfo: String? = nil
    }

    struct Checksum: Encodable { var algorithm: String; var checksumValue: String }
    struct ExternalRef: Encodable { var referenceCategory: String; var referenceType: String; var referenceLocator: String }
    struct Relationship: Encodable { var spdxElementId: String; var relationshipType: String; var relatedSpdxElement: String }
}
