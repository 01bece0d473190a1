import FrostbyteCore
import FrostbyteCrypto
import FrostbyteArchive
import FoundationEssentials
import Glibc

/// Writes a format v2 bundle while its inputs are still arriving: the body (every
/// entry after SHA256SUMS, in layout order) is compressed on a thread of its own as
/// soon as each entry is handed over, so a build compresses one image's blobs while
/// the next `docker save` runs. MANIFEST.json, which lists every digest, can only be
/// written at the end: it goes, with MANIFEST.json.sig and SHA256SUMS, into a head
/// frame that is compressed last and placed first (docs/FORMAT.md, "Compression in
/// v2"). The tar stream is byte for byte the one `BundleWriter` would write; only the
/// zstd framing differs (two frames: head, body).
///
/// When every input is on disk before packing starts (`packWhileAdding: false`), the
/// same two frames are written straight into the output at `finish`, head first: no
/// temporary body, no second pass over it. Both ways give the same bytes.
///
/// Guarantees: entries must be handed over in `BundleLayout` order (checked at
/// `finish`: a different order is a programming error and fails the build); the body
/// lives in a temporary file beside the output that is removed on every path; the
/// output is committed only when complete; memory is one zstd context and a few
/// 1 MiB buffers whatever the entry sizes; same entries, manifest, key and mtime give
/// the same bytes. Scratch disk: `packed` hears of each body entry once it is in the
/// body (so its source file may go), and the body file gives back its space as it is
/// copied into the output (holes punched behind the copy), so the two never both
/// hold the whole body.
public final class PipelinedBundleWriter {
    public let compression: ArchiveCompression
    public let mtime: Int64
    private let root: String
    private let body: BodyThread?
    private let bodyFile: AtomicOutputFile?
    private var handedOver: [BundleEntry] = []

    /// Starts the body thread, writing into a temporary file beside `outputPath`, or,
    /// without `packWhileAdding`, only collects the entries until `finish`.
    /// - Parameter root: the bundle's root folder, `<name>-<version>`.
    /// - Throws: `BundleWriteError.cannotCreate`, `ArchiveWriteError`.
    /// - Parameter packed: called on the body thread after each entry is written into
    ///   the body (only with `packWhileAdding`).
    public init(outputPath: String, root: String, compression: ArchiveCompression, mtime: Int64,
                packWhileAdding: Bool = true, packed: (@Sendable (BundleEntry) -> Void)? = nil) throws {
        self.compression = compression
        self.mtime = mtime
        self.root = root
        if packWhileAdding {
            let file = try AtomicOutputFile(finalPath: outputPath + ".body")
            bodyFile = file
            body = try BodyThread(output: file, root: root, compression: compression, mtime: mtime, packed: packed)
        } else {
            bodyFile = nil
            body = nil
        }
    }

    deinit {
        body?.abandon()
        bodyFile?.discard()
    }

    /// Hands `entries` (hashed, in layout order, folders included) to the body
    /// thread; entries marked `inBase` are only recorded. Returns at once unless the
    /// thread is far behind.
    /// - Throws: the body thread's first error.
    public func append(_ entries: [BundleEntry]) throws {
        precondition(entries.allSatisfy(\.isHashed), "PipelinedBundleWriter: entries must be hashed")
        handedOver += entries
        try body?.enqueue(entries.filter { !$0.inBase })
    }

    /// Waits for the body, then writes the head frame and the body into `output`
    /// and the digest line into `sidecar`, and commits both (bundle first).
    /// - Parameters:
    ///   - manifest: everything but `files` and `bundleId`, which are derived from the
    ///     entries handed over.
    ///   - signingKey: signs MANIFEST.json when given.
    /// - Throws: `BundleWriteError`, `ArchiveWriteError`, `FileReadError`, `SigningError`.
    public func finish(manifest: Manifest, signingKey: SigningKey?, output: AtomicOutputFile,
                       sidecar: AtomicOutputFile) throws -> BundleWriteResult {
        try finish(manifest: manifest, signingKey: signingKey, to: SingleFileDestination(output: output, sidecar: sidecar))
    }

    /// Waits for the body, then writes the head frame and the body into `output` (one
    /// file and its sidecar, or parts and their index: `BundleDestination`) and commits it.
    /// - Throws: `BundleWriteError`, `ArchiveWriteError`, `FileReadError`, `SigningError`.
    public func finish(manifest: Manifest, signingKey: SigningKey?, to output: BundleDestination) throws -> BundleWriteResult {
        defer { output.discard(); bodyFile?.discard() }
        var bodyBytes = try body?.finish() ?? 0
        _ = try bodyFile?.close()
        let completed = try BundleWriter.completeManifest(manifest, entries: handedOver)
        guard completed.plan.map(\.path) == handedOver.map(\.path) else {
            throw ArchiveWriteError.libarchive(operation: "write the bundle body", entry: nil,
                                               detail: "entries were handed over out of layout order")
        }
        let signature = try signingKey?.sign(completed.data)
        let root = "\(manifest.name)-\(manifest.version)"

        // The head: the meta entries as tar without its end-of-archive blocks.
        let head = MemoryOutput()
        let headArchive = try ArchiveWriter(output: head, compression: .none, mtime: mtime)
        try headArchive.writeFile("\(root)/MANIFEST.json", mode: .file, contents: completed.data)
        if let signature { try headArchive.writeFile("\(root)/MANIFEST.json.sig", mode: .file, contents: signature) }
        try headArchive.writeFile("\(root)/SHA256SUMS", mode: .file, contents: completed.sums)
        try headArchive.finish()
        let headTar = head.data.dropLast(1024)
        switch compression {
        case .none:
            try Data(headTar).withUnsafeBytes { try output.write($0) }
        case .zstd(let level):
            let compressor = try ZstdCompressor(level: level, workers: ArchiveCompression.zstdThreads, downstream: output)
            try Data(headTar).withUnsafeBytes { try compressor.write($0) }
            try compressor.finish()
        }
        if let bodyFile {
            try copy(bodyFile.temporaryPath, into: output)
        } else {
            let archive = try ArchiveWriter(output: output, compression: compression, mtime: mtime)
            for entry in handedOver where !entry.inBase { try BodyThread.write(entry, root: root, into: archive) }
            try archive.finish()
            bodyBytes = archive.uncompressedBytes
        }

        let digest = try output.close()
        let sidecarPath = try output.commit(manifest: completed.manifest, digest: digest, signingKey: signingKey)
        return BundleWriteResult(
            path: output.bundlePath, sidecarPath: sidecarPath, manifest: completed.manifest,
            manifestData: completed.data, sha256: digest, size: output.size,
            uncompressedSize: Int64(headTar.count) + bodyBytes, signed: signature != nil)
    }

    /// Copies the body file into `output`, punching a hole behind each chunk written
    /// (FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE; where the filesystem cannot, the
    /// body keeps its space until it is removed).
    private func copy(_ path: String, into output: ArchiveOutput) throws {
        let descriptor = open(path, O_RDWR | O_CLOEXEC)
        guard descriptor >= 0 else { throw FileReadError.cannotOpen(path: path, reason: String(cString: strerror(errno))) }
        defer { close(descriptor) }
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 16)
        defer { buffer.deallocate() }
        var offset: Int64 = 0
        while true {
            let count = read(descriptor, buffer.baseAddress, buffer.count)
            if count < 0 && errno == EINTR { continue }
            guard count >= 0 else { throw FileReadError.readFailed(path: path, reason: String(cString: strerror(errno))) }
            if count == 0 { return }
            try output.write(UnsafeRawBufferPointer(rebasing: buffer[0..<count]))
            FileDescriptorIO.punchHole(descriptor, offset: offset, length: Int64(count))
            offset += Int64(count)
        }
    }
}

/// Bytes collected in memory (the small head of a bundle).
final class MemoryOutput: ArchiveOutput {
    private(set) var data = Data()
    func write(_ bytes: UnsafeRawBufferPointer) throws { data.append(contentsOf: bytes) }
}

/// The body's archive, written by one thread of its own from a queue of entries.
///
/// `@unchecked Sendable`: the queue and flags are guarded by `condition`, which both
/// sides wait on (a full backlog, an empty queue, the end), so they cannot live in a
/// `Mutex`; the archive writer is used by the body thread only, and by `finish()`'s
/// caller only after that thread has said it is done.
final class BodyThread: @unchecked Sendable {
    private let condition = ConditionLock()
    private var queue: [BundleEntry] = []
    private var closing = false
    private var done = false
    private var error: Error?
    private var bytes: Int64 = 0
    private let archive: ArchiveWriter
    private let root: String
    /// Entries waiting at most; beyond it `enqueue` waits (bounded memory of paths only).
    private static let backlog = 4096

    private let packed: (@Sendable (BundleEntry) -> Void)?

    init(output: ArchiveOutput, root: String, compression: ArchiveCompression, mtime: Int64,
         packed: (@Sendable (BundleEntry) -> Void)? = nil) throws {
        self.root = root
        self.packed = packed
        archive = try ArchiveWriter(output: output, compression: compression, mtime: mtime)
        DetachedThread.start(name: "frostbyte-body") { [self] in run() }
    }

    func enqueue(_ entries: [BundleEntry]) throws {
        try condition.withLock {
            while queue.count > Self.backlog && error == nil { condition.wait() }
            if let error { throw error }
            queue += entries
            condition.broadcast()
        }
    }

    /// Waits until every entry is written and the archive is closed; the tar bytes.
    func finish() throws -> Int64 {
        try condition.withLock {
            closing = true
            condition.broadcast()
            while !done { condition.wait() }
            if let error { throw error }
            return bytes
        }
    }

    /// Stops after the current entry (an error elsewhere); waits for the thread.
    func abandon() {
        condition.withLock {
            if !done && error == nil { error = ArchiveWriteError.closed }
            closing = true
            condition.broadcast()
            while !done { condition.wait() }
        }
    }

    private func run() {
        while true {
            condition.lock()
            while queue.isEmpty && !closing && error == nil { condition.wait() }
            if error != nil || queue.isEmpty {
                let failed = error != nil
                condition.unlock()
                var failure: Error?
                if !failed {
                    do { try archive.finish() } catch { failure = error }
                }
                condition.withLock {
                    if let failure { error = failure }
                    bytes = archive.uncompressedBytes
                    done = true
                    condition.broadcast()
                }
                return
            }
            let entry = queue.removeFirst()
            condition.broadcast()
            condition.unlock()
            do {
                try write(entry)
                packed?(entry)
            } catch {
                condition.withLock {
                    if self.error == nil { self.error = error }
                    condition.broadcast()
                }
            }
        }
    }

    private func write(_ entry: BundleEntry) throws {
        try Self.write(entry, root: root, into: archive)
    }

    /// Writes one body entry under `root`.
    static func write(_ entry: BundleEntry, root: String, into archive: ArchiveWriter) throws {
        let path = "\(root)/\(entry.path)"
        switch entry.source {
        case .directory: try archive.writeDirectory(path)
        case .data(let data): try archive.writeFile(path, mode: entry.mode, contents: data)
        case .file(let source): try archive.writeFile(path, mode: entry.mode, size: entry.size ?? 0, from: source)
        case .zstdFile(let source): try archive.writeFile(path, mode: entry.mode, size: entry.size ?? 0, fromZstd: source)
        }
    }
}
