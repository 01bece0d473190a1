import FrostbyteCore
import FoundationEssentials
import Glibc

/// Errors writing extracted entries. Paths are relative to the staging folder.
public enum ExtractionError: UserFacingError, Equatable {
    case stagingExists(path: String)
    case cannotCreateStaging(path: String, reason: String)
    case unsafePath(String)
    case cannotCreate(path: String, reason: String)
    case writeFailed(path: String, reason: String)

    public var message: String {
        switch self {
        case .stagingExists(let path):
            return "staging folder \(path) already exists; remove it or choose another"
        case .cannotCreateStaging(let path, let reason):
            return "cannot create staging folder \(path): \(reason)"
        case .unsafePath(let path):
            return "refusing to extract \(path): not a safe relative path"
        case .cannotCreate(let path, let reason):
            return "cannot create \(path) in the staging folder: \(reason)"
        case .writeFailed(let path, let reason):
            return "writing \(path) in the staging folder failed: \(reason); check free space"
        }
    }

    public var exitStatus: ExitStatus {
        switch self {
        case .unsafePath: return .checkFailed
        default: return .environment
        }
    }
}

/// Writes bundle entries below one staging folder and nowhere else.
///
/// Every write is anchored to a directory file descriptor: each path component is
/// opened with `openat(..., O_DIRECTORY | O_NOFOLLOW)`, files are created with
/// `O_CREAT | O_EXCL | O_NOFOLLOW` (an existing name, symlink or not, is an error),
/// modes are masked to `& 0o777`, and data is fsynced before the file is closed.
/// Paths must already be validated as safe relative paths; `..`, `.`, empty
/// components and absolute paths are refused again here. `discard()` removes the
/// whole staging folder without following symlinks.
public final class SafeExtractor {
    public let stagingPath: String
    private var rootDescriptor: Int32

    /// Creates the staging folder (it must not exist; its parent must) and opens it.
    public init(stagingPath: String) throws {
        self.stagingPath = stagingPath
        if mkdir(stagingPath, 0o700) != 0 {
            if errno == EEXIST { throw ExtractionError.stagingExists(path: stagingPath) }
            throw ExtractionError.cannotCreateStaging(path: stagingPath, reason: String(cString: strerror(errno)))
        }
        rootDescriptor = open(stagingPath, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard rootDescriptor >= 0 else {
            let reason = String(cString: strerror(errno))
            rmdir(stagingPath)
            throw ExtractionError.cannotCreateStaging(path: stagingPath, reason: reason)
        }
    }

    deinit {
        if rootDescriptor >= 0 { close(rootDescriptor) }
    }

    /// Creates directory `path` (and missing parents, mode 0755) with `mode & 0o777`.
    /// An existing directory is accepted and given the mode; anything else there is an error.
    public func makeDirectory(_ path: String, mode: UInt32) throws {
        let parts = try components(path)
        let parent = try openParent(parts, path: path)
        defer { close(parent) }
        let name = parts[parts.count - 1]
        if mkdirat(parent, name, 0o700) != 0 && errno != EEXIST {
            throw ExtractionError.cannotCreate(path: path, reason: String(cString: strerror(errno)))
        }
        let directory = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard directory >= 0 else {
            throw ExtractionError.cannotCreate(path: path, reason: String(cString: strerror(errno)))
        }
        defer { close(directory) }
        fchmod(directory, mode_t(mode & 0o777))
    }

    /// Creates the regular file `path` (it must not exist) and returns a writer for it.
    public func createFile(_ path: String, mode: UInt32) throws -> ExtractedFileWriter {
        let parts = try components(path)
        let parent = try openParent(parts, path: path)
        defer { close(parent) }
        let descriptor = openat(parent, parts[parts.count - 1],
                                O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode_t(0o600))
        guard descriptor >= 0 else {
            throw ExtractionError.cannotCreate(path: path, reason: String(cString: strerror(errno)))
        }
        return ExtractedFileWriter(descriptor: descriptor, path: path, mode: mode & 0o777)
    }

    /// Gives the staging folder its final mode 0755 (it is created 0700 so nobody
    /// else can look in while it is being written) and flushes its entries to disk.
    public func syncDirectories() {
        fchmod(rootDescriptor, 0o755)
        fsync(rootDescriptor)
    }

    /// Removes the staging folder and everything in it (symlinks are removed, never followed).
    public func discard() {
        if rootDescriptor >= 0 {
            close(rootDescriptor)
            rootDescriptor = -1
        }
        try? FileManager.default.removeItem(atPath: stagingPath)
    }

    // MARK: - Internals

    private func components(_ path: String) throws -> [String] {
        let parts = path.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        guard !path.isEmpty, !path.hasPrefix("/"), !parts.contains(where: { $0.isEmpty || $0 == "." || $0 == ".." }),
              !path.utf8.contains(0) else {
            throw ExtractionError.unsafePath(path)
        }
        return parts
    }

    /// Opens (creating as needed) every directory above the last component.
    private func openParent(_ parts: [String], path: String) throws -> Int32 {
        var current = dup(rootDescriptor)
        guard current >= 0 else {
            throw ExtractionError.cannotCreate(path: path, reason: String(cString: strerror(errno)))
        }
        for part in parts.dropLast() {
            if mkdirat(current, part, 0o755) != 0 && errno != EEXIST {
                let reason = String(cString: strerror(errno))
                close(current)
                throw ExtractionError.cannotCreate(path: path, reason: reason)
            }
            let next = openat(current, part, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
            let reason = String(cString: strerror(errno))
            close(current)
            guard next >= 0 else { throw ExtractionError.cannotCreate(path: path, reason: reason) }
            current = next
        }
        return current
    }
}

/// One file being extracted: write chunks, then `finish()` (fchmod, fsync, close).
/// Closing without `finish()` leaves a partial file that `SafeExtractor.discard()` removes.
public final class ExtractedFileWriter {
    private var descriptor: Int32
    public let path: String
    private let mode: UInt32

    init(descriptor: Int32, path: String, mode: UInt32) {
        self.descriptor = descriptor
        self.path = path
        self.mode = mode
    }

    deinit {
        if descriptor >= 0 { close(descriptor) }
    }

    /// Appends `chunk` to the file, retrying short writes.
    public func write(_ chunk: UnsafeRawBufferPointer) throws {
        if let reason = FileDescriptorIO.writeAll(descriptor, chunk) {
            throw ExtractionError.writeFailed(path: path, reason: reason)
        }
    }

    /// Sets the final mode, flushes the data to disk and closes the file.
    public func finish() throws {
        guard descriptor >= 0 else { return }
        let descriptor = self.descriptor
        self.descriptor = -1
        defer { close(descriptor) }
        guard fchmod(descriptor, mode_t(mode)) == 0, fsync(descriptor) == 0 else {
            throw ExtractionError.writeFailed(path: path, reason: String(cString: strerror(errno)))
        }
    }
}
