import FrostbyteCore
import FoundationEssentials
import Glibc

/// The spool folder of one export: `.<OUT name>.spool-XXXXXX` (mode 0700) beside the
/// output, so spooled dumps live on the same filesystem as OUT and never in memory.
/// Every path in it is registered with `CleanupOnSignal`, and `remove()` (called on
/// success and on every error) deletes it, so neither an error nor SIGINT/SIGTERM
/// leaves a spool behind. Not thread-safe.
final class ExportWorkspace {
    let path: String
    private var tokens: [CleanupOnSignal.Token?] = []
    private var files: [String] = []
    private var removed = false

    /// Creates the folder beside `outputPath`.
    /// - Throws: `ExportError.workspace`.
    init(besides outputPath: String) throws {
        let url = URL(fileURLWithPath: outputPath)
        let template = url.deletingLastPathComponent().path + "/." + url.lastPathComponent + ".spool-XXXXXX"
        var bytes = Array(template.utf8CString)
        guard let made = mkdtemp(&bytes) else {
            throw ExportError.workspace(path: template, reason: String(cString: strerror(errno)))
        }
        path = String(cString: made)
        tokens.append(CleanupOnSignal.register(path))
    }

    deinit { remove() }

    /// A new file name in the folder, registered for removal on a signal.
    func file(_ name: String) -> String {
        let file = "\(path)/\(name)"
        files.append(file)
        tokens.append(CleanupOnSignal.register(file))
        return file
    }

    /// Deletes every file and the folder; safe to call more than once.
    func remove() {
        guard !removed else { return }
        removed = true
        for file in files { unlink(file) }
        try? FileManager.default.removeItem(atPath: path)
        for token in tokens { CleanupOnSignal.unregister(token) }
    }
}
