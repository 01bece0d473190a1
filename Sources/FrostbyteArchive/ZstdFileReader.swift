internal import CZstd
import FrostbyteCore
import Glibc

/// Reads a zstd-compressed file (one or more frames) back as its decompressed bytes,
/// chunk by chunk: how `ArchiveWriter.writeFile(_:mode:size:fromZstd:)` streams a blob
/// that `build` staged compressed. Owns the file (`OpenedSourceFile`) and one
/// `ZSTD_DCtx`, freed exactly once in `deinit`. A file that ends inside a frame, or
/// bytes libzstd rejects (its checksum included), are a `FileReadError.readFailed`.
/// Not thread-safe: confine an instance to one thread.
final class ZstdFileReader {
    let path: String
    private let file: OpenedSourceFile
    private let context: OpaquePointer
    private let input: UnsafeMutableRawBufferPointer
    private var inputFill = 0
    private var inputPosition = 0
    private var atEnd = false
    /// libzstd's last answer to a call that moved bytes: 0 when a frame has just ended.
    private var lastResult = 0

    /// Opens `path` (a regular file) and creates the decompression context.
    /// - Throws: `FileReadError.cannotOpen`.
    init(path: String) throws {
        file = try OpenedSourceFile(path: path)
        guard let context = ZSTD_createDCtx() else {
            throw FileReadError.cannotOpen(path: path, reason: "cannot create a zstd decompression context")
        }
        self.path = path
        self.context = context
        input = .allocate(byteCount: ZSTD_DStreamInSize(), alignment: 64)
    }

    deinit {
        ZSTD_freeDCtx(context)
        input.deallocate()
    }

    /// Decompresses the next bytes into `buffer`; 0 once every frame has ended with the file.
    /// - Throws: `FileReadError.readFailed`.
    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        var output = ZSTD_outBuffer(dst: buffer.baseAddress, size: buffer.count, pos: 0)
        while true {
            var pending = ZSTD_inBuffer(src: input.baseAddress, size: inputFill, pos: inputPosition)
            let result = ZSTD_decompressStream(context, &output, &pending)
            if ZSTD_isError(result) != 0 {
                throw FileReadError.readFailed(path: path, reason: "zstd: " + String(cString: ZSTD_getErrorName(result)))
            }
            if pending.pos > inputPosition || output.pos > 0 { lastResult = result }
            inputPosition = pending.pos
            if output.pos > 0 { return output.pos }
            if inputPosition < inputFill { continue }
            if atEnd {
                guard lastResult == 0 else { throw FileReadError.readFailed(path: path, reason: "it ends inside a zstd frame") }
                return 0
            }
            inputFill = try file.read(into: input)
            inputPosition = 0
            atEnd = inputFill == 0
        }
    }
}
