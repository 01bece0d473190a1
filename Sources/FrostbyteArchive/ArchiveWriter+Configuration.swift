import FrostbyteCore
import FoundationEssentials
import Glibc

/// How a bundle's tar stream is compressed. Every parameter that changes the output
/// bytes is fixed here, so the same entries always give the same file.
public enum ArchiveCompression: Sendable, Equatable, CustomStringConvertible {
    /// Plain pax tar (`.tar`).
    case none
    /// zstd at `level` (1...19), always with `ArchiveCompression.zstdThreads` workers.
    case zstd(level: Int)

    /// The default: zstd level 3.
    public static let standard = ArchiveCompression.zstd(level: 3)

    /// zstd worker threads. libzstd's multi-threaded mode (>= 1 worker) gives the same
    /// bytes for any worker count with a fixed job size, but 0 (single-threaded mode)
    /// gives other bytes, so a value >= 1 is part of the format's determinism.
    public static let zstdThreads = 2

    /// Valid zstd levels for bundles (the long-range/ultra levels are not used).
    public static let zstdLevels = 1...19

    /// File name suffix of a bundle written with this compression.
    public var fileExtension: String {
        switch self {
        case .none: return ".tar"
        case .zstd: return ".tar.zst"
        }
    }

    public var description: String {
        switch self {
        case .none: return "none"
        case .zstd(let level): return "zstd level \(level), \(Self.zstdThreads) threads, 4 MiB jobs, checksum"
        }
    }
}

/// Failures writing an archive. Each carries libarchive's own message and, where
/// there is one, the entry being written.
public enum ArchiveWriteError: UserFacingError, Equatable {
    /// libarchive refused an operation (`operation` says which) with `detail`.
    case libarchive(operation: String, entry: String?, detail: String)
    /// libzstd refused an operation with `detail` (its `ZSTD_getErrorName`).
    case zstd(operation: String, detail: String)
    /// The entry path is empty, absolute, contains `..` or empty components, or is not UTF-8.
    case invalidPath(String)
    /// A source file changed size or disappeared between hashing and writing.
    case sourceChanged(path: String, detail: String)
    /// The writer was used after `finish()` or after a failure.
    case closed

    public var message: String {
        switch self {
        case .libarchive(let operation, let entry, let detail):
            let at = entry.map { " (entry \($0))" } ?? ""
            return "writing the archive failed while trying to \(operation)\(at): \(detail)"
        case .zstd(let operation, let detail):
            return "zstd compression of the archive failed while trying to \(operation): \(detail) (bundles need libzstd1 1.4 or later with multi-threading, and about 20 MiB of memory for it)"
        case .invalidPath(let path):
            return "'\(path)' cannot be stored in a bundle: paths must be relative UTF-8 without '..' or empty components"
        case .sourceChanged(let path, let detail):
            return "\(path) changed while the bundle was being written (\(detail)); make sure nothing modifies the inputs during 'build' and run it again"
        case .closed:
            return "internal error: the archive writer was used after it was finished"
        }
    }

    public var exitStatus: ExitStatus {
        switch self {
        case .invalidPath, .sourceChanged: return .badInput
        case .libarchive, .zstd, .closed: return .environment
        }
    }
}

/// Permission bits bundle format v1 allows.
public enum EntryMode: UInt32, Sendable, Codable, CaseIterable {
    /// Regular file, not executable.
    case file = 0o644
    /// Executable file or directory.
    case executable = 0o755

    /// "0644" / "0755", as MANIFEST.json writes it.
    public var octal: String { self == .file ? "0644" : "0755" }

    /// 0755 when any execute bit of `permissions` is set, else 0644.
    public init(fromPermissions permissions: UInt32) {
        self = permissions & 0o111 != 0 ? .executable : .file
    }
}
