import FoundationEssentials

/// The packages a CycloneDX SBOM written by `CycloneDXWriter` lists: what
/// `inspect --sbom` prints. Reads any CycloneDX JSON; components without a purl
/// (the distribution) are left out of `packages`.
public struct SBOMSummary: Codable, Sendable, Equatable {
    public struct Package: Codable, Sendable, Equatable {
        public var name: String
        public var version: String
        /// The purl type: `deb`, `apk`, ...
        public var type: String
        /// The diff ID of the layer that brought it, when recorded.
        public var layer: String?
        public var purl: String
    }

    /// `ID VERSION_ID` of the distribution component, when there is one.
    public var distribution: String?
    public var packages: [Package]

    public init(distribution: String?, packages: [Package]) {
        self.distribution = distribution; self.packages = packages
    }

    /// Parses the SBOM's bytes; nil when they are not a CycloneDX JSON document.
    public init?(_ data: Data) {
        struct Document: Decodable {
            struct Component: Decodable {
                struct Property: Decodable { var name: String; var value: String? }
                var type: String
                var name: String
                var version: String?
                var purl: String?
                var properties: [Property]?
            }
            var bomFormat: String
            var components: [Component]?
        }
        guard let document = try? JSONDecoder().decode(Document.self, from: data), document.bomFormat == "CycloneDX" else {
            return nil
        }
        let components = document.components ?? []
        distribution = components.first { $0.type == "operating-system" }.map { "\($0.name) \($0.version ?? "")" }
        packages = components.compactMap { component in
            guard let purl = component.purl, purl.hasPrefix("pkg:"), let slash = purl.firstIndex(of: "/") else { return nil }
            return Package(name: component.name, version: component.version ?? "",
                           type: String(purl[purl.index(purl.startIndex, offsetBy: 4)..<slash]),
                           layer: component.properties?.first { $0.name == CycloneDXWriter.layerProperty }?.value,
                           purl: purl)
        }
    }
}
