import FrostbyteCore
import InstallationState
import FoundationEssentials
import Glibc

/// Moves `<prefix>/current` between releases atomically: a new symlink is made under
/// a temporary name and renamed over `current` (rename(2) replaces it in one step), so
/// `current` is always either the old release or the new one.
public enum ReleaseSwitcher {
    /// The bundle_id `current` points at, or nil when there is no `current`.
    public static func currentBundleId(_ layout: InstallationLayout) -> String? {
        guard let target = try? FileManager.default.destinationOfSymbolicLink(atPath: layout.current) else { return nil }
        return PathText.lastComponent(target)
    }

    /// Points `current` at `releases/<bundleId>` (a relative link, so the prefix can move).
    /// - Throws: `InstallError.filesystem` when the release is missing or a call fails.
    public static func activate(_ bundleId: String, in layout: InstallationLayout) throws {
        var isFolder = false
        guard FileManager.default.fileExists(atPath: layout.release(bundleId), isDirectory: &isFolder), isFolder else {
            throw InstallError.filesystem(operation: "activate release", path: layout.release(bundleId), reason: "no such release folder")
        }
        let temporary = "\(layout.prefix)/.current-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        guard symlink("releases/\(bundleId)", temporary) == 0 else {
            throw FileSystemError.current("create symlink", temporary)
        }
        guard rename(temporary, layout.current) == 0 else {
            let error = FileSystemError.current("switch", layout.current)
            unlink(temporary)
            throw error
        }
        AtomicFile.syncFolder(layout.prefix)
    }
}
