import FrostbyteCrypto
import FoundationEssentials
import Glibc

/// What is wrong with a nested `docker save` archive.
public enum ImageArchiveProblem: Error, Sendable, Equatable, CustomStringConvertible {
    case notATar(detail: String)
    case noManifest
    case badManifest(detail: String)
    case configMissing(path: String)
    case layerMissing(path: String)
    case blobDigestMismatch(path: String, actual: String)

    public var description: String {
        switch self {
        case .notATar(let detail): return "is not a docker save archive (\(detail))"
        case .noManifest: return "is not a docker save archive: it has neither manifest.json nor index.json"
        case .badManifest(let detail): return "has an unusable docker manifest: \(detail)"
        case .configMissing(let path): return "lacks the image config \(path) its manifest names (or it is over 4 MiB)"
        case .layerMissing(let path): return "lacks the layer \(path) its manifest names"
        case .blobDigestMismatch(let path, let actual): return "holds blob \(path) whose content hashes to \(actual)"
        }
    }
}

/// The facts read out of a `docker save` archive.
public struct ImageArchiveSummary: Sendable, Equatable {
    public enum Layout: String, Sendable { case dockerLegacy = "docker-legacy", oci }
    public var layout: Layout
    /// `sha256:` + SHA-256 of the image config JSON, i.e. the image ID `docker load` reports.
    public var configDigest: String
    public var repoTags: [String]
    public var layerCount: Int
    /// The digests index.json names (empty without an index.json): the manifest or
    /// index digest the containerd image store reports as the image ID.
    public var manifestDigests: [String] = []
    /// The config's `rootfs.diff_ids`: the layers' identity on every image store.
    public var diffIDs: [String] = []
}

/// Reads a `docker save` archive in one forward pass, without Docker and without
/// keeping layers: every small entry is hashed as it passes (legacy archives put
/// manifest.json at the end, after the config it names), small JSON documents are
/// kept (bounded), and the references are resolved at the end. Supports the legacy
/// layout (`manifest.json`, `<id>.json`, `<layer>/layer.tar`) and the OCI layout of
/// newer engines (`index.json`, `blobs/sha256/<hex>`, plus a compatible manifest.json).
public enum ImageArchiveInspector {
    /// Entries up to this size are hashed (image configs are a few KiB).
    static let hashLimit: Int64 = 4 << 20
    /// JSON entries up to this size are kept for parsing, up to `keepBudget` in total.
    static let keepLimit: Int64 = 1 << 20
    static let keepBudget = 16 << 20

    /// Inspects the archive whose raw bytes come from `source` (plain tar only).
    public static func inspect(_ source: ArchiveByteSource) -> Result<ImageArchiveSummary, ImageArchiveProblem> {
        var digests: [String: SHA256Digest] = [:]
        var kept: [String: Data] = [:]
        var paths = Set<String>()
        var keptBytes = 0
        do {
            let reader = try ArchiveReader(source: source, allowsCompression: false)
            let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 256 << 10, alignment: 64)
            defer { buffer.deallocate() }
            while let header = try reader.nextEntry() {
                let path = DockerArchive.normalize(header.displayPath)
                paths.insert(path)
                guard header.kind == .regular, header.size <= hashLimit else {
                    try reader.skipData()
                    continue
                }
                let hasher = SHA256Hasher()
                var data = Data()
                var keep = header.size <= keepLimit && keptBytes + Int(header.size) <= keepBudget
                while true {
                    let count = try reader.readData(into: buffer)
                    if count == 0 { break }
                    let chunk = UnsafeRawBufferPointer(rebasing: buffer[0..<count])
                    hasher.update(chunk)
                    if keep && data.isEmpty, let first = chunk.first, first != UInt8(ascii: "{"), first != UInt8(ascii: "[") {
                        keep = false
                    }
                    if keep { data.append(contentsOf: chunk) }
                }
                digests[path] = hasher.finalize()
                if keep && !data.isEmpty {
                    keptBytes += data.count
                    kept[path] = data
                }
            }
            try reader.finish()
        } catch let error as ArchiveReadError {
            return .failure(.notATar(detail: error.problem))
        } catch {
            return .failure(.notATar(detail: "\(error)"))
        }
        return resolve(digests: digests, kept: kept, paths: paths)
    }


    private static func resolve(digests: [String: SHA256Digest], kept: [String: Data], paths: Set<String>)
        -> Result<ImageArchiveSummary, ImageArchiveProblem>
    {
        var result: Result<ImageArchiveSummary, ImageArchiveProblem>
        if let manifest = kept["manifest.json"] {
            result = resolveDockerManifest(manifest, digests: digests, paths: paths)
        } else if let index = kept["index.json"] {
            result = resolveOCIIndex(index, digests: digests, kept: kept, paths: paths)
        } else if paths.contains("manifest.json") {
            return .failure(.badManifest(detail: "manifest.json is not a small JSON document"))
        } else {
            return .failure(.noManifest)
        }
        if case .success(var summary) = result {
            if let index = kept["index.json"], let parsed = try? JSONDecoder().decode(OCIIndex.self, from: index) {
                summary.manifestDigests = parsed.manifests.map(\.digest)
            }
            if let path = blobPathOrLegacy(summary.configDigest, kept: kept),
               let config = try? JSONDecoder().decode(ImageConfig.self, from: kept[path]!) {
                summary.diffIDs = config.rootfs?.diffIDs ?? []
            }
            result = .success(summary)
        }
        return result
    }

    private struct ImageConfig: Decodable {
        struct RootFS: Decodable {
            var diffIDs: [String]?
            enum CodingKeys: String, CodingKey { case diffIDs = "diff_ids" }
        }
        var rootfs: RootFS?
    }

    /// The kept entry holding the config whose digest is `digest`: `blobs/sha256/<hex>`
    /// (OCI) or `<hex>.json` (legacy).
    private static func blobPathOrLegacy(_ digest: String, kept: [String: Data]) -> String? {
        let hex = String(digest.dropFirst("sha256:".count))
        return ["blobs/sha256/\(hex)", "\(hex).json"].first { kept[$0] != nil }
    }


    private static func resolveDockerManifest(_ data: Data, digests: [String: SHA256Digest], paths: Set<String>)
        -> Result<ImageArchiveSummary, ImageArchiveProblem>
    {
        let entries: [DockerArchive.ManifestEntry]
        do {
            entries = try JSONDecoder().decode([DockerArchive.ManifestEntry].self, from: data)
        } catch {
            return .failure(.badManifest(detail: "manifest.json: \(error)"))
        }
        guard entries.count == 1, let entry = entries.first else {
            return .failure(.badManifest(detail: "manifest.json lists \(entries.count) images; a bundle image archive holds exactly one"))
        }
        let configPath = DockerArchive.normalize(entry.config)
        guard let digest = digests[configPath] else { return .failure(.configMissing(path: configPath)) }
        if let problem = checkBlobName(configPath, digest) { return .failure(problem) }
        for layer in entry.layers where !paths.contains(DockerArchive.normalize(layer)) {
            return .failure(.layerMissing(path: layer))
        }
        let layout: ImageArchiveSummary.Layout = configPath.hasPrefix("blobs/") ? .oci : .dockerLegacy
        return .success(ImageArchiveSummary(
            layout: layout, configDigest: "sha256:\(digest.hex)", repoTags: entry.repoTags ?? [],
            layerCount: entry.layers.count))
    }

    private struct Descriptor: Decodable { var digest: String }
    private struct OCIIndex: Decodable { var manifests: [Descriptor] }
    private struct OCIManifest: Decodable { var config: Descriptor; var layers: [Descriptor] }

    private static func resolveOCIIndex(_ data: Data, digests: [String: SHA256Digest], kept: [String: Data],
                                        paths: Set<String>) -> Result<ImageArchiveSummary, ImageArchiveProblem>
    {
        guard let index = try? JSONDecoder().decode(OCIIndex.self, from: data) else {
            return .failure(.badManifest(detail: "index.json is not an OCI image index"))
        }
        guard index.manifests.count == 1, let manifestPath = blobPath(index.manifests[0].digest) else {
            return .failure(.badManifest(detail: "index.json must name exactly one sha256 image manifest"))
        }
        guard let manifestData = kept[manifestPath], let manifestDigest = digests[manifestPath],
              let manifest = try? JSONDecoder().decode(OCIManifest.self, from: manifestData) else {
            return .failure(.badManifest(detail: "image manifest \(manifestPath) is missing or not JSON"))
        }
        if let problem = checkBlobName(manifestPath, manifestDigest) { return .failure(problem) }
        guard let configPath = blobPath(manifest.config.digest) else {
            return .failure(.badManifest(detail: "config digest \(manifest.config.digest) is not sha256"))
        }
        guard let configDigest = digests[configPath] else { return .failure(.configMissing(path: configPath)) }
        if let problem = checkBlobName(configPath, configDigest) { return .failure(problem) }
        for layer in manifest.layers {
            guard let path = blobPath(layer.digest), paths.contains(path) else {
                return .failure(.layerMissing(path: layer.digest))
            }
        }
        return .success(ImageArchiveSummary(
            layout: .oci, configDigest: "sha256:\(configDigest.hex)", repoTags: [],
            layerCount: manifest.layers.count))
    }

    /// `sha256:<hex>` → `blobs/sha256/<hex>`.
    private static func blobPath(_ digest: String) -> String? {
        guard digest.hasPrefix("sha256:"), SHA256Digest(hex: String(digest.dropFirst(7))) != nil else { return nil }
        return "blobs/sha256/" + digest.dropFirst(7).lowercased()
    }

    /// A content-addressed blob must hash to its own name.
    private static func checkBlobName(_ path: String, _ digest: SHA256Digest) -> ImageArchiveProblem? {
        guard path.hasPrefix("blobs/sha256/") else { return nil }
        let name = String(path.dropFirst("blobs/sha256/".count))
        return name == digest.hex ? nil : .blobDigestMismatch(path: path, actual: "sha256:\(digest.hex)")
    }
}
