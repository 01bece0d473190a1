import BundleFormat
import Foundation

/// Writes files so that a reader (or a re-run after a crash) sees either the old
/// content or the new one, never a torn file: write a temporary file in the same
/// folder, fsync it, rename it over the target, fsync the folder.
enum AtomicFile {
    /// Replaces `path` with `data`, created with permission bits `mode`.
    /// - Throws: `InstallError.filesystem` naming the path and the system's reason.
    static func write(_ data: Data, to path: String, mode: mode_t = 0o644) throws {
        let folder = (path as NSString).deletingLastPathComponent
        let temporary = "\(folder)/.\((path as NSString).lastPathComponent).tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode)
        guard descriptor >= 0 else { throw failure("create", temporary) }
        let writeFailure = FileDescriptorIO.writeAll(descriptor, data)
        var ok = writeFailure == nil
        // open(2) applies the umask; set the exact bits the caller asked for.
        if ok { ok = fchmod(descriptor, mode) == 0 && fsync(descriptor) == 0 }
        let error = writeFailure.map { InstallError.filesystem(operation: "write", path: temporary, reason: $0) }
            ?? failure("write", temporary)
        close(descriptor)
        guard ok else { unlink(temporary); throw error }
        guard rename(temporary, path) == 0 else {
            let error = failure("rename into place", path)
            unlink(temporary)
            throw error
        }
        syncFolder(folder)
    }

    /// fsyncs a folder so a rename inside it survives a crash.
    static func syncFolder(_ folder: String) {
        let descriptor = open(folder, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard descriptor >= 0 else { return }
        fsync(descriptor)
        close(descriptor)
    }

    /// Creates `path` and its parents with `mode` for the folders it creates; an
    /// existing folder gets `mode` applied too when `enforceMode` is set.
    static func makeFolder(_ path: String, mode: mode_t = 0o755, enforceMode: Bool = false) throws {
        var isFolder: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isFolder) {
            guard isFolder.boolValue else {
                throw InstallError.filesystem(operation: "create folder", path: path, reason: "a file is in the way")
            }
        } else {
            let parent = (path as NSString).deletingLastPathComponent
            if !parent.isEmpty && parent != path { try makeFolder(parent) }
            if mkdir(path, mode) != 0 && errno != EEXIST { throw failure("create folder", path) }
        }
        if enforceMode && chmod(path, mode) != 0 { throw failure("set permissions of", path) }
    }

    /// An `InstallError.filesystem` carrying the current `errno` text.
    static func failure(_ operation: String, _ path: String) -> InstallError {
        .filesystem(operation: operation, path: path, reason: String(cString: strerror(errno)))
    }
}
