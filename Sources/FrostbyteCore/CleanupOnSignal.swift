import Dispatch
import FoundationEssentials
import Glibc
import Synchronization

/// What must not survive an interrupted process: partial output files, staging
/// folders, and host objects such as a canary network namespace. The one
/// signal-cleanup mechanism of the tool. On SIGINT, SIGTERM or SIGHUP every
/// registered action runs (in registration order), then every registered path is
/// removed (files first, then folders), then the signal is re-raised with its
/// default action, so the exit status still says which signal ended the process.
///
/// The signals are received through dispatch sources, not in a signal handler, so
/// an action may do real work (run `ip netns del`).
public enum CleanupOnSignal {
    private enum Entry {
        case path(String)
        case action(@Sendable () -> Void)
    }
    private struct State {
        var installed = false
        /// Set once a fatal signal's cleanup has begun.
        var terminating = false
        var next = 0
        var entries: [Int: Entry] = [:]
        var sources: [DispatchSourceSignal] = []
    }
    private static let state = Mutex(State())

    /// A registration; pass it to `unregister` once the path is committed or removed,
    /// or the object torn down.
    public struct Token: Sendable, Hashable { let slot: Int }

    /// Registers `path` for removal on a fatal signal.
    @discardableResult
    public static func register(_ path: String) -> Token? {
        add(.path(path))
    }

    /// Registers `action` to run on a fatal signal, before registered paths are removed.
    @discardableResult
    public static func register(action: @escaping @Sendable () -> Void) -> Token {
        add(.action(action))
    }

    /// Forgets a registration (the path was renamed into place or already removed).
    public static func unregister(_ token: Token?) {
        guard let token else { return }
        _ = state.withLock { $0.entries.removeValue(forKey: token.slot) }
    }

    private static func add(_ entry: Entry) -> Token {
        let token: Token? = state.withLock { state in
            // The cleanup has already taken its list: a path registered now would be
            // created after it and outlive the process. The signal ends the process soon.
            guard !state.terminating else { return nil }
            if !state.installed {
                state.installed = true
                state.sources = [SIGINT, SIGTERM, SIGHUP].map(install)
            }
            state.next += 1
            state.entries[state.next] = entry
            return Token(slot: state.next)
        }
        guard let token else { while true { pause() } }
        return token
    }

    private static func install(_ number: Int32) -> DispatchSourceSignal {
        signal(number, SIG_IGN)
        let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
        source.setEventHandler {
            runAll()
            signal(number, SIG_DFL)
            // To the process, not this thread: dispatch's worker threads block
            // signals, so raise(3) here would leave it pending.
            kill(getpid(), number)
        }
        source.resume()
        return source
    }

    /// Runs every action and removes every path registered now; idempotent.
    static func runAll() {
        let entries = state.withLock { state in
            defer { state.entries = [:] }
            state.terminating = true
            return state.entries.sorted { $0.key < $1.key }.map(\.value)
        }
        var paths: [String] = []
        for entry in entries {
            switch entry {
            case .action(let action): action()
            case .path(let path): paths.append(path)
            }
        }
        // Files first, then folders (twice, for one level of nesting).
        for path in paths { unlink(path) }
        for _ in 0..<2 { for path in paths { rmdir(path) } }
    }
}
