import FrostbyteCore
import FrostbyteCrypto
import FrostbyteArchive
import FoundationEssentials
import Glibc

/// Hands out the data of one entry a chunk at a time; a chunk stays valid until
/// the next call; nil at the end of the entry.
protocol ChunkSupplier: AnyObject {
    func nextChunk() throws -> UnsafeRawBufferPointer?
}

/// The data of one entry flowing through the verifier: every chunk is hashed,
/// counted, optionally written to the staging folder and optionally collected
/// (bounded), exactly once, whoever pulls it — the verifier itself or a nested
/// archive reader looking inside a `docker save` tar. Read and write failures are
/// recorded rather than thrown, so a nested reader cannot mistake them for a
/// malformed archive; the verifier checks `readError` / `writeError` afterwards.
final class EntryContentStream: ArchiveByteSource {
    private let supplier: ChunkSupplier
    private let hasher = SHA256Hasher()
    private var writer: ExtractedFileWriter?
    private let collectLimit: Int
    private(set) var collected = Data()
    private(set) var overflowed = false
    private(set) var byteCount: Int64 = 0
    private(set) var readError: Error?
    private(set) var writeError: Error?
    /// Given every chunk as it passes (after hashing), when set.
    var onChunk: ((UnsafeRawBufferPointer) -> Void)?
    private var ended = false

    init(_ supplier: ChunkSupplier, writer: ExtractedFileWriter?, collectLimit: Int = 0) {
        self.supplier = supplier
        self.writer = writer
        self.collectLimit = collectLimit
    }

    /// The next chunk, or nil at the end of the entry (or after a read failure).
    func next() -> UnsafeRawBufferPointer? {
        if ended { return nil }
        let chunk: UnsafeRawBufferPointer?
        do {
            chunk = try supplier.nextChunk()
        } catch {
            readError = error
            chunk = nil
        }
        guard let chunk else {
            ended = true
            return nil
        }
        hasher.update(chunk)
        byteCount += Int64(chunk.count)
        onChunk?(chunk)
        if let writer {
            do { try writer.write(chunk) } catch {
                writeError = error
                self.writer = nil
            }
        }
        if collectLimit > 0 && !overflowed {
            if collected.count + chunk.count <= collectLimit {
                collected.append(contentsOf: chunk)
            } else {
                overflowed = true
                collected = Data()
            }
        }
        return chunk
    }

    func nextBlock() throws -> UnsafeRawBufferPointer {
        next() ?? UnsafeRawBufferPointer(start: nil, count: 0)
    }

    /// Pulls the rest of the entry and returns its digest and size.
    func finish() -> (digest: SHA256Digest, size: Int64) {
        while next() != nil {}
        if let writer {
            do { try writer.finish() } catch { writeError = error }
            self.writer = nil
        }
        return (hasher.finalize(), byteCount)
    }
}

/// Reads a file from an open directory with `read(2)` into one buffer, without
/// following symlinks (the folder form of a bundle).
final class FileChunks: ChunkSupplier {
    private let descriptor: Int32
    private let buffer: UnsafeMutableRawBufferPointer
    private let path: String

    init(directory: Int32, name: String, path: String, buffer: UnsafeMutableRawBufferPointer) throws {
        let descriptor = openat(directory, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
        guard descriptor >= 0 else {
            throw FileReadError.cannotOpen(path: path, reason: String(cString: strerror(errno)))
        }
        self.descriptor = descriptor
        self.buffer = buffer
        self.path = path
    }

    deinit { close(descriptor) }

    func nextChunk() throws -> UnsafeRawBufferPointer? {
        let count = try FileDescriptorIO.read(descriptor, into: buffer) {
            FileReadError.readFailed(path: path, reason: $0)
        }
        return count == 0 ? nil : UnsafeRawBufferPointer(rebasing: buffer[0..<count])
    }
}
