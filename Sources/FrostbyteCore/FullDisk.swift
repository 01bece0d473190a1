import FoundationEssentials
import Glibc

/// A write that failed because a filesystem filled up (ENOSPC, EDQUOT), told as one
/// sentence naming the filesystem (its mount point), how much the work needs there
/// and how much is free, the original failure, and what the operator does next.
/// Exit status 3 (an environment problem).
public struct FullDiskError: UserFacingError, Equatable {
    /// The mount point of the filesystem that is full.
    public var mountPoint: String
    /// What the work needs on it ("the release fbtest-1.1.0"), with `neededBytes`.
    public var what: String
    /// Bytes the work needs there; nil when it cannot be known beforehand.
    public var neededBytes: Int64?
    /// Bytes free there when the failure was seen.
    public var freeBytes: Int64
    /// The failing call's own message (path and system reason).
    public var failure: String
    /// What was left as it was (e.g. "fbtest-1.0.0 is still current"); may be empty.
    public var state: String
    /// The option that moves the work elsewhere ("--prefix", "-o").
    public var option: String

    public init(mountPoint: String, what: String, neededBytes: Int64?, freeBytes: Int64, failure: String,
                state: String = "", option: String) {
        self.mountPoint = mountPoint; self.what = what; self.neededBytes = neededBytes; self.freeBytes = freeBytes
        self.failure = failure; self.state = state; self.option = option
    }

    public var message: String {
        let need = neededBytes.map { "\(what) needs \(FullDisk.megabytes($0)) there" } ?? "\(what) needs more room there"
        let kept = state.isEmpty ? "" : "; \(state)"
        return "the filesystem mounted at \(mountPoint) is full (\(failure)): \(need) and \(FullDisk.megabytes(freeBytes)) "
            + "is free\(kept); free space on \(mountPoint) (or choose another \(option)) and run the same command again"
    }

    public var exitStatus: ExitStatus { .environment }
}

/// The one place that recognises a full filesystem in a failure and turns it into a
/// `FullDiskError`; `install`, `export` and `build` route their failures through it.
public enum FullDisk {
    /// True when `error` (any module's) reports ENOSPC or EDQUOT: its message carries
    /// the system's text for them (libc, libarchive and docker all pass it on).
    public static func isNoSpace(_ error: Error) -> Bool {
        if error is FullDiskError { return false }
        let text = ((error as? UserFacingError)?.message ?? "\(error)").lowercased()
        return [ENOSPC, EDQUOT].contains { text.contains(String(cString: strerror($0)).lowercased()) }
    }

    /// `error` unchanged unless it reports a full filesystem; then a `FullDiskError`
    /// for the fullest of `folders` (the filesystems the work writes to), naming
    /// `what` needs `neededBytes` there. `failure` replaces the error's own text.
    public static func explain(_ error: Error, folders: [String], what: String, neededBytes: Int64?,
                               state: String = "", option: String, failure: String? = nil) -> Error {
        guard isNoSpace(error) else { return error }
        let spaces = folders.compactMap { folder in freeBytes(at: folder).map { (folder, $0) } }
        guard let fullest = spaces.min(by: { $0.1 < $1.1 }) else { return error }
        let failure = failure ?? (error as? UserFacingError)?.message ?? "\(error)"
        return FullDiskError(mountPoint: mountPoint(of: fullest.0), what: what, neededBytes: neededBytes,
                             freeBytes: fullest.1, failure: failure, state: state, option: option)
    }

    /// Bytes available to writers on the filesystem holding `path` (or its nearest
    /// existing ancestor); nil when it cannot be asked.
    public static func freeBytes(at path: String) -> Int64? {
        var stats = statvfs()
        guard statvfs(existingAncestor(of: path), &stats) == 0 else { return nil }
        return Int64(stats.f_bavail) * Int64(stats.f_frsize)
    }

    /// The mount point of the filesystem holding `path`: its highest ancestor on the
    /// same device.
    public static func mountPoint(of path: String) -> String {
        var current = existingAncestor(of: path)
        var info = stat()
        guard stat(current, &info) == 0 else { return current }
        let device = info.st_dev
        while current != "/" {
            var parent = PathText.deletingLastComponent(current)
            if parent.isEmpty { parent = "/" }
            guard stat(parent, &info) == 0, info.st_dev == device else { break }
            current = parent
        }
        return current
    }

    /// `bytes` as "23.3 MB" (decimal megabytes, one digit), below 1 MB as "4.5 kB".
    public static func megabytes(_ bytes: Int64) -> String {
        if bytes < 1_000_000 { return TextFormat.fixed(Double(bytes) / 1_000, digits: 1) + " kB" }
        return TextFormat.fixed(Double(bytes) / 1_000_000, digits: 1) + " MB"
    }

    private static func existingAncestor(of path: String) -> String {
        var candidate = path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
        while access(candidate, F_OK) != 0 {
            let parent = PathText.deletingLastComponent(candidate)
            if parent == candidate || parent.isEmpty { return "/" }
            candidate = parent
        }
        return candidate
    }
}
