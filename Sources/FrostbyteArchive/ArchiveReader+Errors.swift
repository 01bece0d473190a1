import FrostbyteCore

/// Why reading an archive failed. Every libarchive failure maps to one of these,
/// with libarchive's own message and the entry being read, so a truncated file or
/// a corrupt zstd stream is reported as such instead of being mistaken for the end.
public enum ArchiveReadError: UserFacingError, Equatable {
    /// The bytes are not a tar or zstd-compressed tar (random data, zip, gzip, ...).
    case unrecognizedFormat(detail: String)
    /// A container format or compression that bundle format v1 does not allow.
    case unsupportedFormat(String)
    /// The archive ends in the middle of an entry or header.
    case truncated(entry: String?, detail: String)
    /// The zstd stream cannot be decoded.
    case corruptCompression(entry: String?, detail: String)
    /// A damaged header, bad checksum, or a libarchive warning treated as an error.
    case corruptArchive(entry: String?, detail: String)
    /// The bytes could not be read from disk.
    case readFailed(detail: String)

    /// What is wrong, without the advice for bundles that `message` adds: for
    /// archives that are not bundles (a docker-archive given to `build`).
    public var problem: String {
        switch self {
        case .unrecognizedFormat(let detail):
            return "not a tar or tar.zst archive (\(detail))"
        case .unsupportedFormat(let name):
            return "archive uses \(name), which bundle format v1 does not allow (only tar, optionally zstd-compressed)"
        case .truncated(let entry, let detail):
            return "archive is truncated\(Self.at(entry)) (\(detail))"
        case .corruptCompression(let entry, let detail):
            return "corrupt zstd stream\(Self.at(entry)) (\(detail))"
        case .corruptArchive(let entry, let detail):
            return "damaged archive\(Self.at(entry)): \(detail)"
        case .readFailed(let detail):
            return "reading the archive failed: \(detail)"
        }
    }

    public var message: String {
        switch self {
        case .unrecognizedFormat:
            return problem + "; a bundle is the <name>-<version>.tar.zst file written by 'frostbyte-bundle build'"
        case .truncated, .corruptCompression:
            return problem + "; copy the bundle again and compare it with its .sha256 file"
        case .unsupportedFormat, .corruptArchive, .readFailed:
            return problem
        }
    }

    public var exitStatus: ExitStatus {
        switch self {
        case .unrecognizedFormat, .unsupportedFormat: return .badInput
        case .truncated, .corruptCompression, .corruptArchive: return .checkFailed
        case .readFailed: return .environment
        }
    }

    /// The entry the failure happened in, if any.
    public var entry: String? {
        switch self {
        case .truncated(let entry, _), .corruptCompression(let entry, _), .corruptArchive(let entry, _):
            return entry
        default: return nil
        }
    }

    private static func at(_ entry: String?) -> String {
        entry.map { " at entry \($0)" } ?? ""
    }

    /// Maps a libarchive error message to a case. libarchive reports every failure
    /// with the same codes, so its message is the only way to tell truncation from
    /// a bad zstd frame.
    static func classify(_ detail: String, entry: String?, beforeFirstEntry: Bool) -> ArchiveReadError {
        let lower = detail.lowercased()
        if lower.contains("unrecognized archive format") || (beforeFirstEntry && lower.contains("damaged tar archive")) {
            return .unrecognizedFormat(detail: detail)
        }
        if lower.contains("truncated") || lower.contains("premature end") || lower.contains("unexpected end") {
            return .truncated(entry: entry, detail: detail)
        }
        if lower.contains("zstd") {
            return .corruptCompression(entry: entry, detail: detail)
        }
        return .corruptArchive(entry: entry, detail: detail)
    }
}
