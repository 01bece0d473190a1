import FrostbyteCore
import FrostbyteCrypto
internal import CArchive
import FoundationEssentials
import Glibc

/// Supplies the raw (possibly compressed) bytes an `ArchiveReader` decodes.
/// `nextBlock()` returns an empty buffer at the end; the returned memory stays
/// valid until the next call.
public protocol ArchiveByteSource: AnyObject {
    func nextBlock() throws -> UnsafeRawBufferPointer
    /// Moves past up to `count` bytes without reading them and returns how many it
    /// moved past; 0 means "cannot skip", and libarchive then reads and discards.
    /// A source whose every byte must be seen (hashed, copied) never skips. The
    /// default implementation never skips.
    func skip(_ count: Int64) throws -> Int64
}

extension ArchiveByteSource {
    public func skip(_ count: Int64) throws -> Int64 { 0 }
}

/// Streams the entries of a tar or zstd-compressed tar through libarchive.
///
/// Owns one `archive *` and frees it in `deinit`. Only the tar formats and the
/// zstd/none filters are enabled; anything else is refused. Unlike readers that
/// treat `ARCHIVE_WARN` as success, every warning or failure from
/// `archive_read_next_header`, every negative `archive_read_data` and a failing
/// close is thrown as an `ArchiveReadError`, naming the entry it happened in.
/// Not thread-safe: confine an instance to one thread.
public final class ArchiveReader {
    private var underlying: OpaquePointer?
    private let source: ArchiveByteSource
    /// An error thrown by the byte source, reported instead of libarchive's generic one.
    fileprivate var sourceError: Error?
    private var currentEntry: String?
    private var entriesRead = 0
    private let allowsCompression: Bool

    /// Opens the tar or tar.zst file at `path` (detected from its bytes).
    /// - Parameter rawHasher: when given, every raw byte of the file passes through it
    ///   (used to check the `.sha256` sidecar in the same pass).
    /// - Throws: `FileReadError.cannotOpen`, `ArchiveReadError`.
    public convenience init(path: String, rawHasher: SHA256Hasher? = nil,
                            onRawBytes: (@Sendable (Int64) -> Void)? = nil) throws {
        let source = try FileByteSource(path: path, hasher: rawHasher, onBytes: onRawBytes)
        try self.init(source: source, allowsCompression: true)
    }

    /// Reads an archive from `source`. Nested archives (a `docker save` tar inside a
    /// bundle entry) pass `allowsCompression: false`, so only plain tar is accepted.
    /// - Throws: `ArchiveReadError` when libarchive cannot be set up.
    public init(source: ArchiveByteSource, allowsCompression: Bool) throws {
        self.source = source
        self.allowsCompression = allowsCompression
        guard let archive = archive_read_new() else {
            throw ArchiveReadError.readFailed(detail: "libarchive could not allocate a reader")
        }
        underlying = archive
        try check(archive_read_support_format_tar(archive), "enable tar")
        try check(archive_read_support_filter_none(archive), "enable uncompressed input")
        if allowsCompression {
            try check(archive_read_support_filter_zstd(archive), "enable zstd")
        }
        try check(archive_read_set_read_callback(archive, archiveReadCallback), "set the read callback")
        try check(archive_read_set_skip_callback(archive, archiveSkipCallback), "set the skip callback")
        try check(archive_read_set_callback_data(archive, Unmanaged.passUnretained(self).toOpaque()),
                  "set the callback data")
        let status = archive_read_open1(archive)
        if status != ARCHIVE_OK {
            throw failure(status, beforeFirstEntry: true)
        }
    }

    deinit {
        if let underlying { archive_read_free(underlying) }
    }

    /// The next entry's header, or nil at the end of the archive.
    /// - Throws: `ArchiveReadError` for a warning, a damaged header, truncation or
    ///   a corrupt zstd stream, and for formats/filters other than tar and zstd.
    public func nextEntry() throws -> ArchiveEntryHeader? {
        guard let archive = underlying else { return nil }
        // Pax path records are converted through the thread's locale, here and when the
        // header is copied out; ArchiveNameLocale says why both run under UTF-8.
        let (status, header) = ArchiveNameLocale.withUTF8Names { () -> (Int32, ArchiveEntryHeader?) in
            var entry: OpaquePointer?
            let status = archive_read_next_header(archive, &entry)
            guard status == ARCHIVE_OK, let entry else { return (status, nil) }
            return (status, ArchiveEntryHeader(entry: entry))
        }
        if status == ARCHIVE_EOF { return nil }
        guard status == ARCHIVE_OK, let header else {
            throw failure(status, beforeFirstEntry: entriesRead == 0)
        }
        if entriesRead == 0 { try checkFormatAndFilters(archive) }
        entriesRead += 1
        currentEntry = header.displayPath
        return header
    }

    /// Copies up to `buffer.count` bytes of the current entry's data; 0 at its end.
    /// - Throws: `ArchiveReadError` (truncation, corrupt zstd) — never silently stops.
    public func readData(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        guard let archive = underlying, let base = buffer.baseAddress else { return 0 }
        let count = archive_read_data(archive, base, buffer.count)
        if count < 0 { throw failure(Int32(truncatingIfNeeded: count), beforeFirstEntry: false) }
        return count
    }

    /// Skips the rest of the current entry's data.
    public func skipData() throws {
        guard let archive = underlying else { return }
        let status = archive_read_data_skip(archive)
        if status != ARCHIVE_OK { throw failure(status, beforeFirstEntry: false) }
    }

    /// Closes the archive and reports a close failure; the handle is cleared
    /// before it is freed, so nothing is freed twice.
    public func finish() throws {
        guard let archive = underlying else { return }
        underlying = nil
        let status = archive_read_close(archive)
        let error = status == ARCHIVE_OK ? nil : describe(archive, status)
        archive_read_free(archive)
        if let error { throw ArchiveReadError.corruptArchive(entry: nil, detail: error) }
    }

    // MARK: - Internals

    fileprivate func next() -> (pointer: UnsafeRawPointer?, count: Int) {
        do {
            let block = try source.nextBlock()
            return (block.baseAddress, block.count)
        } catch {
            sourceError = error
            return (nil, -1)
        }
    }

    fileprivate func skip(_ count: Int64) -> Int64 {
        do {
            return try source.skip(count)
        } catch {
            sourceError = error
            return -1
        }
    }

    private func checkFormatAndFilters(_ archive: OpaquePointer) throws {
        let format = archive_format(archive)
        if format & ARCHIVE_FORMAT_BASE_MASK != ARCHIVE_FORMAT_TAR {
            throw ArchiveReadError.unsupportedFormat(String(cString: archive_format_name(archive)))
        }
        let filters = archive_filter_count(archive)
        for index in 0..<max(0, filters - 1) {
            let code = archive_filter_code(archive, index)
            let allowed = code == ARCHIVE_FILTER_NONE || (allowsCompression && code == ARCHIVE_FILTER_ZSTD)
            if !allowed {
                throw ArchiveReadError.unsupportedFormat("the \(String(cString: archive_filter_name(archive, index))) filter")
            }
        }
    }

    private func check(_ status: Int32, _ operation: String) throws {
        guard status == ARCHIVE_OK else {
            let detail = underlying.map { describe($0, status) } ?? "status \(status)"
            throw ArchiveReadError.readFailed(detail: "cannot \(operation): \(detail)")
        }
    }

    private func describe(_ archive: OpaquePointer, _ status: Int32) -> String {
        if let text = archive_error_string(archive) { return String(cString: text) }
        return "libarchive status \(status)"
    }

    private func failure(_ status: Int32, beforeFirstEntry: Bool) -> Error {
        if let sourceError {
            return sourceError
        }
        let detail = underlying.map { describe($0, status) } ?? "libarchive status \(status)"
        let severity = status == ARCHIVE_WARN ? " (libarchive warning, treated as an error)" : ""
        return ArchiveReadError.classify(detail + severity, entry: currentEntry, beforeFirstEntry: beforeFirstEntry)
    }
}

/// libarchive's read callback: hands the next block of the reader's source over.
private func archiveReadCallback(
    _ archive: OpaquePointer?, _ context: UnsafeMutableRawPointer?,
    _ buffer: UnsafeMutablePointer<UnsafeRawPointer?>?
) -> la_ssize_t {
    guard let context, let buffer else { return -1 }
    let reader = Unmanaged<ArchiveReader>.fromOpaque(context).takeUnretainedValue()
    let block = reader.next()
    buffer.pointee = block.pointer
    return la_ssize_t(block.count)
}

private func archiveSkipCallback(
    _ archive: OpaquePointer?, _ context: UnsafeMutableRawPointer?, _ request: la_int64_t
) -> la_int64_t {
    guard let context, request > 0 else { return 0 }
    let reader = Unmanaged<ArchiveReader>.fromOpaque(context).takeUnretainedValue()
    return la_int64_t(reader.skip(Int64(request)))
}

/// Reads a file with `read(2)` in 1 MiB blocks, optionally hashing the raw bytes.
final class FileByteSource: ArchiveByteSource {
    private let path: String
    private var descriptor: Int32
    private let buffer: UnsafeMutableRawBufferPointer
    private let hasher: SHA256Hasher?
    private let onBytes: (@Sendable (Int64) -> Void)?

    init(path: String, hasher: SHA256Hasher?, onBytes: (@Sendable (Int64) -> Void)?) throws {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else {
            throw FileReadError.cannotOpen(path: path, reason: String(cString: strerror(errno)))
        }
        self.path = path
        self.descriptor = descriptor
        self.hasher = hasher
        self.onBytes = onBytes
        buffer = .allocate(byteCount: ChunkedFileReader.defaultChunkSize, alignment: 64)
    }

    deinit {
        close(descriptor)
        buffer.deallocate()
    }

    func nextBlock() throws -> UnsafeRawBufferPointer {
        let count = try FileDescriptorIO.read(descriptor, into: buffer) {
            ArchiveReadError.readFailed(detail: "\(path): \($0)")
        }
        let block = UnsafeRawBufferPointer(rebasing: buffer[0..<count])
        hasher?.update(block)
        if count > 0 { onBytes?(Int64(count)) }
        return block
    }
}
