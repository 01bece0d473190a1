import FoundationEssentials

/// What the `docker save` archive readers (`ImageArchiveInspector`, `ImageBlobExtractor`)
/// share: the entry of its manifest.json, and how its paths are compared.
enum DockerArchive {
    /// One image of a `docker save` manifest.json.
    struct ManifestEntry: Decodable {
        var config: String
        var repoTags: [String]?
        var layers: [String]
        enum CodingKeys: String, CodingKey {
            case config = "Config", repoTags = "RepoTags", layers = "Layers"
        }
    }

    /// An archive path without leading `./` and trailing `/`.
    static func normalize(_ path: String) -> String {
        var path = Substring(path)
        while path.hasPrefix("./") { path = path.dropFirst(2) }
        while path.hasSuffix("/") { path = path.dropLast() }
        return String(path)
    }
}
