import FrostbyteCore
internal import CArchive
import FoundationEssentials
import Glibc

/// Receives the archive's output bytes (compressed, if compression is on).
/// `write` must consume all of `bytes` or throw.
public protocol ArchiveOutput: AnyObject {
    func write(_ bytes: UnsafeRawBufferPointer) throws
}

/// Writes a deterministic pax tar, optionally zstd-compressed, through libarchive.
///
/// Determinism: the `pax restricted` format (plain ustar headers; a pax extended
/// header only where ustar cannot hold a value, e.g. a path over 100 bytes or a
/// size over 8 GiB), every entry with the same `mtime`, uid/gid 0, no user or group
/// names, no atime/ctime, no xattrs or ACLs, modes 0644/0755 only, and fixed zstd
/// parameters (`ArchiveCompression`, applied by `ZstdCompressor`: one zstd frame with
/// a content checksum). Only directories and regular files can be written. No
/// padding after the end-of-archive blocks.
///
/// Owns one `archive *`: `finish()` closes it and reports the close error (the last
/// block and the compressor's final frame are written then); `deinit` abandons an
/// unfinished archive. The handle is freed exactly once. Not thread-safe.
public final class ArchiveWriter {
    private var underlying: OpaquePointer?
    private let sink: WriteSink
    private let compressor: ZstdCompressor?
    private let threaded: ThreadedOutput
    private let mtime: Int64
    /// The one read buffer for file bodies (1 MiB, `ChunkedFileReader.defaultChunkSize`).
    private let buffer = UnsafeMutableRawBufferPointer.allocate(
        byteCount: ChunkedFileReader.defaultChunkSize, alignment: 64)
    /// Uncompressed tar bytes produced so far (headers, data, padding).
    public var uncompressedBytes: Int64 { underlying.map { archive_filter_bytes($0, 0) } ?? finalUncompressed }
    private var finalUncompressed: Int64 = 0

    /// Starts an archive whose bytes go to `output`.
    /// - Parameters:
    ///   - compression: `.none` or `.zstd(level:)`.
    ///   - mtime: seconds since the epoch for every entry (SOURCE_DATE_EPOCH).
    /// - Throws: `ArchiveWriteError.libarchive` when libarchive rejects a setting.
    public init(output: ArchiveOutput, compression: ArchiveCompression, mtime: Int64) throws {
        guard let archive = archive_write_new() else {
            throw ArchiveWriteError.libarchive(operation: "allocate a writer", entry: nil, detail: "out of memory")
        }
        self.underlying = archive
        self.mtime = mtime
        // The output (hashing and writing the file) runs on its own thread, so this
        // thread keeps the zstd workers fed.
        let threaded = ThreadedOutput(downstream: output)
        self.threaded = threaded
        switch compression {
        case .none:
            compressor = nil
        case .zstd(let level):
            do {
                compressor = try ZstdCompressor(level: level, workers: ArchiveCompression.zstdThreads, downstream: threaded)
            } catch {
                archive_write_free(archive)
                underlying = nil
                throw error
            }
        }
        self.sink = WriteSink(compressor ?? threaded)
        try check(archive_write_set_format_pax_restricted(archive), "select the pax format")
        // libarchive writes the tar stream; compression is ours (ZstdCompressor says why).
        try check(archive_write_add_filter_none(archive), "select the tar stream")
        // No blocking: libarchive hands each header and each 1 MiB data chunk straight to
        // the output (one copy less than filling its own block buffer), and adds no
        // padding after the end-of-archive blocks.
        try check(archive_write_set_bytes_per_block(archive, 0), "disable blocking")
        try check(archive_write_set_bytes_in_last_block(archive, 1), "disable end padding")
        let context = Unmanaged.passUnretained(sink).toOpaque()
        try check(archive_write_open2(archive, context, nil, writeSinkCallback, nil, nil), "open the output")
    }

    deinit {
        if let archive = underlying {
            archive_write_fail(archive)
            archive_write_free(archive)
        }
        buffer.deallocate()
    }

    /// Writes a directory entry (mode 0755). `path` is stored with a trailing slash.
    public func writeDirectory(_ path: String) throws {
        let archive = try handle()
        let entry = try makeEntry(path, type: FB_AE_IFDIR, mode: .executable, size: 0)
        defer { archive_entry_free(entry) }
        try ArchiveNameLocale.withUTF8Names { try check(archive_write_header(archive, entry), "write the header", entry: path) }
    }

    /// Writes a regular file whose contents are `data`.
    public func writeFile(_ path: String, mode: EntryMode, contents data: Data) throws {
        let archive = try handle()
        let entry = try makeEntry(path, type: FB_AE_IFREG, mode: mode, size: Int64(data.count))
        defer { archive_entry_free(entry) }
        try ArchiveNameLocale.withUTF8Names { try check(archive_write_header(archive, entry), "write the header", entry: path) }
        try data.withUnsafeBytes { try writeData(archive, $0, entry: path) }
        try check(archive_write_finish_entry(archive), "finish the entry", entry: path)
    }

    /// Streams the regular file at `source` into an entry of `size` bytes, in 1 MiB
    /// chunks (memory stays at one buffer whatever the size). `size` is the size the
    /// manifest records: if the file is not that size now, or changes while being
    /// read, nothing wrong is written and `sourceChanged` is thrown.
    /// - Parameter progress: called after each chunk with its byte count.
    /// - Throws: `FileReadError`, `ArchiveWriteError`.
    public func writeFile(_ path: String, mode: EntryMode, size: Int64, from source: String,
                          progress: (Int64) -> Void = { _ in }) throws {
        let file = try OpenedSourceFile(path: source)
        guard file.size == size else {
            throw ArchiveWriteError.sourceChanged(path: source, detail: "size was \(size) bytes when hashed, now \(file.size)")
        }
        try writeFile(path, mode: mode, size: size, source: source, read: file.read, progress: progress)
    }

    /// Streams the decompressed bytes of the zstd file at `source` (a blob staged
    /// compressed) into an entry of `size` bytes, like `writeFile(_:mode:size:from:)`:
    /// one buffer of memory, and `sourceChanged` when the bytes are not `size` long.
    /// - Throws: `FileReadError` (also for bytes that are not zstd), `ArchiveWriteError`.
    public func writeFile(_ path: String, mode: EntryMode, size: Int64, fromZstd source: String,
                          progress: (Int64) -> Void = { _ in }) throws {
        let reader = try ZstdFileReader(path: source)
        try writeFile(path, mode: mode, size: size, source: source, read: reader.read, progress: progress)
    }

    private func writeFile(_ path: String, mode: EntryMode, size: Int64, source: String,
                           read: (UnsafeMutableRawBufferPointer) throws -> Int, progress: (Int64) -> Void) throws {
        let archive = try handle()
        let entry = try makeEntry(path, type: FB_AE_IFREG, mode: mode, size: size)
        defer { archive_entry_free(entry) }
        try ArchiveNameLocale.withUTF8Names { try check(archive_write_header(archive, entry), "write the header", entry: path) }
        var written: Int64 = 0
        while true {
            let count = try read(buffer)
            if count == 0 { break }
            guard written + Int64(count) <= size else {
                throw ArchiveWriteError.sourceChanged(path: source, detail: "it grew beyond \(size) bytes")
            }
            try writeData(archive, UnsafeRawBufferPointer(rebasing: buffer[0..<count]), entry: path)
            written += Int64(count)
            progress(Int64(count))
        }
        guard written == size else {
            throw ArchiveWriteError.sourceChanged(path: source, detail: "it shrank to \(written) of \(size) bytes")
        }
        try check(archive_write_finish_entry(archive), "finish the entry", entry: path)
    }

    /// Writes the end-of-archive blocks, flushes the compressor and closes the archive.
    /// The handle is released before the close result is examined, so it is freed
    /// exactly once whether or not closing fails.
    /// - Throws: `ArchiveWriteError.libarchive` with the close error, or the output's error.
    public func finish() throws {
        guard let archive = underlying else { throw ArchiveWriteError.closed }
        let status = archive_write_close(archive)
        let detail = errorText(archive)
        finalUncompressed = archive_filter_bytes(archive, 0)
        underlying = nil
        archive_write_free(archive)
        if let error = sink.error { throw error }
        guard status == ARCHIVE_OK else {
            throw ArchiveWriteError.libarchive(operation: "close the archive", entry: nil, detail: detail)
        }
        try compressor?.finish()
        try threaded.finish()
    }

    // MARK: - Private

    private func handle() throws -> OpaquePointer {
        guard let archive = underlying else { throw ArchiveWriteError.closed }
        return archive
    }

    private func makeEntry(_ path: String, type: UInt32, mode: EntryMode, size: Int64) throws -> OpaquePointer {
        guard Self.isValidPath(path) else { throw ArchiveWriteError.invalidPath(path) }
        guard let entry = archive_entry_new() else {
            throw ArchiveWriteError.libarchive(operation: "allocate an entry", entry: path, detail: "out of memory")
        }
        archive_entry_set_pathname_utf8(entry, path)
        archive_entry_set_filetype(entry, type)
        archive_entry_set_perm(entry, mode_t(mode.rawValue))
        archive_entry_set_size(entry, size)
        archive_entry_set_mtime(entry, time_t(mtime), 0)
        archive_entry_set_uid(entry, 0)
        archive_entry_set_gid(entry, 0)
        return entry
    }

    /// Relative, UTF-8 (Swift strings are), no empty, `.` or `..` components, no
    /// control characters: the paths a bundle may hold.
    public static func isValidPath(_ path: String) -> Bool {
        guard !path.isEmpty, !path.hasPrefix("/"), !path.hasSuffix("/") else { return false }
        return !path.split(separator: "/", omittingEmptySubsequences: false)
            .contains { $0.isEmpty || $0 == "." || $0 == ".." }
            && !path.unicodeScalars.contains { $0.value < 0x20 || $0.value == 0x7F }
    }

    private func writeData(_ archive: OpaquePointer, _ bytes: UnsafeRawBufferPointer, entry: String) throws {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return }
        var offset = 0
        while offset < bytes.count {
            let count = archive_write_data(archive, base + offset, bytes.count - offset)
            if count <= 0 {
                if let error = sink.error { throw error }
                throw ArchiveWriteError.libarchive(operation: "write data", entry: entry, detail: errorText(archive))
            }
            offset += count
        }
    }

    private func check(_ status: Int32, _ operation: String, entry: String? = nil) throws {
        guard status != ARCHIVE_OK else { return }
        guard let archive = underlying else { throw ArchiveWriteError.closed }
        if let error = sink.error { throw error }
        // ARCHIVE_WARN on a write path means something was altered or dropped: an error here.
        throw ArchiveWriteError.libarchive(operation: operation, entry: entry, detail: errorText(archive))
    }

    private func errorText(_ archive: OpaquePointer) -> String {
        guard let text = archive_error_string(archive) else { return "no detail from libarchive" }
        return String(cString: text)
    }
}

/// Carries the Swift output through libarchive's C write callback and remembers the
/// first error it threw (libarchive only sees -1).
final class WriteSink {
    let output: ArchiveOutput
    var error: Error?
    init(_ output: ArchiveOutput) { self.output = output }
}

private func writeSinkCallback(
    _ archive: OpaquePointer?, _ context: UnsafeMutableRawPointer?, _ buffer: UnsafeRawPointer?, _ length: Int
) -> Int {
    guard let context else { return -1 }
    let sink = Unmanaged<WriteSink>.fromOpaque(context).takeUnretainedValue()
    guard sink.error == nil else { return -1 }
    do {
        try sink.output.write(UnsafeRawBufferPointer(start: buffer, count: length))
        return length
    } catch {
        // The Swift error is rethrown by the writer; libarchive only needs the -1.
        sink.error = error
        return -1
    }
}

/// A source file opened for one sequential read, with its size taken from the open
/// descriptor (so a file replaced after the check cannot slip in). Owns the descriptor.
final class OpenedSourceFile {
    let path: String
    let size: Int64
    private let descriptor: Int32

    /// Opens `path`, which must be a regular file.
    /// - Throws: `FileReadError.cannotOpen`.
    init(path: String) throws {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else {
            throw FileReadError.cannotOpen(path: path, reason: String(cString: strerror(errno)))
        }
        var info = stat()
        guard fstat(descriptor, &info) == 0, info.st_mode & S_IFMT == S_IFREG else {
            close(descriptor)
            throw FileReadError.cannotOpen(path: path, reason: "not a regular file")
        }
        self.path = path
        self.size = Int64(info.st_size)
        self.descriptor = descriptor
        _ = posix_fadvise(descriptor, 0, 0, POSIX_FADV_SEQUENTIAL)
    }

    deinit { close(descriptor) }

    /// Reads the next chunk into `buffer`; 0 at the end of the file.
    /// - Throws: `FileReadError.readFailed`.
    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        try FileDescriptorIO.read(descriptor, into: buffer) { FileReadError.readFailed(path: path, reason: $0) }
    }
}
