@testable import BundleFormat
@testable import FrostbyteArchive
import Foundation
import Testing
import TestSupport

@Suite("ArchiveWriter: zstd frame parameters")
struct WriterZstdTests {
    /// Compresses `data` with `workers` zstd workers at `level`.
    private func compress(_ data: Data, workers: Int, level: Int = 3) throws -> Data {
        let output = MemoryOutput()
        let compressor = try ZstdCompressor(level: level, workers: workers, downstream: output)
        try data.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {   // uneven chunks, as libarchive's blocks would be
                let count = min(700_001, raw.count - offset)
                try compressor.write(UnsafeRawBufferPointer(rebasing: raw[offset..<offset + count]))
                offset += count
            }
        }
        try compressor.finish()
        return output.data
    }

    /// 9 MiB (several 2 MiB jobs), partly compressible, the same every run.
    private static let sampleInput: Data = {
        var bytes = [UInt8](repeating: 0, count: 9 << 20)
        var state: UInt64 = 0x9E3779B97F4A7C15
        for index in bytes.indices {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            bytes[index] = index % 3 == 0 ? UInt8(truncatingIfNeeded: state >> 33) : UInt8(index % 61)
        }
        return Data(bytes)
    }()

    @Test("1, 2 and 4 workers give the same frame (fixed job size); it decodes to the input")
    func workerCountIndependent() throws {
        let input = Self.sampleInput
        let one = try compress(input, workers: 1)
        #expect(try compress(input, workers: 2) == one)
        #expect(try compress(input, workers: 4) == one)
        #expect(one.count < input.count)
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        try one.write(to: URL(fileURLWithPath: folder.file("x.zst")))
        #expect(try TestCommand.run(["zstd", "-q", "-d", folder.file("x.zst"), "-o", folder.file("x")]).status == 0)
        #expect(try Data(contentsOf: URL(fileURLWithPath: folder.file("x"))) == input)
    }

    @Test("the frame has a content checksum, `zstd -t` accepts it and rejects a flipped byte")
    func checksum() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let output = MemoryOutput()
        let writer = try ArchiveWriter(output: output, compression: .standard, mtime: 0)
        var bytes = [UInt8](repeating: 0, count: 5 << 20)
        for index in bytes.indices { bytes[index] = UInt8(truncatingIfNeeded: index % 251 &* (index >> 12)) }
        try writer.writeFile("r/data", mode: .file, contents: Data(bytes))
        try writer.finish()
        // Frame header descriptor: bit 2 is Content_Checksum_flag (RFC 8878, 3.1.1.1.1).
        #expect(output.data.prefix(4) == Data([0x28, 0xB5, 0x2F, 0xFD]))
        #expect(output.data[4] & 0x04 != 0)
        let path = folder.file("a.tar.zst")
        try output.data.write(to: URL(fileURLWithPath: path))
        #expect(try TestCommand.run(["zstd", "-q", "-t", path]).status == 0)
        var damaged = output.data
        damaged[damaged.count - 2] ^= 0xFF
        try damaged.write(to: URL(fileURLWithPath: path))
        #expect(try TestCommand.run(["zstd", "-q", "-t", path]).status != 0, "negative control")
    }

    @Test("the frame is byte for byte what the zstd CLI writes with the same parameters; another job size differs",
          arguments: [1, 3])
    func matchesReferenceCLI(level: Int) throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let input = folder.file("input")
        try Self.sampleInput.write(to: URL(fileURLWithPath: input))
        let ours = try compress(Self.sampleInput, workers: ArchiveCompression.zstdThreads, level: level)
        // From stdin, so the CLI writes no content size either; it checksums by default.
        func cli(jobSize: Int) throws -> Data {
            let result = try TestCommand.run(["sh", "-c", "zstd -q -c -\(level) -T2 -B\(jobSize) < '\(input)'"])
            #expect(result.status == 0, "\(result.stderr)")
            return result.data
        }
        #expect(ours == (try cli(jobSize: ZstdCompressor.jobSize)))
        #expect(ours != (try cli(jobSize: 2 * ZstdCompressor.jobSize)), "negative control: the job size shapes the bytes")
    }

    @Test("after finish() the context is gone: writing or finishing again is refused, nothing more is written")
    func closedAfterFinish() throws {
        let output = MemoryOutput()
        let compressor = try ZstdCompressor(level: 3, workers: 2, downstream: output)
        try Data("hello".utf8).withUnsafeBytes { try compressor.write($0) }
        try compressor.finish()
        let frame = output.data
        #expect(frame.count > 4)
        #expect(throws: ArchiveWriteError.closed) {
            try Data("more".utf8).withUnsafeBytes { try compressor.write($0) }
        }
        #expect(throws: ArchiveWriteError.closed) { try compressor.finish() }
        #expect(output.data == frame)
    }
}
