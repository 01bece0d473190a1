import FrostbyteCore
import FrostbyteCrypto
import FrostbyteArchive
import FoundationEssentials
import Glibc

/// One image taken apart into blobs by `ImageBlobExtractor`.
public struct ExtractedImage: Sendable, Equatable {
    /// The tags the archive's manifest.json gives the image.
    public var repoTags: [String]
    /// The config blob; its digest is the image ID graphdriver engines report.
    public var config: Manifest.Blob
    /// The layer blobs in order, uncompressed: each digest is the layer's diff ID.
    public var layers: [Manifest.Blob]
    /// The digests the archive's own index.json names (engines 25+): what the
    /// containerd store that saved it reports as the image ID. Empty for 20.10 saves.
    public var savedIndexDigests: [String]

    public init(repoTags: [String], config: Manifest.Blob, layers: [Manifest.Blob], savedIndexDigests: [String]) {
        self.repoTags = repoTags; self.config = config; self.layers = layers; self.savedIndexDigests = savedIndexDigests
    }
}

/// Takes a `docker save` archive apart into content-addressed blobs, in one
/// streaming pass: every regular entry is hashed while it is written into a
/// `BlobFolder` (small ones are held in memory until the archive's manifest.json,
/// which legacy archives put last, says which are needed), and each blob is stored
/// once whatever images share it. Reads the legacy layout (Engine 20.10:
/// `<id>/layer.tar`, `<hex>.json`) and the OCI layout with manifest.json of engines
/// 25+ (`blobs/sha256/<hex>`, symlinks from the legacy names). Memory stays bounded
/// by `keepBudget` whatever the layer sizes.
public enum ImageBlobExtractor {
    /// Entries up to this size are held in memory (configs, manifests, small layers).
    static let keepLimit: Int64 = 4 << 20
    /// At most this much is held in memory in total; beyond it entries go to disk.
    static let keepBudget = 32 << 20

    /// What went wrong, as one sentence after "the image archive ...".
    public enum Problem: Error, Sendable, Equatable, CustomStringConvertible {
        case unreadable(String)
        case noManifest
        case badManifest(String)
        case missingEntry(String)
        case digestMismatch(path: String, actual: String)
        case compressedLayer(index: Int, path: String)
        case layerCountMismatch(config: Int, manifest: Int)

        public var description: String {
            switch self {
            case .unreadable(let detail): return "is not a docker save archive (\(detail))"
            case .noManifest: return "has no manifest.json (it is not a docker save archive)"
            case .badManifest(let detail): return "has an unusable manifest.json: \(detail)"
            case .missingEntry(let path): return "lacks \(path), which its manifest.json names"
            case .digestMismatch(let path, let actual): return "holds \(path), whose content hashes to \(actual)"
            case .compressedLayer(let index, let path):
                return "has layer \(index + 1) (\(path)) compressed; format v2 stores layers uncompressed, "
                    + "so use --format v1, or build from an engine that hands it out uncompressed (the overlay2 "
                    + "graph driver does; the containerd image store keeps the layers of images built or imported "
                    + "there compressed, docs/ENGINES.md)"
            case .layerCountMismatch(let config, let manifest):
                return "names \(manifest) layers in manifest.json but its config lists \(config) diff_ids"
            }
        }
    }

    /// One regular entry seen in the archive.
    private struct Seen {
        var digest: String
        var size: Int64
        var data: Data?
        var file: String?
        /// The file holds the bytes zstd-compressed (`stagingLevel`).
        var compressed = false
    }

    /// zstd level of a blob that `extractAll` stages compressed: fast, the bytes are
    /// compressed again (at the bundle's level) when their turn comes.
    static let stagingLevel = 1

    /// Reads the archive whose raw (plain tar) bytes come from `source`, storing the
    /// blobs the image needs into `blobs`. `observer`, when given, sees every regular
    /// entry's bytes as they stream by (the same pass: nothing is read twice).
    /// - Throws: `BundleWriteError.writeFailed` (disk), `FileReadError` (source).
    /// - Returns: the image, or the problem that makes the archive unusable.
    public static func extract(_ source: ArchiveByteSource, into blobs: BlobFolder,
                               observer: ArchiveEntryObserver? = nil) throws
        -> Result<ExtractedImage, Problem>
    {
        var seen: [String: Seen] = [:]
        defer { for entry in seen.values { if let file = entry.file { unlink(file) } } }
        var links: [String: String] = [:]
        let entries: [DockerArchive.ManifestEntry]
        switch try readManifest(source, blobs: blobs, observer: observer, seen: &seen, links: &links,
                                storeAtOnce: false, completed: { _ in }) {
        case .success(let found): entries = found
        case .failure(let problem): return .failure(problem)
        }
        guard entries.count == 1, let entry = entries.first else {
            return .failure(.badManifest("it lists \(entries.count) images; a bundle image archive holds exactly one"))
        }
        return try resolveImage(entry, seen: &seen, links: links, blobs: blobs)
    }

    /// One blob `extractAll` has stored: its digest and size, and its bytes when it is
    /// small enough to be held in memory (configs).
    public struct StoredBlob: Sendable {
        public var digest: String
        public var size: Int64
        public var data: Data?
    }

    /// Reads an archive of any number of images (one `docker save A B ...`) in one
    /// streaming pass, storing every regular entry into `blobs` by its digest as soon
    /// as it is complete and telling `stored` (so a caller can pack the blobs of an
    /// image whose config and layers are all in, while the rest still streams). Each
    /// blob is stored once whatever images share it; entries no image needs stay in
    /// `blobs` until it is removed. At the end every image of manifest.json is checked
    /// as `extract` checks its one image (config and layers present, layers matching
    /// the config's diff IDs).
    /// - Throws: `BundleWriteError.writeFailed` (disk), `FileReadError` (source), or
    ///   what `stored` throws.
    /// - Returns: the images in manifest.json order, or the problem that makes the
    ///   archive unusable.
    public static func extractAll(_ source: ArchiveByteSource, into blobs: BlobFolder,
                                  observer: ArchiveEntryObserver? = nil,
                                  stored: (StoredBlob) throws -> Void) throws -> Result<[ExtractedImage], Problem>
    {
        var seen: [String: Seen] = [:]
        defer { for entry in seen.values { if let file = entry.file { unlink(file) } } }
        var links: [String: String] = [:]
        let entries: [DockerArchive.ManifestEntry]
        switch try readManifest(source, blobs: blobs, observer: observer, seen: &seen, links: &links,
                                storeAtOnce: true, completed: stored) {
        case .success(let found): entries = found
        case .failure(let problem): return .failure(problem)
        }
        guard !entries.isEmpty else { return .failure(.badManifest("it lists no image")) }
        var images: [ExtractedImage] = []
        for entry in entries {
            switch try resolveImage(entry, seen: &seen, links: links, blobs: blobs) {
            case .success(let image): images.append(image)
            case .failure(let problem): return .failure(problem)
            }
        }
        return .success(images)
    }

    /// The streaming pass: every regular entry hashed (and shown to `observer`) into
    /// `seen`, small ones in memory, the rest in temporary files of `blobs`; with
    /// `storeAtOnce`, each entry is stored into `blobs` by its digest as soon as it is
    /// complete and `completed` hears of it. Returns the problem when the bytes are not
    /// a tar archive.
    private static func readEntries(_ source: ArchiveByteSource, blobs: BlobFolder, observer: ArchiveEntryObserver?,
                                    seen: inout [String: Seen], links: inout [String: String], storeAtOnce: Bool,
                                    completed: (StoredBlob) throws -> Void) throws -> Problem?
    {
        var keptBytes = 0
        var largest: Int64 = 0
        do {
            let reader = try ArchiveReader(source: source, allowsCompression: false)
            let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 64)
            defer { buffer.deallocate() }
            while let header = try reader.nextEntry() {
                let path = DockerArchive.normalize(header.displayPath)
                switch header.kind {
                case .symlink:
                    if let target = header.linkTarget { links[path] = resolve(target, from: path) }
                    try reader.skipData()
                case .regular:
                    let keep = header.size <= keepLimit && keptBytes + Int(header.size) <= keepBudget
                    // Scratch disk (issue 25): at most the largest entry's bytes wait
                    // uncompressed; a blob beyond that is staged compressed.
                    largest = max(largest, header.size)
                    let compress = storeAtOnce && !keep && blobs.plainBytesHeld + header.size > largest
                    observer?.entryBegins(path: path, size: header.size)
                    var entry = try read(reader, buffer, keep: keep, compress: compress, blobs: blobs, observer: observer)
                    observer?.entryEnds(digest: entry.digest)
                    if let data = entry.data { keptBytes += data.count }
                    if let old = seen[path]?.file { unlink(old) }
                    if storeAtOnce {
                        if let file = entry.file {
                            entry.file = nil
                            try blobs.adopt(file, as: entry.digest, compressed: entry.compressed)
                        } else if let data = entry.data, !blobs.contains(entry.digest) {
                            try blobs.store(data)
                        }
                    }
                    seen[path] = entry
                    try completed(StoredBlob(digest: entry.digest, size: entry.size, data: entry.data))
                default:
                    try reader.skipData()
                }
            }
            try reader.finish()
        } catch let error as ArchiveReadError {
            return .unreadable(error.problem)
        }
        return nil
    }

    /// `readEntries`, then the archive's manifest.json entries.
    private static func readManifest(_ source: ArchiveByteSource, blobs: BlobFolder, observer: ArchiveEntryObserver?,
                                     seen: inout [String: Seen], links: inout [String: String], storeAtOnce: Bool,
                                     completed: (StoredBlob) throws -> Void) throws
        -> Result<[DockerArchive.ManifestEntry], Problem>
    {
        if let problem = try readEntries(source, blobs: blobs, observer: observer, seen: &seen, links: &links,
                                         storeAtOnce: storeAtOnce, completed: completed) {
            return .failure(problem)
        }
        guard let data = seen["manifest.json"]?.data else { return .failure(.noManifest) }
        do {
            return .success(try JSONDecoder().decode([DockerArchive.ManifestEntry].self, from: data))
        } catch {
            return .failure(.badManifest("\(error)"))
        }
    }

    private static func read(_ reader: ArchiveReader, _ buffer: UnsafeMutableRawBufferPointer, keep: Bool,
                             compress: Bool = false, blobs: BlobFolder, observer: ArchiveEntryObserver?) throws -> Seen {
        let hasher = SHA256Hasher()
        var data = Data()
        var size: Int64 = 0
        var file: String?
        var descriptor: Int32 = -1
        if !keep {
            let path = blobs.temporaryPath()
            descriptor = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
            guard descriptor >= 0 else {
                throw BundleWriteError.writeFailed(path: path, reason: String(cString: strerror(errno)))
            }
            file = path
        }
        defer { if descriptor >= 0 { close(descriptor) } }
        let compressor = compress && !keep
            ? try ZstdCompressor(level: stagingLevel, workers: 0, downstream: DescriptorOutput(descriptor: descriptor, path: file!))
            : nil
        do {
            while true {
                let count = try reader.readData(into: buffer)
                if count == 0 { break }
                let chunk = UnsafeRawBufferPointer(rebasing: buffer[0..<count])
                hasher.update(chunk)
                observer?.entryData(chunk)
                size += Int64(count)
                if keep {
                    data.append(contentsOf: chunk)
                } else if let compressor {
                    try compressor.write(chunk)
                } else if let reason = FileDescriptorIO.writeAll(descriptor, chunk) {
                    throw BundleWriteError.writeFailed(path: file!, reason: reason)
                }
            }
            try compressor?.finish()
        } catch {
            if let file { unlink(file) }
            throw error
        }
        return Seen(digest: hasher.finalize().prefixed, size: size, data: keep ? data : nil, file: file,
                    compressed: compressor != nil)
    }


    private static func resolveImage(_ entry: DockerArchive.ManifestEntry, seen: inout [String: Seen],
                                     links: [String: String], blobs: BlobFolder) throws
        -> Result<ExtractedImage, Problem>
    {
        func lookup(_ path: String) -> (String, Seen)? {
            var current = DockerArchive.normalize(path)
            for _ in 0..<8 {
                if let entry = seen[current] { return (current, entry) }
                guard let next = links[current] else { return nil }
                current = next
            }
            return nil
        }
        guard let (configPath, config) = lookup(entry.config), let configData = config.data else {
            return .failure(.missingEntry(entry.config))
        }
        if let problem = checkBlobName(configPath, config.digest) { return .failure(problem) }
        guard let diffIDs = OCILayout.parseDiffIDs(config: configData) else {
            return .failure(.badManifest("the config \(configPath) has no rootfs.diff_ids"))
        }
        guard diffIDs.count == entry.layers.count else {
            return .failure(.layerCountMismatch(config: diffIDs.count, manifest: entry.layers.count))
        }
        var layers: [(String, Seen)] = []
        for (index, layerPath) in entry.layers.enumerated() {
            guard let found = lookup(layerPath) else { return .failure(.missingEntry(layerPath)) }
            if let problem = checkBlobName(found.0, found.1.digest) { return .failure(problem) }
            guard found.1.digest == diffIDs[index] else { return .failure(.compressedLayer(index: index, path: layerPath)) }
            layers.append(found)
        }
        var indexDigests: [String] = []
        if let indexData = seen["index.json"]?.data, let index = OCILayout.parseIndex(indexData) {
            indexDigests = index.manifests.map(\.digest)
        }
        // Store what the image needs; the rest is dropped by the caller's defer.
        for (path, blob) in [(configPath, config)] + layers {
            if let file = blob.file {
                try blobs.adopt(file, as: blob.digest)
                seen[path]?.file = nil
            } else if let data = blob.data, !blobs.contains(blob.digest) {
                try blobs.store(data)
            }
        }
        return .success(ExtractedImage(
            repoTags: entry.repoTags ?? [],
            config: Manifest.Blob(digest: config.digest, size: config.size, mediaType: OCILayout.configMediaType),
            layers: layers.map { Manifest.Blob(digest: $0.1.digest, size: $0.1.size, mediaType: OCILayout.layerMediaType) },
            savedIndexDigests: indexDigests))
    }

    /// A content-addressed entry (`blobs/sha256/<hex>`, `<hex>.json`) must hash to its name.
    private static func checkBlobName(_ path: String, _ digest: String) -> Problem? {
        let name = URL(fileURLWithPath: path).lastPathComponent
        let hex = name.hasSuffix(".json") ? String(name.dropLast(5)) : name
        guard path.hasPrefix("blobs/sha256/") || (name.hasSuffix(".json") && SHA256Digest(hex: hex) != nil) else {
            return nil
        }
        return "sha256:" + hex == digest ? nil : .digestMismatch(path: path, actual: digest)
    }


    /// A symlink target relative to the link's folder, as an archive path.
    private static func resolve(_ target: String, from link: String) -> String {
        var parts = target.hasPrefix("/") ? [] : link.split(separator: "/").dropLast().map(String.init)
        for part in target.split(separator: "/") {
            if part == ".." { if !parts.isEmpty { parts.removeLast() } } else if part != "." { parts.append(String(part)) }
        }
        return parts.joined(separator: "/")
    }
}

/// A file descriptor as an `ArchiveOutput` (a blob staged compressed). Does not own it.
private final class DescriptorOutput: ArchiveOutput {
    let descriptor: Int32
    let path: String
    init(descriptor: Int32, path: String) { self.descriptor = descriptor; self.path = path }
    func write(_ bytes: UnsafeRawBufferPointer) throws {
        if let reason = FileDescriptorIO.writeAll(descriptor, bytes) {
            throw BundleWriteError.writeFailed(path: path, reason: reason)
        }
    }
}
