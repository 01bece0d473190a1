import FrostbyteCrypto
import FrostbyteArchive
import FoundationEssentials
import Glibc

/// One input of a bundle: a file, in-memory bytes or an (empty) folder, stored at
/// `path` relative to the bundle's root folder.
public struct BundleEntry: Sendable, Equatable {
    /// Where the bytes come from.
    public enum Source: Sendable, Equatable {
        /// A regular file on disk, streamed when written.
        case file(String)
        /// A zstd file on disk whose decompressed bytes are the entry (a blob `build`
        /// staged compressed, `BlobFolder`); always handed over hashed.
        case zstdFile(String)
        /// Bytes held in memory (small generated files: the compose file, ...).
        case data(Data)
        /// A folder entry; parents of files get one automatically.
        case directory
    }

    public var path: String
    public var source: Source
    public var mode: EntryMode
    /// Digest and size when already known (a file hashed while it was staged);
    /// otherwise `BundleWriter.hash` computes them.
    public var digest: SHA256Digest?
    public var size: Int64?
    /// Delta bundles: the base already has this file, so the manifest lists it
    /// (`in_base`) and the archive leaves it out.
    public var inBase: Bool = false

    public init(path: String, source: Source, mode: EntryMode = .file,
                digest: SHA256Digest? = nil, size: Int64? = nil) {
        self.path = path; self.source = source; self.mode = mode; self.digest = digest; self.size = size
    }

    /// True once digest and size are known (always for folders).
    public var isHashed: Bool {
        if case .directory = source { return true }
        return digest != nil && size != nil
    }

    /// The manifest's record of this entry; call after hashing.
    public var manifestFile: Manifest.File {
        if case .directory = source {
            return Manifest.File(path: path, sha256: nil, size: 0, mode: EntryMode.executable.octal)
        }
        return Manifest.File(path: path, sha256: digest, size: size ?? 0, mode: mode.octal, inBase: inBase ? true : nil)
    }
}

/// The entry order of bundle formats v1 and v2 (docs/FORMAT.md): after MANIFEST.json,
/// MANIFEST.json.sig and SHA256SUMS come all other entries sorted by path (bytewise
/// UTF-8, so a folder precedes its contents), except that the `models/` and then the
/// `images/` subtrees go last: big files at the end, small ones first. In v2 the
/// `images/` subtree holds its folders first, then the blobs in the order the
/// manifest's `blobs[]` gives, then its other files (index.json, oci-layout).
public enum BundleLayout {
    /// Written by the builder, never taken from inputs.
    public static let metaFiles = ["MANIFEST.json", "MANIFEST.json.sig", "SHA256SUMS"]
    /// Folders written after everything else, in this order (`sbom/` after `images/`:
    /// `build` writes the SBOMs from the image layers once they have streamed; then
    /// `provenance/`, which names the digest of every other file).
    public static let trailingSections = ["models", "images", "sbom", "provenance"]

    /// True for `images/` and every path under it (v1 archives, the v2 layout): what an
    /// installed release leaves to the engine.
    public static func isImagesEntry(_ path: String) -> Bool {
        path == "images" || path.hasPrefix("images/")
    }

    /// Adds the folder entries every path implies, checks paths, and sorts.
    /// - Parameter blobOrder: v2: the blob paths in `blobs[]` order; nil for v1.
    /// - Throws: `ArchiveWriteError.invalidPath`, `BundleWriteError.duplicatePath`,
    ///   `.reservedPath`, `.fileFolderClash`.
    public static func plan(_ entries: [BundleEntry], blobOrder: [String]? = nil) throws -> [BundleEntry] {
        var byPath: [String: BundleEntry] = [:]
        for entry in entries {
            guard ArchiveWriter.isValidPath(entry.path) else { throw ArchiveWriteError.invalidPath(entry.path) }
            if metaFiles.contains(entry.path) { throw BundleWriteError.reservedPath(entry.path) }
            if let existing = byPath[entry.path] {
                if existing.source == .directory && entry.source == .directory { continue }
                throw existing.source == .directory || entry.source == .directory
                    ? BundleWriteError.fileFolderClash(entry.path) : BundleWriteError.duplicatePath(entry.path)
            }
            byPath[entry.path] = entry
        }
        for entry in entries {
            var parts = entry.path.split(separator: "/").dropLast()
            while !parts.isEmpty {
                let parent = parts.joined(separator: "/")
                if let existing = byPath[parent] {
                    guard existing.source == .directory else { throw BundleWriteError.fileFolderClash(parent) }
                } else {
                    byPath[parent] = BundleEntry(path: parent, source: .directory, mode: .executable)
                }
                parts = parts.dropLast()
            }
        }
        let rank = blobOrder.map { order in
            Dictionary(order.enumerated().map { ($1, $0) }, uniquingKeysWith: { first, _ in first })
        }
        let keys = Dictionary(uniqueKeysWithValues: byPath.values.map {
            ($0.path, orderKey($0.path, isFolder: $0.source == .directory, rank))
        })
        return byPath.values.sorted { keys[$0.path]! < keys[$1.path]! }
    }

    /// (section, rank, path bytes): section 0 for ordinary entries, 1 + index for
    /// trailing sections. v2 (`rank` given) orders the images section: folders, then
    /// blobs by rank, then its other files.
    private static func orderKey(_ path: String, isFolder: Bool, _ rank: [String: Int]?) -> OrderKey {
        let top = path.split(separator: "/", maxSplits: 1).first.map(String.init) ?? path
        let section = trailingSections.firstIndex(of: top).map { $0 + 1 } ?? 0
        var position = 0
        if let rank, top == "images" {
            position = isFolder ? -1 : rank[path] ?? Int.max
        }
        return OrderKey(section: section, rank: position, path: Array(path.utf8))
    }

    private struct OrderKey: Comparable {
        var section: Int
        var rank: Int
        var path: [UInt8]
        static func < (lhs: OrderKey, rhs: OrderKey) -> Bool {
            if lhs.section != rhs.section { return lhs.section < rhs.section }
            if lhs.rank != rhs.rank { return lhs.rank < rhs.rank }
            return lhs.path.lexicographicallyPrecedes(rhs.path)
        }
    }
}
