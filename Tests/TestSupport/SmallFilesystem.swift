import Foundation
import FrostbyteCore

/// A real, size-limited filesystem for full-disk tests: a tmpfs of `megabytes` MiB
/// mounted (root only) on a new folder, plus filler files that take its free space,
/// all at once, down to a given amount, or the moment a condition holds (`fill(when:)`,
/// polled every millisecond on a thread of its own), so a command under test hits
/// ENOSPC in the phase the test chose. `unmount()` (also on deinit) removes it all.
public final class SmallFilesystem: @unchecked Sendable {
    /// The mount point.
    public let path: String
    private var mounted = false
    private let createdFolder: Bool
    private let lock = NSLock()
    private var fillers = 0
    private var watcher: Thread?
    private var watchDone = false
    private var watchFired = false
    private let finished = DispatchSemaphore(value: 0)

    /// Mounts a fresh tmpfs of `megabytes` MiB on `path` (created when missing, and
    /// then removed again by `unmount()`).
    /// - Throws: `TestFailure` when not root or mount fails.
    public init(at path: String, megabytes: Int) throws {
        guard geteuid() == 0 else { throw TestFailure("mounting a small filesystem needs root") }
        self.path = path
        createdFolder = !FileManager.default.fileExists(atPath: path)
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        let mount = try TestCommand.run(["mount", "-t", "tmpfs", "-o", "size=\(megabytes)m,mode=0755",
                                         "fbtest-full", path])
        guard mount.status == 0 else { throw TestFailure("mount of a \(megabytes) MiB tmpfs on \(path) failed: \(mount.stderr)") }
        mounted = true
    }

    deinit { unmount() }

    /// Bytes free on the filesystem now.
    public var freeBytes: Int64 { FullDisk.freeBytes(at: path) ?? 0 }

    /// Writes a new filler file until at most `leaving` bytes are free (0: until ENOSPC).
    @discardableResult
    public func fill(leaving: Int64 = 0) -> Int64 {
        let name = lock.withLock { fillers += 1; return "\(path)/.fbtest-filler-\(fillers)" }
        let descriptor = open(name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { return 0 }
        defer { close(descriptor) }
        let chunk = [UInt8](repeating: 0x5a, count: 1 << 20)
        var written: Int64 = 0
        while true {
            let room = freeBytes - leaving
            guard room > 0 else { break }
            let size = Int(min(Int64(chunk.count), room))
            let wrote = chunk.withUnsafeBytes { write(descriptor, $0.baseAddress, size) }
            guard wrote > 0 else { break }
            written += Int64(wrote)
        }
        return written
    }

    /// Fills the filesystem (to ENOSPC) the first time `condition` holds, checked
    /// every millisecond until `stopWatching()` or `timeout` seconds.
    public func fill(when condition: @escaping @Sendable () -> Bool, timeout: Double = 900) {
        let deadline = Date().addingTimeInterval(timeout)
        lock.withLock { watchDone = false; watchFired = false }
        let thread = Thread { [self] in
            while lock.withLock({ !watchDone }) && Date() < deadline {
                if condition() {
                    lock.withLock { watchFired = true }
                    fill()
                    break
                }
                usleep(1000)
            }
            finished.signal()
        }
        watcher = thread
        thread.start()
    }

    /// Stops the watcher of `fill(when:)` and waits for it (a fill under way ends
    /// first); true when the condition held and it filled the filesystem.
    @discardableResult
    public func stopWatching() -> Bool {
        lock.withLock { watchDone = true }
        if watcher != nil { finished.wait(); watcher = nil }
        return lock.withLock { watchFired }
    }

    /// Removes every filler file: the space is free again.
    public func freeSpace() {
        for name in (try? FolderListing.names(in: path)) ?? [] where name.hasPrefix(".fbtest-filler-") {
            unlink("\(path)/\(name)")
        }
    }

    /// Names under the mount point (recursive, relative), filler files left out.
    public func listing() -> [String] {
        (FileManager.default.subpaths(atPath: path) ?? []).filter { !$0.hasPrefix(".fbtest-filler-") }.sorted()
    }

    /// Unmounts (lazily when busy) and removes the mount point if `init` created it.
    public func unmount() {
        _ = stopWatching()
        guard mounted else { return }
        mounted = false
        if (try? TestCommand.run(["umount", path]))?.status != 0 { _ = try? TestCommand.run(["umount", "-l", path]) }
        if createdFolder { rmdir(path) }
    }
}
