import FrostbyteCore
import FrostbyteCrypto
import FrostbyteArchive
import FoundationEssentials
import Glibc

/// A part of a split bundle is missing, of another size or holds other bytes than its
/// index says (`SplitPartsReader`); `problem` names the part. An `ArchiveReader` reading
/// the parts rethrows it as its source's error.
public struct SplitPartFailure: UserFacingError, Equatable {
    public let problem: VerificationProblem
    public init(_ problem: VerificationProblem) { self.problem = problem }
    public var message: String { problem.message }
    public var exitStatus: ExitStatus { .checkFailed }
}

extension ArchiveReader {
    /// Opens the bundle at `path` (tar or tar.zst, detected from its bytes). A path
    /// ending in `.parts.json` is a split bundle's index: its parts are checked for
    /// presence and size first (`SplitPartsSet.preflight`, the first problem thrown as
    /// `SplitPartFailure`) and then read in order by a `SplitPartsReader`.
    /// - Parameter rawHasher: when given, every raw byte of the file passes through it
    ///   (used to check the `.sha256` sidecar in the same pass; not used for parts,
    ///   whose reader checks every part's digest itself).
    /// - Throws: `FileReadError.cannotOpen`, `ArchiveReadError`, `SplitIndexError`, `SplitPartFailure`.
    package static func openBundle(path: String, rawHasher: SHA256Hasher? = nil,
                                   onRawBytes: (@Sendable (Int64) -> Void)? = nil) throws -> ArchiveReader {
        guard SplitPartsIndex.isIndexPath(path) else {
            return try ArchiveReader(path: path, rawHasher: rawHasher, onRawBytes: onRawBytes)
        }
        let set = try SplitPartsSet(indexPath: path)
        if let problem = set.preflight(trust: []).problems.first { throw SplitPartFailure(problem) }
        return try ArchiveReader(source: SplitPartsReader(set: set, onBytes: onRawBytes), allowsCompression: true)
    }
}

/// The bytes of a split bundle for an `ArchiveReader`: its parts in index order, read
/// in 1 MiB blocks with one open part at a time, so memory does not depend on the
/// number or size of the parts and nothing is joined on disk.
///
/// Guarantees: each part is hashed as it streams, and its SHA-256 and size are
/// compared with the index when its last byte has been handed out, before any byte of
/// the next part is read; a part that differs (swapped, duplicated, foreign, damaged,
/// or an index from another build) stops the stream with `SplitPartFailure`
/// naming it, and every later read throws the same. `finish()` reads what the archive
/// reader left, checks the remaining parts and the whole bundle's SHA-256. Owns its
/// file descriptor and buffer. Confined to one thread at a time (handed over only
/// across a join).
///
/// `@unchecked Sendable`: it is handed to the archive reader thread and back, and the
/// compiler cannot see that the hand-overs are ordered by that thread's start and its
/// `done` semaphore, so no two threads use it at once.
public final class SplitPartsReader: ArchiveByteSource, @unchecked Sendable {
    public let set: SplitPartsSet
    private let onBytes: (@Sendable (Int64) -> Void)?
    private let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: ChunkedFileReader.defaultChunkSize, alignment: 64)
    /// The whole bundle's digest is computed on a thread of its own (the reader thread
    /// also decompresses, and a second SHA-256 pass there made verifying a third slower).
    private let whole = HashingOutput()
    private lazy var wholeFeed = ThreadedOutput(downstream: whole)
    /// 0-based position in `set.index.parts` of the part being read.
    private var current = 0
    private var descriptor: Int32 = -1
    private var partHasher = SHA256Hasher()
    private var remaining: Int64 = 0
    /// The first part problem; reported once, then every read throws it.
    private(set) var failure: VerificationProblem?
    private var wholeDigest: SHA256Digest?

    /// - Parameter onBytes: told the count of each block handed out (progress).
    public init(set: SplitPartsSet, onBytes: (@Sendable (Int64) -> Void)? = nil) {
        self.set = set
        self.onBytes = onBytes
    }

    deinit {
        if descriptor >= 0 { close(descriptor) }
        buffer.deallocate()
    }

    public func nextBlock() throws -> UnsafeRawBufferPointer {
        if let failure { throw SplitPartFailure(failure) }
        do {
            let block = try readBlock(upTo: buffer.count)
            if !block.isEmpty { onBytes?(Int64(block.count)) }
            return block
        } catch let problem as VerificationProblem {
            failure = problem
            throw SplitPartFailure(problem)
        }
    }

    /// Reads the rest of every part (what the archive reader did not ask for), checks
    /// each, and then the whole bundle's SHA-256 against the index.
    /// - Returns: the whole bundle's SHA-256.
    /// - Throws: `SplitPartFailure` with a `part` or `parts-index` problem.
    public func finish() throws -> SHA256Digest {
        while try !nextBlock().isEmpty {}
        guard let digest = wholeDigest else { preconditionFailure("SplitPartsReader: the parts ended without a digest") }
        guard digest == set.index.sha256 else {
            let problem = VerificationProblem(
                .partsIndex, path: PathText.lastComponent(set.indexPath), expected: set.index.sha256.hex, actual: digest.hex,
                "every part matches the index, but the parts joined do not have the whole bundle's SHA-256 the index lists")
            failure = problem
            throw SplitPartFailure(problem)
        }
        return digest
    }

    /// After a pass that stopped early (an archive error, an entry refused at its
    /// header): reads the rest of the part being read and returns its problem, if it
    /// differs from the index, so a damaged or swapped part is named even when the
    /// archive failed first. Nil when that part is intact, when no part is open, or when
    /// a part problem was already thrown (it is not reported twice).
    public func settle() -> VerificationProblem? {
        guard failure == nil, descriptor >= 0 else { return nil }
        do {
            while remaining > 0, try !readBlock(upTo: buffer.count, crossing: false).isEmpty {}
            if remaining == 0 { try endPart() }
            return nil
        } catch let problem as VerificationProblem {
            failure = problem
            return problem
        } catch {
            return nil
        }
    }

    // MARK: - Parts

    /// The next block of at most `limit` bytes, never crossing the end of a part
    /// without checking it. Empty at the end of the last part (or of the current one
    /// when `crossing` is false).
    private func readBlock(upTo limit: Int, crossing: Bool = true) throws -> UnsafeRawBufferPointer {
        while true {
            if descriptor < 0 {
                guard crossing, current < set.index.parts.count else {
                    if wholeDigest == nil && current >= set.index.parts.count {
                        try wholeFeed.finish()
                        wholeDigest = whole.hasher.finalize()
                    }
                    return UnsafeRawBufferPointer(start: nil, count: 0)
                }
                try openPart()
            }
            if remaining == 0 {
                try endPart()
                if !crossing { return UnsafeRawBufferPointer(start: nil, count: 0) }
                continue
            }
            let wanted = Int(min(Int64(limit), remaining))
            let slice = UnsafeMutableRawBufferPointer(rebasing: buffer[0..<wanted])
            let part = set.index.parts[current]
            let count = try FileDescriptorIO.read(descriptor, into: slice) { reason in
                VerificationProblem(.part, path: part.file, expected: "\(part.size) readable bytes", actual: reason,
                                    part: part.index, "part \(part.index) (\(part.file)) cannot be read: \(reason)")
            }
            guard count > 0 else {
                let read = part.size - remaining
                throw VerificationProblem(
                    .part, path: part.file, expected: "\(part.size) bytes", actual: "\(read) bytes", part: part.index,
                    "part \(part.index) (\(part.file)) ended after \(read) bytes while it was read; the index says \(part.size)")
            }
            let block = UnsafeRawBufferPointer(rebasing: buffer[0..<count])
            partHasher.update(block)
            try wholeFeed.write(block)
            remaining -= Int64(count)
            return block
        }
    }

    private func openPart() throws {
        let part = set.index.parts[current]
        let path = set.path(ofPart: part.index)
        if let problem = SplitPartsSet.presenceProblem(part, path: path) { throw problem }
        let opened = open(path, O_RDONLY | O_CLOEXEC)
        guard opened >= 0 else {
            let reason = String(cString: strerror(errno))
            throw VerificationProblem(.part, path: part.file, expected: "a readable file", actual: reason, part: part.index,
                                      "part \(part.index) (\(part.file)) cannot be opened: \(reason)")
        }
        descriptor = opened
        partHasher = SHA256Hasher()
        remaining = part.size
    }

    /// The part's last byte was handed out: compare its digest with the index, then
    /// close it and move on.
    private func endPart() throws {
        let part = set.index.parts[current]
        let digest = partHasher.finalize()
        close(descriptor)
        descriptor = -1
        current += 1
        guard digest == part.sha256 else { throw set.contentProblem(part, digest: digest) }
    }
}

/// An `ArchiveOutput` that only hashes what it is given.
final class HashingOutput: ArchiveOutput {
    let hasher = SHA256Hasher()
    func write(_ bytes: UnsafeRawBufferPointer) throws { hasher.update(bytes) }
}
