@testable import BundleFormat
import Foundation
import Testing

@Suite("ArchiveWriter: zstd frame parameters")
struct WriterZstdTests {
    /// Compresses `data` with `workers` zstd workers.
    private func compress(_ data: Data, workers: Int) throws -> Data {
        let output = MemoryOutput()
        let compressor = try ZstdCompressor(level: 3, workers: workers, downstream: output)
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

    @Test("1, 2 and 4 workers give the same frame (fixed job size); it decodes to the input")
    func workerCountIndependent() throws {
        var bytes = [UInt8](repeating: 0, count: 9 << 20)
        var state: UInt64 = 0x9E3779B97F4A7C15
        for index in bytes.indices {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            bytes[index] = index % 3 == 0 ? UInt8(truncatingIfNeeded: state >> 33) : UInt8(index % 61)
        }
        let input = Data(bytes)
        let one = try compress(input, workers: 1)
        #expect(try compress(input, workers: 2) == one)
        #expect(try compress(input, workers: 4) == one)
        #expect(one.count < input.count)
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        try one.write(to: URL(fileURLWithPath: folder.file("x.zst")))
        #expect(try WriterTools.run(["zstd", "-q", "-d", folder.file("x.zst"), "-o", folder.file("x")]).status == 0)
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
        #expect(try WriterTools.run(["zstd", "-q", "-t", path]).status == 0)
        var damaged = output.data
        damaged[damaged.count - 2] ^= 0xFF
        try damaged.write(to: URL(fileURLWithPath: path))
        #expect(try WriterTools.run(["zstd", "-q", "-t", path]).status != 0, "negative control")
    }
}
