import FrostbyteCore
import FrostbyteArchive
import FoundationEssentials
import Glibc

/// The head of a bundle read without a full pass: MANIFEST.json and, when they follow
/// it, MANIFEST.json.sig and SHA256SUMS, from a bundle file (its first entries, after
/// at most the root folder's), an extracted bundle folder, or a split bundle's
/// `.parts.json` (from its first part). The one head reader: `manifest(at:)` (a delta's
/// base, the installer's peek) and `BundleVerifier.inspect` both use it. Not a
/// verification: the exact bytes are returned so that a caller can hash or check a
/// signature over them.
public enum BundleHead {
    /// The largest head file read (a manifest lists files; it is never huge).
    public static let manifestLimit = 16 << 20
    /// The files a bundle starts with, in this order.
    static let files: Set<String> = ["MANIFEST.json", "MANIFEST.json.sig", "SHA256SUMS"]

    /// The manifest at `path` (a bundle file, folder or `.parts.json`, or a MANIFEST.json
    /// file given directly) and its exact bytes.
    /// - Throws: `BundleInputError` (missing, empty, not a bundle), `ManifestError`.
    public static func manifest(at path: String) throws -> (manifest: Manifest, bytes: Data) {
        var info = stat()
        guard stat(path, &info) == 0 else { throw BundleInputError.notFound(path: path) }
        let bytes: Data
        if info.st_mode & S_IFMT == S_IFDIR {
            guard let data = (try? folderFiles(path))?["MANIFEST.json"] else {
                throw BundleInputError.notABundle(path: path, reason: "it has no readable MANIFEST.json")
            }
            bytes = data
        } else if path.hasSuffix(".json") && !SplitPartsIndex.isIndexPath(path) {
            guard info.st_mode & S_IFMT == S_IFREG, info.st_size <= manifestLimit,
                  let data = FileManager.default.contents(atPath: path) else {
                throw BundleInputError.notABundle(path: path, reason: "it has no readable MANIFEST.json")
            }
            bytes = data
        } else {
            guard info.st_size > 0 else { throw BundleInputError.emptyFile(path: path) }
            let files: [String: Data]
            do {
                files = try archiveFiles(path)
            } catch let error as ArchiveReadError {
                throw BundleInputError.notABundle(path: path, reason: error.message)
            } catch let error as SplitPartFailure {
                throw BundleInputError.notABundle(path: path, reason: error.message)
            }
            guard let data = files["MANIFEST.json"] else {
                throw BundleInputError.notABundle(path: path, reason: "it does not start with MANIFEST.json")
            }
            bytes = data
        }
        return (try ManifestCoding.decodeManifest(bytes), bytes)
    }

    /// The head files at the start of the bundle archive at `path` (a file or a split
    /// bundle's `.parts.json`, whose parts must all be present with their sizes), by
    /// their name inside the root folder. Reading stops at the first other entry.
    /// - Throws: `BundleInputError.notABundle` for a MANIFEST.json over `manifestLimit`;
    ///   `ArchiveReadError`, `SplitPartFailure`, `SplitIndexError`, `FileReadError` as the
    ///   reader throws them (the caller decides what they mean).
    static func archiveFiles(_ path: String) throws -> [String: Data] {
        let reader = try ArchiveReader.openBundle(path: path)
        var files: [String: Data] = [:]
        var root: String?
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 256 << 10, alignment: 64)
        defer { buffer.deallocate() }
        while let header = try reader.nextEntry() {
            guard case .success(let place) = EntryRules.place(of: header, root: root, hasRootFolder: true) else { break }
            if root == nil, let text = header.utf8Path { root = String(text.split(separator: "/").first ?? "") }
            guard case .inside(let relative) = place else { continue }
            guard Self.files.contains(relative), header.kind == .regular else { break }
            guard header.size <= manifestLimit else {
                if relative == "MANIFEST.json" {
                    throw BundleInputError.notABundle(path: path, reason: "its MANIFEST.json is over \(manifestLimit) bytes")
                }
                break
            }
            var data = Data()
            while true {
                let count = try reader.readData(into: buffer)
                if count == 0 { break }
                data.append(contentsOf: UnsafeRawBufferPointer(rebasing: buffer[0..<count]))
            }
            files[relative] = data
            if relative == "SHA256SUMS" { break }
        }
        return files
    }

    /// The head files of the extracted bundle folder at `path`: regular files only
    /// (a symlink is not followed), each at most `manifestLimit` bytes.
    static func folderFiles(_ path: String) throws -> [String: Data] {
        var files: [String: Data] = [:]
        for name in Self.files {
            let file = PathText.join(path, name)
            var info = stat()
            guard lstat(file, &info) == 0, info.st_mode & S_IFMT == S_IFREG, info.st_size <= manifestLimit else { continue }
            files[name] = try Data(contentsOf: URL(fileURLWithPath: file))
        }
        return files
    }
}
