import FrostbyteCore
import FoundationEssentials
import Glibc
import FrostbyteCrypto
import FrostbyteArchive

/// Reads a few named files of a bundle (an archive or an extracted folder) without
/// extracting it: one streaming pass over the archive, everything else skipped.
/// Used by `inspect --sbom`, which is not a verification.
///
/// Guarantees: each file returned hashes to the SHA-256 that `manifest.files[]` lists
/// for its path (otherwise `BundleFileReadError.mismatch`); a wanted file the bundle
/// does not hold is simply absent from the result; nothing is written to disk.
public enum BundleFileReader {
    /// The largest file read into memory.
    public static let limit: Int64 = 64 << 20

    /// MANIFEST.json of the bundle file or folder at `path` (the archive's first entry).
    /// - Throws: `ManifestError`, `BundleFileReadError.noManifest`, `ArchiveReadError`, `FileReadError`.
    public static func manifest(path: String) throws -> Manifest {
        var info = stat()
        if stat(path, &info) == 0, info.st_mode & S_IFMT == S_IFDIR {
            return try ManifestCoding.decodeManifest(Data(contentsOf: URL(fileURLWithPath: PathText.join(path, "MANIFEST.json"))))
        }
        let reader = try ArchiveReader(path: path)
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 64)
        defer { buffer.deallocate() }
        while let header = try reader.nextEntry() {
            guard header.kind == .regular else { try reader.skipData(); continue }
            guard header.utf8Path?.hasSuffix("/MANIFEST.json") == true, header.size <= limit else { break }
            return try ManifestCoding.decodeManifest(try readAll(reader, buffer))
        }
        throw BundleFileReadError.noManifest(path: path)
    }

    /// The files of `wanted` (paths relative to the root folder) in the bundle at `path`.
    /// - Throws: `BundleFileReadError`, `ArchiveReadError`, `FileReadError`.
    public static func read(path: String, wanted: Set<String>, manifest: Manifest) throws -> [String: Data] {
        let listed = Dictionary(manifest.files.map { ($0.path, $0) }, uniquingKeysWith: { first, _ in first })
        var found: [String: Data] = [:]
        var info = stat()
        if stat(path, &info) == 0, info.st_mode & S_IFMT == S_IFDIR {
            for relative in wanted {
                let file = PathText.join(path, relative)
                var entry = stat()
                guard lstat(file, &entry) == 0, entry.st_mode & S_IFMT == S_IFREG, entry.st_size <= limit else { continue }
                found[relative] = try Data(contentsOf: URL(fileURLWithPath: file))
            }
        } else {
            let reader = try ArchiveReader(path: path)
            let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 64)
            defer { buffer.deallocate() }
            while found.count < wanted.count, let header = try reader.nextEntry() {
                guard let text = header.utf8Path, header.kind == .regular, header.size <= limit,
                      let slash = text.firstIndex(of: "/"), wanted.contains(String(text[text.index(after: slash)...]))
                else { try reader.skipData(); continue }
                found[String(text[text.index(after: slash)...])] = try readAll(reader, buffer)
            }
        }
        for (relative, data) in found {
            let digest = SHA256Hasher.hash(data)
            guard listed[relative]?.sha256 == digest else {
                throw BundleFileReadError.mismatch(path: relative, expected: listed[relative]?.sha256?.hex, actual: digest.hex)
            }
        }
        return found
    }

    /// The rest of the current entry's data.
    private static func readAll(_ reader: ArchiveReader, _ buffer: UnsafeMutableRawBufferPointer) throws -> Data {
        var data = Data()
        while true {
            let count = try reader.readData(into: buffer)
            if count == 0 { return data }
            data.append(contentsOf: UnsafeRawBufferPointer(rebasing: buffer[0..<count]))
        }
    }
}

/// A file `BundleFileReader` read does not match MANIFEST.json.
public enum BundleFileReadError: UserFacingError, Equatable {
    case mismatch(path: String, expected: String?, actual: String)
    case noManifest(path: String)

    public var message: String {
        switch self {
        case .mismatch(let path, let expected, let actual):
            return "\(path) in the bundle hashes to \(actual), but MANIFEST.json lists \(expected ?? "no such file"); "
                + "the bundle is damaged or altered: run verify-bundle"
        case .noManifest(let path):
            return "\(path) has no MANIFEST.json as its first file; it is not a bundle (run verify-bundle)"
        }
    }

    public var exitStatus: ExitStatus { .checkFailed }
}
