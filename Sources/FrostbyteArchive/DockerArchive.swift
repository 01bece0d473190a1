import FoundationEssentials

/// What the docker-archive readers (`ImageArchiveInspector`, `ImageBlobExtractor`) and
/// the installer's stream writer share: the entry of its manifest.json, and how its
/// paths are compared.
public enum DockerArchive {
    /// One image of a docker-archive's manifest.json.
    public struct ManifestEntry: Codable, Sendable {
        public var config: String
        public var repoTags: [String]?
        public var layers: [String]
        public init(config: String, repoTags: [String]?, layers: [String]) {
            self.config = config; self.repoTags = repoTags; self.layers = layers
        }
        enum CodingKeys: String, CodingKey {
            case config = "Config", repoTags = "RepoTags", layers = "Layers"
        }
    }

    /// `manifest.json` of a docker-archive holding the one image `entry` (compact JSON,
    /// keys sorted), as `docker load` reads it.
    public static func manifestData(_ entry: ManifestEntry) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode([entry])
    }

    /// An archive path without leading `./` and trailing `/`.
    package static func normalize(_ path: String) -> String {
        var path = Substring(path)
        while path.hasPrefix("./") { path = path.dropFirst(2) }
        while path.hasSuffix("/") { path = path.dropLast() }
        return String(path)
    }
}
