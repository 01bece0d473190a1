import FrostbyteCore
import FoundationEssentials

/// Writes the bundle-level CycloneDX 1.6 JSON SBOM (docs/FORMAT.md, "SBOMs"): what the
/// bundle holds, one component per image (`container`, by manifest digest, with an
/// external reference of type `bom` to its own SBOM file), per model
/// (`machine-learning-model`) and per other file (`file`), each with its SHA-256.
///
/// Guarantees: the same contents give the same bytes: keys sorted, 2-space indentation,
/// `/` not escaped, one trailing newline; components in the order given (images, models,
/// files); `serialNumber` derived from the contents (`CycloneDXWriter.serialNumber` of
/// the SHA-256 of every component's name and digest), `metadata.timestamp` the build's
/// source date. Nothing machine- or time-dependent goes in.
public enum BundleSBOMWriter {
    /// One image of the bundle.
    public struct Image: Sendable, Equatable {
        public var reference: String
        /// `sha256:<hex>` of the image manifest blob.
        public var manifestDigest: String
        /// The image's own SBOM file in the bundle and its SHA-256 hex (nil: none).
        public var sbom: (path: String, sha256: String)?
        public init(reference: String, manifestDigest: String, sbom: (path: String, sha256: String)?) {
            self.reference = reference; self.manifestDigest = manifestDigest; self.sbom = sbom
        }
        public static func == (lhs: Image, rhs: Image) -> Bool {
            lhs.reference == rhs.reference && lhs.manifestDigest == rhs.manifestDigest
                && lhs.sbom?.path == rhs.sbom?.path && lhs.sbom?.sha256 == rhs.sbom?.sha256
        }
    }

    /// A model or another file of the bundle: its path in the bundle and SHA-256 hex.
    public struct File: Sendable, Equatable {
        public var name: String
        public var path: String
        public var sha256: String
        public init(name: String, path: String, sha256: String) {
            self.name = name; self.path = path; self.sha256 = sha256
        }
    }

    /// The bundle, as the SBOM describes it.
    public struct Contents: Sendable, Equatable {
        public var name: String
        public var version: String
        public var images: [Image]
        public var models: [File]
        public var files: [File]
        public init(name: String, version: String, images: [Image], models: [File], files: [File]) {
            self.name = name; self.version = version; self.images = images; self.models = models; self.files = files
        }
    }

    public static let pathProperty = "frostbyte-bundle:path"

    /// The SBOM's bytes. `timestamp` is `YYYY-MM-DDTHH:MM:SSZ`; `tool` the builder's name and
    /// version; `sha256Hex` hashes the serial number's seed (this module has no crypto of its own).
    public static func document(_ contents: Contents, timestamp: String, tool: (name: String, version: String),
                                sha256Hex: (Data) -> String) throws -> Data {
        var components: [Component] = []
        for image in contents.images {
            components.append(Component(
                type: "container", bomRef: "image:\(image.reference)", name: image.reference,
                version: image.manifestDigest,
                hashes: [Hash(content: String(image.manifestDigest.dropFirst("sha256:".count)))],
                externalReferences: image.sbom.map {
                    [Reference(type: "bom", url: $0.path, comment: "the image's CycloneDX SBOM in the bundle",
                               hashes: [Hash(content: $0.sha256)])]
                }))
        }
        for model in contents.models {
            components.append(Component(type: "machine-learning-model", bomRef: "model:\(model.name)", name: model.name,
                                        hashes: [Hash(content: model.sha256)],
                                        properties: [Property(name: pathProperty, value: model.path)]))
        }
        for file in contents.files {
            components.append(Component(type: "file", bomRef: "file:\(file.path)", name: file.path,
                                        hashes: [Hash(content: file.sha256)]))
        }
        var seed = "\(contents.name)\n\(contents.version)\n"
        for component in components {
            seed += "\(component.bomRef)\n\(component.hashes.first?.content ?? "")\n"
        }
        let subject = Component(type: "application", bomRef: "bundle", name: contents.name,
                                version: contents.version, hashes: [])
        return try DeterministicJSON.encode(CycloneDXDocument(
            serialNumber: CycloneDXWriter.serialNumber("sha256:" + sha256Hex(Data(seed.utf8))), timestamp: timestamp,
            subject: subject, tools: [Tool(name: tool.name, version: tool.version)], components: components))
    }

    struct Tool: Encodable {
        var type = "application"
        var name: String
        var version: String
    }

    struct Component: Encodable {
        var type: String
        var bomRef: String
        var name: String
        var version: String? = nil
        var hashes: [Hash]
        var properties: [Property]? = nil
        var externalReferences: [Reference]? = nil
        enum CodingKeys: String, CodingKey {
            case type, name, version, hashes, properties, externalReferences
            case bomRef = "bom-ref"
        }
        func encode(to encoder: Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(type, forKey: .type)
            try container.encode(bomRef, forKey: .bomRef)
            try container.encode(name, forKey: .name)
            try container.encodeIfPresent(version, forKey: .version)
            if !hashes.isEmpty { try container.encode(hashes, forKey: .hashes) }
            try container.encodeIfPresent(properties, forKey: .properties)
            try container.encodeIfPresent(externalReferences, forKey: .externalReferences)
        }
    }

    struct Reference: Encodable {
        var type: String
        var url: String
        var comment: String
        var hashes: [Hash]
    }

    struct Property: Encodable { var name: String; var value: String }
    struct Hash: Encodable {
        var alg = "SHA-256"
        var content: String
    }
}
