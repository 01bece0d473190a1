import FrostbyteCore
import FoundationEssentials

/// Writes one image's catalogue as a CycloneDX 1.6 JSON SBOM.
///
/// Guarantees: the same catalogue and image give the same bytes: keys sorted, 2-space
/// indentation, `/` not escaped, one trailing newline; `serialNumber` derived from the
/// image's manifest digest (no random UUID), `metadata.timestamp` the build's source
/// date (no wall-clock time); components in catalogue order, the distribution first.
/// Each package carries its purl (`pkg:deb/debian/NAME@VERSION?arch=ARCH&distro=debian-12`,
/// percent-encoded as the purl specification says) and the diff ID of the layer that
/// brought it (property `frostbyte-bundle:layer_diff_id`).
public enum CycloneDXWriter {
    public static let mediaType = "application/vnd.cyclonedx+json"
    public static let layerProperty = "frostbyte-bundle:layer_diff_id"
    public static let typeProperty = "frostbyte-bundle:package_type"

    /// The image the SBOM describes.
    public struct Subject: Sendable {
        /// The reference as the bundle names it (`frostbyte-demo/postgres:1.0`).
        public var reference: String
        /// `sha256:<hex>` of the image manifest blob.
        public var manifestDigest: String
        /// `sha256:<hex>` of the image config (its ID on graphdriver engines).
        public var configDigest: String
        public init(reference: String, manifestDigest: String, configDigest: String) {
            self.reference = reference; self.manifestDigest = manifestDigest; self.configDigest = configDigest
        }
    }

    /// The SBOM's bytes. `timestamp` is `YYYY-MM-DDTHH:MM:SSZ`; `tool` the builder's name and version.
    public static func document(_ catalogue: ImageCatalogue, image: Subject, timestamp: String,
                                tool: (name: String, version: String)) throws -> Data {
        var components: [Component] = []
        if let os = catalogue.distribution {
            components.append(Component(
                type: "operating-system", bomRef: "os:\(os.id)@\(os.versionID ?? os.versionCodename ?? "")",
                name: os.id, version: os.versionID ?? os.versionCodename, description: os.prettyName, purl: nil,
                properties: catalogue.distributionLayer.map { [Property(name: layerProperty, value: $0)] }))
        }
        var seen = Set<String>()
        for package in catalogue.packages {
            let purl = purl(package, distribution: catalogue.distribution)
            guard seen.insert(purl).inserted else { continue }
            components.append(Component(
                type: "library", bomRef: purl, name: package.name, version: package.version, description: nil,
                purl: purl, properties: [Property(name: layerProperty, value: package.layer),
                                         Property(name: typeProperty, value: package.type)]))
        }
        let hex = String(image.manifestDigest.dropFirst("sha256:".count))
        let subject = Component(
            type: "container", bomRef: image.manifestDigest, name: image.reference, version: image.manifestDigest,
            description: nil, purl: nil,
            properties: [Property(name: "frostbyte-bundle:config_digest", value: image.configDigest)],
            hashes: [Hash(alg: "SHA-256", content: hex)])
        let toolComponent = Component(type: "application", bomRef: nil, name: tool.name, version: tool.version,
                                      description: nil, purl: nil, properties: nil)
        return try DeterministicJSON.encode(CycloneDXDocument(
            serialNumber: serialNumber(image.manifestDigest), timestamp: timestamp, subject: subject,
            tools: [toolComponent], components: components))
    }

    /// `urn:uuid:` made of the manifest digest's first 128 bits, with the version (5)
    /// and variant bits set as RFC 9562 lays them out: stable per image, unique per image.
    public static func serialNumber(_ manifestDigest: String) -> String {
        var hex = Array(manifestDigest.dropFirst("sha256:".count).prefix(32))
        while hex.count < 32 { hex.append("0") }
        hex[12] = "5"
        let variant = Int(String(hex[16]), radix: 16) ?? 0
        hex[16] = Character(String(8 | (variant & 3), radix: 16))
        let text = String(hex)
        let cuts = [8, 12, 16, 20].map { text.index(text.startIndex, offsetBy: $0) }
        return "urn:uuid:\(text[..<cuts[0]])-\(text[cuts[0]..<cuts[1]])-\(text[cuts[1]..<cuts[2]])-"
            + "\(text[cuts[2]..<cuts[3]])-\(text[cuts[3]...])"
    }

    /// `pkg:<type>/<namespace>/<name>@<version>?arch=<arch>&distro=<distro>`.
    /// Language packages: `LanguagePackages.purl`.
    public static func purl(_ package: CataloguedPackage, distribution: OSRelease?) -> String {
        if let purl = LanguagePackages.purl(type: package.type, name: package.name, version: package.version) {
            return purl
        }
        let namespace = distribution?.id ?? ["apk": "alpine", "rpm": "redhat"][package.type] ?? "debian"
        var qualifiers: [String] = []
        if !package.architecture.isEmpty { qualifiers.append("arch=\(encode(package.architecture))") }
        if let distro = distribution?.distroQualifier { qualifiers.append("distro=\(encode(distro))") }
        return "pkg:\(package.type)/\(encode(namespace))/\(encode(package.name))@\(encode(package.version))"
            + (qualifiers.isEmpty ? "" : "?" + qualifiers.joined(separator: "&"))
    }

    /// Percent-encodes everything but `A-Z a-z 0-9 . - _ ~`.
    static func encode(_ text: String) -> String {
        var result = ""
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                 UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "."), UInt8(ascii: "-"), UInt8(ascii: "_"),
                 UInt8(ascii: "~"):
                result.unicodeScalars.append(UnicodeScalar(byte))
            default:
                result += "%" + String(byte >> 4, radix: 16, uppercase: true) + String(byte & 15, radix: 16, uppercase: true)
            }
        }
        return result
    }

    struct Component: Encodable {
        var type: String
        var bomRef: String?
        var name: String
        var version: String?
        var description: String?
        var purl: String?
        var properties: [Property]?
        var hashes: [Hash]? = nil
        enum CodingKeys: String, CodingKey {
            case type, name, version, description, purl, properties, hashes
            case bomRef = "bom-ref"
        }
    }

    struct Property: Encodable { var name: String; var value: String }
    struct Hash: Encodable { var alg: String; var content: String }
}
