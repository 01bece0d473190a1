import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Compresses a byte stream into one zstd frame with fixed parameters and passes the
/// compressed bytes to `downstream`.
///
/// Why not libarchive's own zstd filter: in libarchive 3.6.2 it sets only the level
/// and the worker count, so libzstd picks its default job size (4 x window = 8 MiB at
/// level 3) and a two-worker stream holds about 70 MiB of buffers; `build` must stay
/// under 100 MiB in total. Here the job size is fixed at 2 MiB (about 20 MiB of
/// buffers, 0.1% larger output) and the frame carries a content checksum, so
/// `zstd -t` and every decoder detect corruption.
///
/// Determinism: libzstd's multi-threaded output depends only on the level, the job
/// size and the other parameters set here, never on the number of workers (>= 1) or
/// on scheduling, so the same input always gives the same frame.
///
/// libzstd is the copy libarchive already links (`libzstd.so.1`); its functions are
/// looked up at run time because Debian ships no zstd headers or link-time library
/// without libzstd-dev. Owns one `ZSTD_CCtx`, freed exactly once. Not thread-safe.
final class ZstdCompressor: ArchiveOutput {
    /// Job size of the multi-threaded compressor, fixed for reproducibility and memory.
    static let jobSize = 2 << 20

    private let api: ZstdAPI
    private var context: OpaquePointer?
    private let downstream: ArchiveOutput
    private let output = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 64)
    /// ZSTD_inBuffer and ZSTD_outBuffer: { pointer, size_t size, size_t pos } each.
    private let inBuffer = UnsafeMutablePointer<Int>.allocate(capacity: 3)
    private let outBuffer = UnsafeMutablePointer<Int>.allocate(capacity: 3)

    /// - Throws: `ArchiveWriteError.libarchive` when libzstd is missing or rejects a parameter.
    init(level: Int, workers: Int, downstream: ArchiveOutput) throws {
        self.downstream = downstream
        guard let api = ZstdAPI.shared else {
            output.deallocate(); inBuffer.deallocate(); outBuffer.deallocate()
            throw ArchiveWriteError.libarchive(operation: "load libzstd", entry: nil,
                                               detail: "libzstd.so.1 (zstd >= 1.4) is not available")
        }
        self.api = api
        guard let context = api.createCCtx() else {
            output.deallocate(); inBuffer.deallocate(); outBuffer.deallocate()
            throw ArchiveWriteError.libarchive(operation: "create a zstd context", entry: nil, detail: "out of memory")
        }
        self.context = context
        try set(ZstdAPI.compressionLevel, Int32(level), "set zstd level \(level)")
        try set(ZstdAPI.checksumFlag, 1, "enable the zstd checksum")
        try set(ZstdAPI.nbWorkers, Int32(workers), "set \(workers) zstd workers")
        try set(ZstdAPI.jobSize, Int32(Self.jobSize), "set the zstd job size")
    }

    deinit {
        if let context { _ = api.freeCCtx(context) }
        output.deallocate()
        inBuffer.deallocate()
        outBuffer.deallocate()
    }

    /// Compresses `bytes` (ZSTD_e_continue); compressed output is passed on as it appears.
    func write(_ bytes: UnsafeRawBufferPointer) throws {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return }
        try run(base, bytes.count, directive: ZstdAPI.continueDirective)
    }

    /// Ends the frame (ZSTD_e_end), passes on the rest, and frees the context.
    func finish() throws {
        var empty: UInt8 = 0
        try run(&empty, 0, directive: ZstdAPI.endDirective)
        if let context { _ = api.freeCCtx(context) }
        context = nil
    }

    private func run(_ source: UnsafeRawPointer, _ count: Int, directive: Int32) throws {
        guard let context else { throw ArchiveWriteError.closed }
        inBuffer[0] = Int(bitPattern: source)
        inBuffer[1] = count
        inBuffer[2] = 0
        while true {
            outBuffer[0] = Int(bitPattern: output.baseAddress)
            outBuffer[1] = output.count
            outBuffer[2] = 0
            // Blocks for a worker only when it can make no progress (zstd's MT contract).
            let remaining = api.compressStream2(context, outBuffer, inBuffer, directive)
            if api.isError(remaining) != 0 {
                throw ArchiveWriteError.libarchive(operation: "compress with zstd", entry: nil,
                                                   detail: String(cString: api.getErrorName(remaining)))
            }
            if outBuffer[2] > 0 {
                try downstream.write(UnsafeRawBufferPointer(rebasing: output[0..<outBuffer[2]]))
            }
            let inputDone = inBuffer[2] == inBuffer[1]
            if directive == ZstdAPI.endDirective ? remaining == 0 : inputDone { return }
        }
    }

    private func set(_ parameter: Int32, _ value: Int32, _ operation: String) throws {
        let result = api.setParameter(context, parameter, value)
        if api.isError(result) != 0 {
            throw ArchiveWriteError.libarchive(operation: operation, entry: nil,
                                               detail: String(cString: api.getErrorName(result)))
        }
    }
}

/// The handful of libzstd functions the compressor needs, resolved once from the
/// already-loaded libzstd (or `libzstd.so.1`). Values from zstd.h (stable API, v1.4+).
struct ZstdAPI: @unchecked Sendable {
    static let compressionLevel: Int32 = 100   // ZSTD_c_compressionLevel
    static let checksumFlag: Int32 = 201       // ZSTD_c_checksumFlag
    static let nbWorkers: Int32 = 400          // ZSTD_c_nbWorkers
    static let jobSize: Int32 = 401            // ZSTD_c_jobSize
    static let continueDirective: Int32 = 0    // ZSTD_e_continue
    static let endDirective: Int32 = 2         // ZSTD_e_end

    typealias CreateCCtx = @convention(c) () -> OpaquePointer?
    typealias FreeCCtx = @convention(c) (OpaquePointer?) -> Int
    typealias SetParameter = @convention(c) (OpaquePointer?, Int32, Int32) -> Int
    typealias CompressStream2 = @convention(c) (OpaquePointer?, UnsafeMutablePointer<Int>, UnsafeMutablePointer<Int>, Int32) -> Int
    typealias IsError = @convention(c) (Int) -> UInt32
    typealias GetErrorName = @convention(c) (Int) -> UnsafePointer<CChar>

    let createCCtx: CreateCCtx
    let freeCCtx: FreeCCtx
    let setParameter: SetParameter
    let compressStream2: CompressStream2
    let isError: IsError
    let getErrorName: GetErrorName

    static let shared: ZstdAPI? = {
        // libarchive links libzstd, so its symbols are normally already in the process.
        let handle = dlopen("libzstd.so.1", RTLD_NOW | RTLD_GLOBAL)
        func symbol<T>(_ name: String, as type: T.Type) -> T? {
            guard let pointer = dlsym(handle, name) else { return nil }
            return unsafeBitCast(pointer, to: type)
        }
        guard handle != nil,
              let createCCtx = symbol("ZSTD_createCCtx", as: CreateCCtx.self),
              let freeCCtx = symbol("ZSTD_freeCCtx", as: FreeCCtx.self),
              let setParameter = symbol("ZSTD_CCtx_setParameter", as: SetParameter.self),
              let compressStream2 = symbol("ZSTD_compressStream2", as: CompressStream2.self),
              let isError = symbol("ZSTD_isError", as: IsError.self),
              let getErrorName = symbol("ZSTD_getErrorName", as: GetErrorName.self)
        else { return nil }
        return ZstdAPI(createCCtx: createCCtx, freeCCtx: freeCCtx, setParameter: setParameter,
                       compressStream2: compressStream2, isError: isError, getErrorName: getErrorName)
    }()
}
