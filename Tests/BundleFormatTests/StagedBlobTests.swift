@testable import BundleFormat
@testable import FrostbyteArchive
import FrostbyteCore
import FrostbyteCrypto
import Foundation
import Testing
import TestSupport

/// Blobs a build stages zstd-compressed (one `docker save` of several images, issue 25):
/// `BlobFolder` keeps them as `<hex>.zst` and names them `.zstdFile`, and the archive
/// writer packs their decompressed bytes; a damaged or short staged file fails the
/// entry, never packs other bytes.
@Suite("Staged blobs: compressed in the blob folder, packed decompressed")
struct StagedBlobTests {
    /// 6 MiB, partly compressible, the same every run.
    private static let sample: Data = {
        var bytes = [UInt8](repeating: 0, count: 6 << 20)
        var state: UInt64 = 0x2545F4914F6CDD1D
        for index in bytes.indices {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            bytes[index] = index % 4 == 0 ? UInt8(truncatingIfNeeded: state >> 33) : UInt8(index % 37)
        }
        return Data(bytes)
    }()

    /// `data` as a zstd file at `path` (level 1, as build stages), through `ZstdCompressor`.
    private func writeCompressed(_ data: Data, to path: String) throws {
        let output = MemoryOutput()
        let compressor = try ZstdCompressor(level: ImageBlobExtractor.stagingLevel, workers: 0, downstream: output)
        try data.withUnsafeBytes { try compressor.write($0) }
        try compressor.finish()
        try output.data.write(to: URL(fileURLWithPath: path))
    }

    /// The bytes `writeFile(fromZstd:)` packs for `source`, read back with tar.
    private func packed(_ source: String, size: Int64, folder: TemporaryFolder) throws -> Data {
        let output = MemoryOutput()
        let writer = try ArchiveWriter(output: output, compression: .none, mtime: 0)
        try writer.writeFile("r/blob", mode: .file, size: size, fromZstd: source)
        try writer.finish()
        try output.data.write(to: URL(fileURLWithPath: folder.file("t.tar")))
        try TestCommand.check(["tar", "-xf", folder.file("t.tar"), "-C", folder.path])
        return try Data(contentsOf: URL(fileURLWithPath: folder.file("r/blob")))
    }

    @Test("a compressed blob is stored as <hex>.zst, named .zstdFile, not counted as plain, and released")
    func folderKeepsCompressedBlobs() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let blobs = try BlobFolder(path: folder.file("blobs"))
        let digest = SHA256Hasher.hash(Self.sample).prefixed
        let staged = blobs.temporaryPath()
        try writeCompressed(Self.sample, to: staged)
        try blobs.adopt(staged, as: digest, compressed: true)
        #expect(blobs.contains(digest))
        #expect(blobs.source(digest) == .zstdFile(blobs.compressedPath(digest)))
        #expect(blobs.plainBytesHeld == 0)
        // Control: a plain blob is named .file and counted.
        let plain = Data("plain blob bytes\n".utf8)
        let plainDigest = try blobs.store(plain)
        #expect(blobs.source(plainDigest) == .file(blobs.blobPath(plainDigest)))
        #expect(blobs.plainBytesHeld == Int64(plain.count))
        blobs.release(digest)
        blobs.release(plainDigest)
        #expect(!FileManager.default.fileExists(atPath: blobs.compressedPath(digest)))
        #expect(blobs.contains(digest), "a released blob still counts as stored")
        #expect(blobs.plainBytesHeld == 0)
    }

    @Test("writeFile(fromZstd:) packs the decompressed bytes, also of several frames")
    func packsDecompressed() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        try writeCompressed(Self.sample, to: folder.file("one.zst"))
        #expect(try packed(folder.file("one.zst"), size: Int64(Self.sample.count), folder: folder) == Self.sample)
        // Two frames one after the other decode as their concatenation.
        let half = Self.sample.count / 2
        try writeCompressed(Self.sample.prefix(half), to: folder.file("a.zst"))
        try writeCompressed(Self.sample.suffix(from: half), to: folder.file("b.zst"))
        let both = try Data(contentsOf: URL(fileURLWithPath: folder.file("a.zst")))
            + Data(contentsOf: URL(fileURLWithPath: folder.file("b.zst")))
        try both.write(to: URL(fileURLWithPath: folder.file("two.zst")))
        #expect(try packed(folder.file("two.zst"), size: Int64(Self.sample.count), folder: folder) == Self.sample)
    }

    @Test("a short, damaged or wrongly sized staged blob fails the entry")
    func refusesBadStagedFiles() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        try writeCompressed(Self.sample, to: folder.file("good.zst"))
        let good = try Data(contentsOf: URL(fileURLWithPath: folder.file("good.zst")))
        try good.prefix(good.count - 100).write(to: URL(fileURLWithPath: folder.file("short.zst")))
        var damaged = good
        damaged[damaged.count / 2] ^= 0xFF
        try damaged.write(to: URL(fileURLWithPath: folder.file("damaged.zst")))
        let size = Int64(Self.sample.count)
        #expect(throws: FileReadError.self) { _ = try packed(folder.file("short.zst"), size: size, folder: folder) }
        #expect(throws: FileReadError.self) { _ = try packed(folder.file("damaged.zst"), size: size, folder: folder) }
        #expect(throws: ArchiveWriteError.self) { _ = try packed(folder.file("good.zst"), size: size - 1, folder: folder) }
        #expect(throws: ArchiveWriteError.self) { _ = try packed(folder.file("good.zst"), size: size + 1, folder: folder) }
    }
}
