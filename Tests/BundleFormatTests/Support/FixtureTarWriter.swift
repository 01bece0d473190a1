import BundleFormat
import CArchive
import Foundation

/// One entry a test wants in an archive, hostile or not.
struct FixtureEntry {
    enum Kind { case file, directory, symlink, hardLink, fifo, characterDevice, blockDevice }
    var path: [UInt8]
    var kind: Kind
    var mode: UInt32
    var data: Data
    var linkTarget: String?

    static func file(_ path: String, _ data: Data, mode: UInt32 = 0o644) -> FixtureEntry {
        FixtureEntry(path: Array(path.utf8), kind: .file, mode: mode, data: data)
    }
    static func directory(_ path: String, mode: UInt32 = 0o755) -> FixtureEntry {
        FixtureEntry(path: Array(path.utf8), kind: .directory, mode: mode, data: Data())
    }
    static func symlink(_ path: String, to target: String) -> FixtureEntry {
        FixtureEntry(path: Array(path.utf8), kind: .symlink, mode: 0o777, data: Data(), linkTarget: target)
    }
    static func hardLink(_ path: String, to target: String) -> FixtureEntry {
        FixtureEntry(path: Array(path.utf8), kind: .hardLink, mode: 0o644, data: Data(), linkTarget: target)
    }
    static func special(_ path: String, _ kind: Kind) -> FixtureEntry {
        FixtureEntry(path: Array(path.utf8), kind: kind, mode: 0o644, data: Data())
    }

    var pathString: String { String(decoding: path, as: UTF8.self) }
}

enum FixtureError: Error { case libarchive(String) }

/// A deliberately permissive tar writer over libarchive for tests: it writes
/// whatever entries it is given (symlinks, devices, `../x`, duplicates), so the
/// reader's defences can be tested. pax format, optionally zstd-compressed.
enum FixtureTarWriter {
    static func write(_ entries: [FixtureEntry], to path: String, zstd: Bool) throws {
        guard let archive = archive_write_new() else { throw FixtureError.libarchive("archive_write_new") }
        defer { archive_write_free(archive) }
        func check(_ status: Int32, _ what: String) throws {
            if status != ARCHIVE_OK && status != ARCHIVE_WARN {
                throw FixtureError.libarchive("\(what): \(String(cString: archive_error_string(archive)))")
            }
        }
        try check(archive_write_set_format_pax_restricted(archive), "format")
        if zstd { try check(archive_write_add_filter_zstd(archive), "zstd") }
        try check(archive_write_set_bytes_in_last_block(archive, 1), "last block")
        try check(archive_write_open_filename(archive, path), "open")
        for item in entries {
            guard let entry = archive_entry_new() else { throw FixtureError.libarchive("entry") }
            defer { archive_entry_free(entry) }
            let cPath = item.path.map { CChar(bitPattern: $0) } + [0]
            archive_entry_copy_pathname(entry, cPath)
            archive_entry_set_mtime(entry, 1_767_225_600, 0)
            archive_entry_set_uid(entry, 0)
            archive_entry_set_gid(entry, 0)
            var size: Int64 = 0
            switch item.kind {
            case .file: archive_entry_set_filetype(entry, FB_AE_IFREG); size = Int64(item.data.count)
            case .directory: archive_entry_set_filetype(entry, FB_AE_IFDIR)
            case .symlink:
                archive_entry_set_filetype(entry, FB_AE_IFLNK)
                archive_entry_copy_symlink(entry, item.linkTarget ?? "")
            case .hardLink:
                archive_entry_set_filetype(entry, FB_AE_IFREG)
                archive_entry_copy_hardlink(entry, item.linkTarget ?? "")
            case .fifo: archive_entry_set_filetype(entry, 0o010000)
            case .characterDevice:
                archive_entry_set_filetype(entry, 0o020000); archive_entry_set_rdevmajor(entry, 1); archive_entry_set_rdevminor(entry, 3)
            case .blockDevice:
                archive_entry_set_filetype(entry, 0o060000); archive_entry_set_rdevmajor(entry, 7); archive_entry_set_rdevminor(entry, 0)
            }
            archive_entry_set_perm(entry, mode_t(item.mode))
            archive_entry_set_size(entry, la_int64_t(size))
            try check(archive_write_header(archive, entry), "header \(item.pathString)")
            if size > 0 {
                let written = item.data.withUnsafeBytes { archive_write_data(archive, $0.baseAddress, $0.count) }
                if written != item.data.count { throw FixtureError.libarchive("data \(item.pathString)") }
            }
        }
        try check(archive_write_close(archive), "close")
    }
}
