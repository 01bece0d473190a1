import FrostbyteCore
import FrostbyteArchive
import FoundationEssentials
import Glibc

/// MANIFEST.json read from the head of a bundle without a full pass: from a bundle
/// file (its first entry, after at most the root folder's), an extracted bundle
/// folder, a split bundle's `.parts.json` (from its first part), or a MANIFEST.json
/// file given directly. Not a verification: the exact bytes are returned so that a
/// caller can hash or check a signature over them.
public enum BundleHead {
    /// The largest manifest read (a manifest lists files; it is never huge).
    public static let manifestLimit = 16 << 20

    /// The manifest at `path` and its exact bytes.
    /// - Throws: `BundleInputError` (missing, empty, not a bundle), `ManifestError`.
    public static func manifest(at path: String) throws -> (manifest: Manifest, bytes: Data) {
        var info = stat()
        guard stat(path, &info) == 0 else { throw BundleInputError.notFound(path: path) }
        let bytes: Data
        if info.st_mode & S_IFMT == S_IFDIR {
            bytes = try readFile(PathText.join(path, "MANIFEST.json"), bundle: path)
        } else if path.hasSuffix(".json") && !SplitPartsIndex.isIndexPath(path) {
            bytes = try readFile(path, bundle: path)
        } else {
            guard info.st_size > 0 else { throw BundleInputError.emptyFile(path: path) }
            bytes = try readFirstEntry(path)
        }
        return (try ManifestCoding.decodeManifest(bytes), bytes)
    }

    private static func readFile(_ file: String, bundle: String) throws -> Data {
        var info = stat()
        guard stat(file, &info) == 0, info.st_mode & S_IFMT == S_IFREG, info.st_size <= manifestLimit,
              let data = FileManager.default.contents(atPath: file) else {
            throw BundleInputError.notABundle(path: bundle, reason: "it has no readable MANIFEST.json")
        }
        return data
    }

    private static func readFirstEntry(_ path: String) throws -> Data {
        do {
            let reader = try ArchiveReader.openBundle(path: path)
            for _ in 0..<2 {
                guard let header = try reader.nextEntry() else { break }
                guard header.kind == .regular, let entryPath = header.utf8Path,
                      entryPath.split(separator: "/").count == 2, entryPath.hasSuffix("/MANIFEST.json") else { continue }
                guard header.size <= manifestLimit else {
                    throw BundleInputError.notABundle(path: path, reason: "its MANIFEST.json is over \(manifestLimit) bytes")
                }
                var data = Data()
                let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 16, alignment: 16)
                defer { buffer.deallocate() }
                while true {
                    let count = try reader.readData(into: buffer)
                    if count == 0 { break }
                    data.append(contentsOf: UnsafeRawBufferPointer(rebasing: buffer[0..<count]))
                    guard data.count <= manifestLimit else {
                        throw BundleInputError.notABundle(path: path, reason: "its MANIFEST.json is larger than declared")
                    }
                }
                return data
            }
        } catch let error as ArchiveReadError {
            throw BundleInputError.notABundle(path: path, reason: error.message)
        } catch let error as SplitPartFailure {
            throw BundleInputError.notABundle(path: path, reason: error.message)
        }
        throw BundleInputError.notABundle(path: path, reason: "it does not start with MANIFEST.json")
    }
}
