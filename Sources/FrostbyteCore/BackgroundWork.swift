import Dispatch
import FoundationEssentials
import Glibc
import Synchronization

/// Work started on its own thread at once and joined later: the one way the tool
/// overlaps independent blocking steps (a docker call, an `ip` command, a socket
/// wait) with other work on the calling thread.
///
/// Guarantees: `body` runs exactly once, on a new thread; `join()` blocks until it
/// has returned or thrown and hands back that result (or rethrows that error),
/// every time it is called, from any thread. Nothing is cancelled: a caller that
/// leaves early must still `join()` before it relies on `body`'s side effects
/// being over (e.g. before removing what `body` reads).
public final class BackgroundWork<Value: Sendable>: Sendable {
    private let outcome = Mutex<Result<Value, any Error>?>(nil)
    private let done = DispatchSemaphore(value: 0)

    /// Starts `body` now on a thread with a 512 KiB stack.
    public init(_ body: @escaping @Sendable () throws -> Value) {
        DetachedThread.start(name: "background work", stackSize: 512 * 1024) { [self] in
            let result: Result<Value, any Error>
            do { result = .success(try body()) } catch { result = .failure(error) }
            outcome.withLock { $0 = result }
            done.signal()
        }
    }

    /// Waits for `body` and returns its value.
    /// - Throws: whatever `body` threw.
    public func join() throws -> Value {
        try result().get()
    }

    /// Waits for `body` and returns its result without throwing.
    public func result() -> Result<Value, any Error> {
        done.wait()
        done.signal()  // the next join returns at once
        return outcome.withLock { $0! }
    }
}
