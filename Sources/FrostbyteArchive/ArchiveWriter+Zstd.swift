internal import CZstd

/// Compresses a byte stream into one zstd frame with fixed parameters and passes the
/// compressed bytes to `downstream`.
///
/// Why not libarchive's own zstd filter: in libarchive 3.6.2 it sets only the level
/// and the worker count, so libzstd picks its default job size (4 x window = 8 MiB at
/// level 3) and a two-worker stream holds about 70 MiB of buffers; `build` must stay
/// under 100 MiB in total. Here the job size is fixed at 4 MiB (about 35 MiB of
/// buffers, 0.07% larger output than 8 MiB jobs) and the frame carries a content
/// checksum, so `zstd -t` and every decoder detect corruption. Measured on two
/// cores (scripts/bench build): 2 MiB jobs left the workers idle more often (about
/// 4% more wall time at the same CPU time); 8 MiB jobs took build to ~105 MiB RSS.
///
/// Determinism: libzstd's multi-threaded output depends only on the level, the job
/// size and the other parameters set here, never on the number of workers (>= 1) or
/// on scheduling, so the same input always gives the same frame.
///
/// Uses libzstd's stable streaming API (`ZSTD_compressStream2`, zstd.h v1.4+) through
/// the `CZstd` module. Owns one `ZSTD_CCtx`: `finish()` frees it and reports a
/// failure; `deinit` frees an unfinished one; it is freed exactly once. Every libzstd
/// result goes through `ZSTD_isError`, with `ZSTD_getErrorName` as the detail.
/// Not thread-safe: confine an instance to one thread.
package final class ZstdCompressor: ArchiveOutput {
    /// Job size of the multi-threaded compressor, fixed for reproducibility and memory.
    static let jobSize = 4 << 20
    /// Size of the buffer compressed bytes are collected in before going downstream.
    static let outputSize = 1 << 20

    /// The `ZSTD_CCtx *`; nil once finished.
    private var underlying: OpaquePointer?
    private let downstream: ArchiveOutput
    private let output: UnsafeMutableRawBufferPointer

    /// Creates the context and sets level, checksum, `workers` and the job size.
    /// - Parameters:
    ///   - level: zstd level (`ArchiveCompression.zstdLevels`).
    ///   - workers: multi-threaded workers; >= 1 for the format's bytes (see above).
    /// - Throws: `ArchiveWriteError.zstd` when libzstd cannot allocate the context or
    ///   rejects a parameter (e.g. a libzstd built without multi-threading).
    package init(level: Int, workers: Int, downstream: ArchiveOutput) throws {
        guard let context = ZSTD_createCCtx() else {
            throw ArchiveWriteError.zstd(operation: "create a compression context", detail: "out of memory")
        }
        underlying = context
        self.downstream = downstream
        output = .allocate(byteCount: Self.outputSize, alignment: 64)
        // From here on deinit runs on a throw and frees both.
        try set(ZSTD_c_compressionLevel, level, "set level \(level)")
        try set(ZSTD_c_checksumFlag, 1, "enable the content checksum")
        try set(ZSTD_c_nbWorkers, workers, "set \(workers) workers")
        try set(ZSTD_c_jobSize, Self.jobSize, "set the job size to \(Self.jobSize) bytes")
    }

    deinit {
        if let underlying { ZSTD_freeCCtx(underlying) }
        output.deallocate()
    }

    /// Compresses `bytes` (`ZSTD_e_continue`); compressed output is passed on as it appears.
    /// - Throws: `ArchiveWriteError.zstd`, `.closed` after `finish()`, or the downstream error.
    package func write(_ bytes: UnsafeRawBufferPointer) throws {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return }
        try compress(ZSTD_inBuffer(src: base, size: bytes.count, pos: 0), directive: ZSTD_e_continue)
    }

    /// Ends the frame (`ZSTD_e_end`), passes on the rest, and frees the context. The
    /// handle is cleared before it is freed, so nothing is freed twice.
    /// - Throws: `ArchiveWriteError.zstd`, `.closed` when already finished, or the downstream error.
    package func finish() throws {
        try compress(ZSTD_inBuffer(src: nil, size: 0, pos: 0), directive: ZSTD_e_end)
        guard let context = underlying else { throw ArchiveWriteError.closed }
        underlying = nil
        try check(ZSTD_freeCCtx(context), "free the compression context")
    }

    // MARK: - Private

    /// Feeds `input` until libzstd has consumed all of it (`ZSTD_e_continue`) or, for
    /// `ZSTD_e_end`, until the frame is complete (a return value of 0).
    private func compress(_ input: ZSTD_inBuffer, directive: ZSTD_EndDirective) throws {
        guard let context = underlying else { throw ArchiveWriteError.closed }
        var input = input
        while true {
            var out = ZSTD_outBuffer(dst: output.baseAddress, size: output.count, pos: 0)
            // Blocks for a worker only when it can make no progress (zstd's MT contract).
            let remaining = try check(ZSTD_compressStream2(context, &out, &input, directive), "compress")
            if out.pos > 0 {
                try downstream.write(UnsafeRawBufferPointer(rebasing: output[0..<out.pos]))
            }
            let done = directive == ZSTD_e_end ? remaining == 0 : input.pos == input.size
            if done { return }
        }
    }

    private func set(_ parameter: ZSTD_cParameter, _ value: Int, _ operation: String) throws {
        guard let context = underlying else { throw ArchiveWriteError.closed }
        guard let value = Int32(exactly: value) else {
            throw ArchiveWriteError.zstd(operation: operation, detail: "\(value) is out of range")
        }
        try check(ZSTD_CCtx_setParameter(context, parameter, value), operation)
    }

    /// Returns `result` unless libzstd says it is an error code.
    @discardableResult
    private func check(_ result: Int, _ operation: String) throws -> Int {
        guard ZSTD_isError(result) != 0 else { return result }
        throw ArchiveWriteError.zstd(operation: operation, detail: String(cString: ZSTD_getErrorName(result)))
    }
}
