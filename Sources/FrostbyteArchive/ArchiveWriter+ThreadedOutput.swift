import FrostbyteCore
import FoundationEssentials
import Glibc

/// Passes bytes to `downstream` on a thread of its own, through a few fixed 1 MiB
/// buffers, so the thread feeding the compressor never stops to hash or write the
/// compressed output (with two zstd workers on two cores, every pause of the feeding
/// thread leaves a worker idle). Order is preserved; memory is `slots` x 1 MiB.
///
/// The first error `downstream` throws is rethrown by the next `write` or by
/// `finish()`, and nothing more is passed on after it. `finish()` must be called
/// once to flush and join the thread; `deinit` stops the thread if it was not.
package final class ThreadedOutput: ArchiveOutput {
    private let shared: Shared
    private var current: UnsafeMutableRawBufferPointer?
    private var currentCount = 0
    private var finished = false

    package init(downstream: ArchiveOutput, slots: Int = 4, slotSize: Int = 1 << 20) {
        let shared = Shared(downstream: downstream, slots: max(2, slots), slotSize: slotSize)
        self.shared = shared
        DetachedThread.start(name: "frostbyte-output") { shared.drain() }
    }

    deinit {
        if !finished { shared.stop(with: ArchiveWriteError.closed) }
    }

    package func write(_ bytes: UnsafeRawBufferPointer) throws {
        var offset = 0
        while offset < bytes.count {
            if current == nil { current = try shared.takeFree() }
            guard let buffer = current else { return }
            let count = min(buffer.count - currentCount, bytes.count - offset)
            (buffer.baseAddress! + currentCount).copyMemory(from: bytes.baseAddress! + offset, byteCount: count)
            currentCount += count
            offset += count
            if currentCount == buffer.count { handOver() }
        }
    }

    /// Passes on what is buffered, waits until the thread has written everything,
    /// and rethrows the downstream error, if any.
    package func finish() throws {
        if currentCount > 0 { handOver() }
        finished = true
        try shared.finish()
    }

    private func handOver() {
        if let buffer = current { shared.hand(buffer, currentCount) }
        current = nil
        currentCount = 0
    }

    /// State shared with the output thread, under one condition variable. Owns the buffers.
    /// `@unchecked Sendable`: both threads wait on the condition (for a free buffer, for
    /// a filled one), so the state cannot live in a `Mutex`; the buffers' bytes are
    /// touched by one side at a time, as the free and filled lists hand them over, and
    /// `downstream` only by the output thread.
    private final class Shared: @unchecked Sendable {
        let downstream: ArchiveOutput
        let condition = ConditionLock()
        var free: [UnsafeMutableRawBufferPointer]
        let all: [UnsafeMutableRawBufferPointer]
        var filled: [(buffer: UnsafeMutableRawBufferPointer, count: Int)] = []
        var ending = false
        var done = false
        var error: Error?

        package init(downstream: ArchiveOutput, slots: Int, slotSize: Int) {
            self.downstream = downstream
            all = (0..<slots).map { _ in UnsafeMutableRawBufferPointer.allocate(byteCount: slotSize, alignment: 64) }
            free = all
        }

        deinit { for buffer in all { buffer.deallocate() } }

        func takeFree() throws -> UnsafeMutableRawBufferPointer {
            condition.lock()
            defer { condition.unlock() }
            while free.isEmpty && error == nil { condition.wait() }
            if let error { throw error }
            return free.removeLast()
        }

        func hand(_ buffer: UnsafeMutableRawBufferPointer, _ count: Int) {
            condition.lock()
            filled.append((buffer, count))
            condition.broadcast()
            condition.unlock()
        }

        func finish() throws {
            condition.lock()
            ending = true
            condition.broadcast()
            while !done { condition.wait() }
            let failure = error
            condition.unlock()
            if let failure { throw failure }
        }

        func stop(with failure: Error) {
            condition.lock()
            ending = true
            if error == nil { error = failure }
            condition.broadcast()
            while !done { condition.wait() }
            condition.unlock()
        }

        /// The output thread: writes filled buffers in order until ending and empty.
        func drain() {
            while true {
                condition.lock()
                while filled.isEmpty && !ending { condition.wait() }
                if filled.isEmpty || error != nil {
                    done = true
                    condition.broadcast()
                    condition.unlock()
                    return
                }
                let (buffer, count) = filled.removeFirst()
                condition.unlock()
                var failure: Error?
                do {
                    try downstream.write(UnsafeRawBufferPointer(rebasing: buffer[0..<count]))
                } catch {
                    failure = error
                }
                condition.lock()
                free.append(buffer)
                if let failure, error == nil { error = failure }
                condition.broadcast()
                condition.unlock()
            }
        }
    }
}
