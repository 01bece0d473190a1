import FoundationEssentials
import Glibc

/// A file-system call that failed: what was attempted, on which path, and the
/// system's reason. Exit status 3 (an environment problem: permissions, space).
public struct FileSystemError: UserFacingError, Equatable {
    public var operation: String
    public var path: String
    public var reason: String

    public init(operation: String, path: String, reason: String) {
        self.operation = operation; self.path = path; self.reason = reason
    }

    /// The failure of `operation` on `path`, with the current `errno` text.
    public static func current(_ operation: String, _ path: String) -> FileSystemError {
        FileSystemError(operation: operation, path: path, reason: String(cString: strerror(errno)))
    }

    public var message: String { "cannot \(operation) \(path): \(reason)" }
    public var exitStatus: ExitStatus { .environment }
}

/// Writes files so that a reader (or a re-run after a crash) sees either the old
/// content or the new one, never a torn file: write a temporary file in the same
/// folder, fsync it, rename it over the target, fsync the folder. The one
/// temp-file-and-rename writer of the tool.
public enum AtomicFile {
    /// Replaces `path` with `data`, created with exactly the permission bits `mode`.
    /// `sync: false` skips both fsyncs (scratch files nobody reads after a crash).
    /// - Throws: `FileSystemError` naming the path and the system's reason.
    public static func write(_ data: Data, to path: String, mode: mode_t = 0o644, sync: Bool = true) throws {
        let folder = parentFolder(of: path)
        let temporary = "\(folder)/.\(PathText.lastComponent(path)).tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode)
        guard descriptor >= 0 else { throw FileSystemError.current("create", temporary) }
        let writeFailure = data.withUnsafeBytes { FileDescriptorIO.writeAll(descriptor, $0) }
        var ok = writeFailure == nil
        // open(2) applies the umask; set the exact bits the caller asked for.
        if ok { ok = fchmod(descriptor, mode) == 0 && (!sync || fsync(descriptor) == 0) }
        let error = writeFailure.map { FileSystemError(operation: "write", path: temporary, reason: $0) }
            ?? FileSystemError.current("write", temporary)
        close(descriptor)
        guard ok else { unlink(temporary); throw error }
        try commit(temporary, to: path, sync: sync)
    }

    /// Renames a finished temporary file (already fsynced by its writer) over `path`
    /// and fsyncs the folder; the temporary file is removed when the rename fails.
    /// - Throws: `FileSystemError`.
    public static func commit(_ temporary: String, to path: String, sync: Bool = true) throws {
        guard rename(temporary, path) == 0 else {
            let error = FileSystemError.current("rename into place", path)
            unlink(temporary)
            throw error
        }
        if sync { syncFolder(parentFolder(of: path)) }
    }

    /// fsyncs a folder so a rename inside it survives a crash.
    public static func syncFolder(_ folder: String) {
        let descriptor = open(folder, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard descriptor >= 0 else { return }
        fsync(descriptor)
        close(descriptor)
    }

    /// Creates `path` and its parents with `mode` for the folders it creates; an
    /// existing folder gets `mode` applied too when `enforceMode` is set.
    /// - Throws: `FileSystemError`.
    public static func makeFolder(_ path: String, mode: mode_t = 0o755, enforceMode: Bool = false) throws {
        var isFolder = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isFolder) {
            guard isFolder else {
                throw FileSystemError(operation: "create folder", path: path, reason: "a file is in the way")
            }
        } else {
            let parent = PathText.deletingLastComponent(path)
            if !parent.isEmpty && parent != path { try makeFolder(parent) }
            if mkdir(path, mode) != 0 && errno != EEXIST { throw FileSystemError.current("create folder", path) }
        }
        if enforceMode && chmod(path, mode) != 0 { throw FileSystemError.current("set permissions of", path) }
    }

    private static func parentFolder(of path: String) -> String {
        let folder = PathText.deletingLastComponent(path)
        return folder.isEmpty ? "." : folder
    }
}

/// Lists folders with `opendir(3)`, so a failure carries the system's own reason.
public enum FolderListing {
    /// The names in `folder` (without "." and ".."), in no particular order.
    /// - Throws: `FileSystemError` with `strerror` of the failing call.
    public static func names(in folder: String) throws -> [String] {
        guard let directory = opendir(folder) else { throw FileSystemError.current("list", folder) }
        defer { closedir(directory) }
        var names: [String] = []
        while let entry = readdir(directory) {
            let name = withUnsafePointer(to: entry.pointee.d_name) {
                $0.withMemoryRebound(to: CChar.self, capacity: Int(NAME_MAX) + 1) { String(cString: $0) }
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }
}
