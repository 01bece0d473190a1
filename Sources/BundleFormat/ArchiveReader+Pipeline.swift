import FrostbyteCore
import FrostbyteCrypto
import FrostbyteArchive
import Dispatch
import FoundationEssentials
import Glibc

/// What the reader thread tells the verifying thread, in archive order.
enum ArchiveEvent: Sendable {
    /// A new entry starts; its data follows as `.data` events, then `.endOfEntry`.
    case entry(ArchiveEntryHeader)
    /// `count` bytes of the current entry are in buffer `slot`.
    case data(slot: Int, count: Int)
    case endOfEntry
    /// The archive ended cleanly; `rawDigest` is the SHA-256 of the file's bytes when requested.
    case finished(rawDigest: SHA256Digest?)
    /// Reading stopped; nothing follows.
    case failed(ArchiveReadError)
    /// A part of a split bundle failed its check; nothing follows.
    case partFailed(VerificationProblem)
}

/// A bounded hand-off between the thread that decompresses (libarchive) and the
/// thread that hashes: a small ring of fixed buffers plus a bounded event queue.
/// Memory is `slotCount * slotSize` whatever the archive size; each side blocks
/// when the other falls behind.
///
/// `@unchecked Sendable`: both threads wait on `condition`, so the queue cannot live in
/// a `Mutex`; a buffer's bytes belong to one side at a time (the producer from
/// `acquireSlot` to `send`, the consumer until `release`), which the compiler cannot see.
final class ChunkPipe: @unchecked Sendable {
    static let slotCount = 6
    static let slotSize = 1 << 20
    static let eventCapacity = 512

    let buffers: [UnsafeMutableRawBufferPointer]
    private let condition = ConditionLock()
    private var freeSlots: [Int]
    private var events: [ArchiveEvent] = []
    private var head = 0
    private var cancelled = false

    init() {
        buffers = (0..<Self.slotCount).map { _ in
            UnsafeMutableRawBufferPointer.allocate(byteCount: Self.slotSize, alignment: 64)
        }
        freeSlots = Array(0..<Self.slotCount)
        events.reserveCapacity(Self.eventCapacity)
    }

    deinit {
        for buffer in buffers { buffer.deallocate() }
    }

    /// Producer: waits for a free buffer; nil once the consumer has cancelled.
    func acquireSlot() -> Int? {
        condition.lock()
        defer { condition.unlock() }
        while freeSlots.isEmpty && !cancelled { condition.wait() }
        return cancelled ? nil : freeSlots.removeLast()
    }

    /// Returns a buffer to the free list (either side).
    func release(slot: Int) {
        condition.lock()
        freeSlots.append(slot)
        condition.broadcast()
        condition.unlock()
    }

    /// Producer: queues an event; false once the consumer has cancelled.
    @discardableResult
    func send(_ event: ArchiveEvent) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        while events.count - head >= Self.eventCapacity && !cancelled { condition.wait() }
        if cancelled { return false }
        if head > Self.eventCapacity {
            events.removeFirst(head)
            head = 0
        }
        events.append(event)
        condition.broadcast()
        return true
    }

    /// Consumer: the next event, waiting for it.
    func receive() -> ArchiveEvent {
        condition.lock()
        defer { condition.unlock() }
        while head == events.count { condition.wait() }
        let event = events[head]
        head += 1
        condition.broadcast()
        return event
    }

    /// Consumer: stop the producer; it exits at its next `send` or `acquireSlot`.
    func cancel() {
        condition.lock()
        cancelled = true
        condition.broadcast()
        condition.unlock()
    }
}

/// Runs libarchive on its own thread and feeds a `ChunkPipe`: decompression and
/// tar parsing on one core, hashing on the other.
enum ArchivePump {
    /// Starts the reader thread for the archive at `path`. The thread ends after
    /// sending `.finished` or `.failed`, or when the pipe is cancelled; `done` is
    /// signalled when it has released every resource.
    static func start(path: String, hashRawBytes: Bool, pipe: ChunkPipe,
                      progress: ProgressReporter, done: DispatchSemaphore) {
        DetachedThread.start(name: "frostbyte-archive-reader", stackSize: 1 << 20) {
            defer { done.signal() }
            let rawHasher = hashRawBytes ? SHA256Hasher() : nil
            run(pipe: pipe, finish: { rawHasher?.finalize() }) {
                try ArchiveReader(path: path, rawHasher: rawHasher) { progress.advance(by: $0) }
            }
        }
    }

    /// Starts the reader thread for a split bundle's parts; `.finished` carries the
    /// whole bundle's digest once `parts.finish()` has checked every part and it.
    /// `parts` belongs to the thread until `done` is signalled.
    static func start(parts: SplitPartsReader, pipe: ChunkPipe, done: DispatchSemaphore) {
        DetachedThread.start(name: "frostbyte-archive-reader", stackSize: 1 << 20) {
            defer { done.signal() }
            run(pipe: pipe, finish: { try parts.finish() }) {
                try ArchiveReader(source: parts, allowsCompression: true)
            }
        }
    }

    private static func run(pipe: ChunkPipe, finish: () throws -> SHA256Digest?, open: () throws -> ArchiveReader) {
        do {
            let reader = try open()
            while let header = try reader.nextEntry() {
                guard pipe.send(.entry(header)) else { return }
                while true {
                    guard let slot = pipe.acquireSlot() else { return }
                    let count: Int
                    do {
                        count = try reader.readData(into: pipe.buffers[slot])
                    } catch {
                        pipe.release(slot: slot)
                        throw error
                    }
                    if count == 0 {
                        pipe.release(slot: slot)
                        break
                    }
                    guard pipe.send(.data(slot: slot, count: count)) else { return }
                }
                guard pipe.send(.endOfEntry) else { return }
            }
            try reader.finish()
            pipe.send(.finished(rawDigest: try finish()))
        } catch let error as ArchiveReadError {
            pipe.send(.failed(error))
        } catch let error as SplitPartFailure {
            pipe.send(.partFailed(error.problem))
        } catch let error as FileReadError {
            pipe.send(.failed(.readFailed(detail: error.message)))
        } catch {
            pipe.send(.failed(.readFailed(detail: "\(error)")))
        }
    }
}

/// The data of one archive entry as the verifying thread sees it: pull one chunk
/// at a time from the pipe. A chunk stays valid until the next call.
final class PipeEntryChunks: ChunkSupplier {
    private let pipe: ChunkPipe
    private var heldSlot: Int?
    private(set) var ended = false
    /// Set when the archive stopped inside this entry.
    private(set) var terminal: ArchiveEvent?

    init(pipe: ChunkPipe) { self.pipe = pipe }

    deinit { releaseHeld() }

    func nextChunk() throws -> UnsafeRawBufferPointer? {
        releaseHeld()
        if ended { return nil }
        switch pipe.receive() {
        case .data(let slot, let count):
            heldSlot = slot
            return UnsafeRawBufferPointer(rebasing: pipe.buffers[slot][0..<count])
        case .endOfEntry:
            ended = true
            return nil
        case let other:
            ended = true
            terminal = other
            return nil
        }
    }

    private func releaseHeld() {
        if let slot = heldSlot {
            pipe.release(slot: slot)
            heldSlot = nil
        }
    }
}
