import FrostbyteCore
import Dispatch
import FoundationEssentials
import Glibc
import Synchronization

/// A network namespace a probe runs in.
public enum ProbeNamespace: Sendable, Equatable, CustomStringConvertible {
    /// The checker's own (the host's) namespace.
    case host
    /// The namespace of a host process, e.g. a container's init (`/proc/<pid>/ns/net`).
    case process(Int32)
    /// A named namespace file, e.g. `/run/netns/fbcanary-1a2b3c`.
    case file(String)

    /// The namespace file to open, nil for the host.
    var path: String? {
        switch self {
        case .host: return nil
        case .process(let pid): return "/proc/\(pid)/ns/net"
        case .file(let path): return path
        }
    }

    public var description: String {
        switch self {
        case .host: return "host"
        case .process(let pid): return "netns of pid \(pid)"
        case .file(let path): return path
        }
    }
}

/// Enters network namespaces one thread at a time. Linux lets a thread of a
/// multi-threaded process switch its own network namespace with setns(2); sockets
/// it creates then belong to that namespace for their whole life, whichever thread
/// uses them later. Every entry happens on a fresh thread that ends afterwards, so
/// no pooled thread is ever left in a foreign namespace. No tool inside the
/// container image is needed.
enum NetworkNamespace {
    private static let cloneNewNet: Int32 = 0x4000_0000
    private typealias SetnsFunction = @convention(c) (Int32, Int32) -> Int32
    /// setns(2) through the C library; Swift's Glibc module does not import it.
    private static let setnsFunction: SetnsFunction? = {
        guard let symbol = dlsym(nil, "setns") else { return nil }
        return unsafeBitCast(symbol, to: SetnsFunction.self)
    }()

    /// Moves the calling thread into `namespace`. Returns a descriptor of the
    /// thread's previous namespace for `leave(_:)`, or -1 for `.host`.
    /// - Throws: `ProbeError.namespace` naming the file and the system's reason.
    static func enter(_ namespace: ProbeNamespace) throws -> Int32 {
        guard let path = namespace.path else { return -1 }
        guard let setns = setnsFunction else {
            throw ProbeError.namespace(path: path, reason: "setns(2) is not available in this C library")
        }
        let previous = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC)
        guard previous >= 0 else { throw ProbeError.namespace(path: path, reason: lastError()) }
        let target = open(path, O_RDONLY | O_CLOEXEC)
        guard target >= 0 else {
            let reason = lastError()
            close(previous)
            throw ProbeError.namespace(path: path, reason: reason)
        }
        defer { close(target) }
        guard setns(target, cloneNewNet) == 0 else {
            let reason = lastError()
            close(previous)
            throw ProbeError.namespace(path: path, reason: reason)
        }
        return previous
    }

    /// Returns the calling thread to the namespace `enter` saved and closes it.
    static func leave(_ previous: Int32) {
        guard previous >= 0 else { return }
        if let setns = setnsFunction { _ = setns(previous, cloneNewNet) }
        close(previous)
    }

    /// Runs `body` on a new thread inside `namespace` and waits for it at most
    /// `timeout` seconds. Returns nil when the deadline passed (the thread is left to
    /// finish on its own; its sockets are bounded by their own timeouts).
    static func perform<T: Sendable>(
        in namespace: ProbeNamespace, timeout: Double, _ body: @escaping @Sendable () throws -> T
    ) -> Result<T, Error>? {
        let box = ResultBox<Result<T, Error>>()
        let done = DispatchSemaphore(value: 0)
        DetachedThread.start(name: "namespace probe", stackSize: 512 * 1024) {
            let result: Result<T, Error>
            do {
                let previous = try enter(namespace)
                defer { leave(previous) }
                result = .success(try body())
            } catch {
                result = .failure(error)
            }
            box.set(result)
            done.signal()
        }
        guard done.wait(timeout: .now() + timeout) == .success else { return nil }
        return box.get()
    }

    static func lastError() -> String { String(cString: strerror(errno)) }
}

/// A value written by one thread and read by another (nobody waits on it: the reader
/// waits on a semaphore first).
final class ResultBox<T: Sendable>: Sendable {
    private let value = Mutex<T?>(nil)
    func set(_ newValue: T) { value.withLock { $0 = newValue } }
    func get() -> T? { value.withLock { $0 } }
}
