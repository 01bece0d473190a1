import FoundationEssentials
import Glibc

/// Paths that must not survive the process: partial output files and staging
/// folders. On SIGINT, SIGTERM or SIGHUP the handler removes every registered path
/// (files first, then folders), then re-raises the
/// signal with its default action, so an interrupted `build` leaves nothing behind.
///
/// The handler only calls `unlink`, `rmdir`, `signal` and `raise`, which are
/// async-signal-safe; paths are stored as C strings allocated at registration.
public enum CleanupOnSignal {
    static let capacity = 256
    nonisolated(unsafe) private static let slots: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?> = {
        let slots = UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>.allocate(capacity: capacity)
        slots.initialize(repeating: nil, count: capacity)
        return slots
    }()
    private static let lock = ConditionLock()
    nonisolated(unsafe) private static var installed = false

    /// A registration; pass it to `unregister` once the path is committed or removed.
    public struct Token: Sendable, Hashable { let slot: Int }

    /// Registers `path` for removal on a fatal signal and installs the handlers once.
    /// Returns nil when all slots are taken (the path is then only cleaned up normally).
    @discardableResult
    public static func register(_ path: String) -> Token? {
        lock.lock()
        defer { lock.unlock() }
        if !installed {
            installed = true
            for signalNumber in [SIGINT, SIGTERM, SIGHUP] { signal(signalNumber, cleanupSignalHandler) }
        }
        for slot in 0..<capacity where slots[slot] == nil {
            slots[slot] = strdup(path)
            return Token(slot: slot)
        }
        return nil
    }

    /// Forgets a registration (the path was renamed into place or already removed).
    public static func unregister(_ token: Token?) {
        guard let token else { return }
        lock.lock()
        defer { lock.unlock() }
        let pointer = slots[token.slot]
        slots[token.slot] = nil
        free(pointer)
    }

    /// Removes every registered path; called from the signal handler.
    fileprivate static func removeAll() {
        // Files first, then folders (twice, for one level of nesting), whatever the slot order.
        for slot in 0..<capacity { if let path = slots[slot] { unlink(path) } }
        for _ in 0..<2 {
            for slot in 0..<capacity { if let path = slots[slot] { rmdir(path) } }
        }
    }
}

private func cleanupSignalHandler(_ signalNumber: Int32) {
    CleanupOnSignal.removeAll()
    signal(signalNumber, SIG_DFL)
    raise(signalNumber)
}
