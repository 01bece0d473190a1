internal import CSQLite
import FoundationEssentials

/// An rpm database in the sqlite format (`rpmdb.sqlite`, rpm >= 4.16), opened
/// read-only from bytes in memory with libsqlite3; the one owner of its handle.
///
/// Guarantees: the bytes are never written to disk and never changed; any bytes
/// give a result or nil without a crash (a file that is not an sqlite database, or
/// has no `Packages` table, gives nil); the handle is closed when the value goes.
final class RPMDatabase {
    private let handle: OpaquePointer

    /// Opens `data` as an sqlite database; nil when it is not one.
    init?(_ data: Data) {
        guard !data.isEmpty else { return nil }
        var opened: OpaquePointer?
        guard sqlite3_open_v2(":memory:", &opened, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nil) == SQLITE_OK,
              let opened else {
            sqlite3_close(opened)
            return nil
        }
        handle = opened
        guard let buffer = sqlite3_malloc64(sqlite3_uint64(data.count)) else { return nil }
        data.withUnsafeBytes { buffer.copyMemory(from: $0.baseAddress!, byteCount: data.count) }
        // A database in WAL mode (header bytes 18 and 19 = 2) cannot be read from
        // memory; its copy says rollback journal (1) instead.
        let header = buffer.assumingMemoryBound(to: UInt8.self)
        if data.count >= 100, header[18] == 2 || header[19] == 2 { header[18] = 1; header[19] = 1 }
        let flags = UInt32(SQLITE_DESERIALIZE_FREEONCLOSE | SQLITE_DESERIALIZE_READONLY)
        guard sqlite3_deserialize(handle, "main", buffer.assumingMemoryBound(to: UInt8.self),
                                  sqlite3_int64(data.count), sqlite3_int64(data.count), flags) == SQLITE_OK else {
            return nil
        }
    }

    deinit { sqlite3_close(handle) }

    /// The header blobs of the `Packages` table, in `hnum` order; nil when the
    /// database has no such table or cannot be read.
    func headerBlobs() -> [[UInt8]]? {
        var statement: OpaquePointer?
        guard sqlite3_prepare_v2(handle, "SELECT blob FROM Packages ORDER BY hnum", -1, &statement, nil) == SQLITE_OK,
              let statement else { return nil }
        defer { sqlite3_finalize(statement) }
        var blobs: [[UInt8]] = []
        while true {
            let step = sqlite3_step(statement)
            if step == SQLITE_DONE { return blobs }
            guard step == SQLITE_ROW else { return nil }
            let count = Int(sqlite3_column_bytes(statement, 0))
            if let bytes = sqlite3_column_blob(statement, 0), count > 0 {
                blobs.append(Array(UnsafeRawBufferPointer(start: bytes, count: count)))
            }
        }
    }
}

/// The fields of an rpm header blob the catalogue reads.
enum RPMHeader {
    static let name: Int32 = 1000, version: Int32 = 1001, release: Int32 = 1002, epoch: Int32 = 1003, arch: Int32 = 1022

    /// (name, `[epoch:]version-release`, arch) of an rpm header blob as the
    /// database stores it (big-endian index count and data length, 16-byte index
    /// entries: tag, type, offset, count; then the data); nil when it lacks a name,
    /// version or release or is malformed. `gpg-pubkey` entries (imported keys, no
    /// software) are left out.
    static func package(_ blob: [UInt8]) -> (name: String, version: String, architecture: String)? {
        func int32(_ at: Int) -> Int32? {
            guard at >= 0, at + 4 <= blob.count else { return nil }
            return Int32(bitPattern: UInt32(blob[at]) << 24 | UInt32(blob[at + 1]) << 16 | UInt32(blob[at + 2]) << 8
                         | UInt32(blob[at + 3]))
        }
        guard let entries = int32(0), let length = int32(4), entries >= 0, length >= 0,
              entries < 1 << 16 else { return nil }
        let store = 8 + Int(entries) * 16
        guard store + Int(length) <= blob.count else { return nil }
        var strings: [Int32: String] = [:]
        var epochValue: Int32?
        for index in 0..<Int(entries) {
            let at = 8 + index * 16
            guard let tag = int32(at), let type = int32(at + 4), let offset = int32(at + 8),
                  offset >= 0, Int(offset) < Int(length) else { continue }
            let start = store + Int(offset)
            if type == 6 || type == 9 {  // STRING, I18NSTRING: NUL-terminated
                guard [name, version, release, arch].contains(tag) else { continue }
                let end = blob[start..<(store + Int(length))].firstIndex(of: 0) ?? (store + Int(length))
                strings[tag] = String(decoding: blob[start..<end], as: UTF8.self)
            } else if type == 4, tag == epoch {  // INT32
                epochValue = int32(start)
            }
        }
        guard let packageName = strings[name], let packageVersion = strings[version], let packageRelease = strings[release],
              packageName != "gpg-pubkey" else { return nil }
        let prefix = epochValue.map { "\($0):" } ?? ""
        return (packageName, "\(prefix)\(packageVersion)-\(packageRelease)", strings[arch] ?? "")
    }
}
