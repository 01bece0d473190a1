import FoundationEssentials

/// The CycloneDX 1.6 JSON envelope both SBOM writers fill (`CycloneDXWriter` per image,
/// `BundleSBOMWriter` for the bundle): format, version, serial number, metadata (time,
/// subject, tools) and the components, each writer with its own component type.
struct CycloneDXDocument<Component: Encodable, Tool: Encodable>: Encodable {
    var bomFormat = "CycloneDX"
    var specVersion = "1.6"
    var serialNumber: String
    var version = 1
    var metadata: Metadata
    var components: [Component]

    struct Metadata: Encodable {
        var timestamp: String
        var component: Component
        var tools: Tools
    }

    struct Tools: Encodable { var components: [Tool] }

    init(serialNumber: String, timestamp: String, subject: Component, tools: [Tool], components: [Component]) {
        self.serialNumber = serialNumber
        self.metadata = Metadata(timestamp: timestamp, component: subject, tools: Tools(components: tools))
        self.components = components
    }
}
