import FrostbyteCore
import FrostbyteCrypto
import FoundationEssentials
import Glibc

/// An `ArchiveByteSource` that reads 1 MiB blocks from `input`, hashes them (unless
/// `hashing` is false), copies
/// them to `output` (when given) and reports progress, so parsing, hashing and
/// staging an image archive take one pass. Remembers the first I/O error.
public final class HashingTeeSource: ArchiveByteSource {
    private let input: Int32
    private let inputPath: String
    private let output: Int32?
    private let outputPath: String
    private let progress: ProgressReporter
    private let hasher = SHA256Hasher()
    private let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 64)
    public private(set) var size: Int64 = 0
    public private(set) var error: Error?
    private var finished = false

    private let hashing: Bool

    public init(input: Int32, inputPath: String, output: Int32?, outputPath: String, progress: ProgressReporter,
         hashing: Bool = true) {
        self.input = input; self.inputPath = inputPath; self.output = output
        self.outputPath = outputPath; self.progress = progress; self.hashing = hashing
    }

    deinit { buffer.deallocate() }

    public func nextBlock() throws -> UnsafeRawBufferPointer {
        do {
            return try readBlock()
        } catch {
            self.error = self.error ?? error
            throw error
        }
    }

    /// Seeks past `count` bytes when nothing needs to see them (no hashing, no copy),
    /// so inspecting an archive already on disk reads its headers, not its layers. A
    /// seek past the end is caught by libarchive as a truncated archive; an input that
    /// cannot seek (a pipe) is read instead.
    public func skip(_ count: Int64) throws -> Int64 {
        guard !hashing, output == nil, !finished, count > 0 else { return 0 }
        guard lseek(input, off_t(count), SEEK_CUR) >= 0 else { return 0 }
        size += count
        progress.advance(by: count)
        return count
    }

    /// Passes the rest of the input through (the archive parser stops at the tar trailer).
    public func drain() throws {
        while try !readBlock().isEmpty {}
    }

    /// The digest of every byte read; call once, after `drain()`.
    public func finalize() -> SHA256Digest { hasher.finalize() }

    private func readBlock() throws -> UnsafeRawBufferPointer {
        if finished { return UnsafeRawBufferPointer(start: nil, count: 0) }
        let count = try FileDescriptorIO.read(input, into: buffer) {
            FileReadError.readFailed(path: inputPath, reason: $0)
        }
        if count == 0 { finished = true }
        let chunk = UnsafeRawBufferPointer(rebasing: buffer[0..<count])
        if hashing { hasher.update(chunk) }
        if let output { try writeAll(output, chunk) }
        size += Int64(count)
        progress.advance(by: Int64(count))
        return chunk
    }

    private func writeAll(_ descriptor: Int32, _ bytes: UnsafeRawBufferPointer) throws {
        if let reason = FileDescriptorIO.writeAll(descriptor, bytes) {
            throw FileWriteError.writeFailed(path: outputPath, reason: reason)
        }
    }
}
