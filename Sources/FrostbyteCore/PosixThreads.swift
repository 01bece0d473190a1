import Glibc

/// A pthread mutex with its condition variable, for state a thread really waits on
/// (the pipelined writer's body thread, the archive pipeline, the threaded output).
/// State that nobody waits on goes in a `Mutex<State>` (Synchronization) instead,
/// where the compiler checks every access; FoundationEssentials has no NSCondition
/// (the full Foundation drags ICU's 33 MB of data into a static binary).
///
/// `@unchecked Sendable`: the compiler cannot see that the pthread objects are only
/// used through their own thread-safe calls.
///
/// Guarantees: the one owner of both pthread objects, allocated on the heap (never
/// moved) in `init` and destroyed in `deinit`; `wait()` must be called with the lock
/// held and returns with it held (spurious wake-ups possible: callers loop on their
/// condition, as with NSCondition).
public final class ConditionLock: @unchecked Sendable {
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let condition = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)

    public init() {
        precondition(pthread_mutex_init(mutex, nil) == 0, "pthread_mutex_init failed")
        precondition(pthread_cond_init(condition, nil) == 0, "pthread_cond_init failed")
    }

    deinit {
        pthread_cond_destroy(condition)
        pthread_mutex_destroy(mutex)
        condition.deallocate()
        mutex.deallocate()
    }

    public func lock() { pthread_mutex_lock(mutex) }
    public func unlock() { pthread_mutex_unlock(mutex) }
    /// Releases the lock until signalled, then holds it again.
    public func wait() { pthread_cond_wait(condition, mutex) }
    public func signal() { pthread_cond_signal(condition) }
    public func broadcast() { pthread_cond_broadcast(condition) }

    public func withLock<Result>(_ body: () throws -> Result) rethrows -> Result {
        lock()
        defer { unlock() }
        return try body()
    }
}

/// Long-lived worker threads (pthread), what Foundation's Thread gave this module.
public enum DetachedThread {
    /// Runs `body` on a new detached thread. `name` is for the failure message
    /// only (Glibc's module does not export pthread_setname_np); `stackSize` nil
    /// means the system default.
    /// Stops the process when no thread can be created (out of memory or the
    /// thread limit): there is no way to do the work without it.
    public static func start(name: String, stackSize: Int? = nil, _ body: @escaping @Sendable () -> Void) {
        final class Work { let body: @Sendable () -> Void; let name: String
            init(_ body: @escaping @Sendable () -> Void, _ name: String) { self.body = body; self.name = name } }
        let work = Unmanaged.passRetained(Work(body, name)).toOpaque()
        var attributes = pthread_attr_t()
        pthread_attr_init(&attributes)
        defer { pthread_attr_destroy(&attributes) }
        pthread_attr_setdetachstate(&attributes, Int32(PTHREAD_CREATE_DETACHED))
        if let stackSize { pthread_attr_setstacksize(&attributes, stackSize) }
        var thread = pthread_t()
        let status = pthread_create(&thread, &attributes, { argument in
            let work = Unmanaged<Work>.fromOpaque(argument!).takeRetainedValue()
            work.body()
            return nil
        }, work)
        if status != 0 {
            Unmanaged<Work>.fromOpaque(work).release()
            fatalError("cannot start thread \(name): \(String(cString: strerror(status)))")
        }
    }
}
