import FrostbyteCore
import FrostbyteCrypto
import FrostbyteArchive
import FoundationEssentials
import Glibc

/// Errors creating or committing the bundle file and its sidecar.
public enum BundleWriteError: UserFacingError, Equatable {
    /// The output folder does not exist or cannot be written.
    case cannotCreate(path: String, reason: String)
    /// Writing, closing or renaming the output failed (disk full, I/O error).
    case writeFailed(path: String, reason: String)
    /// Two entries would have the same path, or an entry uses a reserved name.
    case duplicatePath(String)
    /// An entry name MANIFEST.json, MANIFEST.json.sig or SHA256SUMS, which the writer makes.
    case reservedPath(String)
    /// A path that is a file in one entry and a folder in another.
    case fileFolderClash(String)

    public var message: String {
        switch self {
        case .cannotCreate(let path, let reason):
            return "cannot create \(path): \(reason); choose an output folder that exists and is writable"
        case .writeFailed(let path, let reason):
            return FileWriteError.writeFailed(path: path, reason: reason).message
        case .duplicatePath(let path):
            return "two inputs would both be stored as '\(path)' in the bundle; rename one of them"
        case .reservedPath(let path):
            return "'\(path)' is written by the builder itself and cannot come from the inputs; remove it from the template"
        case .fileFolderClash(let path):
            return "'\(path)' would be both a file and a folder in the bundle; rename one of the inputs"
        }
    }

    public var exitStatus: ExitStatus {
        switch self {
        case .writeFailed: return .environment
        default: return .badInput
        }
    }
}

/// A file written under a temporary name in its final folder and renamed into place
/// only by `commit()`. Until then (an error, a thrown-away instance, or SIGINT/SIGTERM
/// through `CleanupOnSignal`) the temporary file is removed and `finalPath` is never
/// touched. Every byte written is also fed to SHA-256, so the file's digest is known
/// without reading it back. Owns its file descriptor.
public final class AtomicOutputFile: ArchiveOutput {
    public let finalPath: String
    public let temporaryPath: String
    private var descriptor: Int32
    private var token: CleanupOnSignal.Token?
    private let hasher = SHA256Hasher()
    private var committed = false
    /// Bytes written so far.
    public private(set) var size: Int64 = 0

    /// Creates the temporary file `.<name>.partial-<pid>` beside `finalPath`.
    /// - Throws: `BundleWriteError.cannotCreate` when the folder is missing or not writable.
    public init(finalPath: String) throws {
        let url = URL(fileURLWithPath: finalPath)
        let folder = url.deletingLastPathComponent().path
        let temporary = folder + "/." + url.lastPathComponent + ".partial-\(getpid())"
        var info = stat()
        guard stat(folder, &info) == 0, info.st_mode & S_IFMT == S_IFDIR else {
            throw BundleWriteError.cannotCreate(path: finalPath, reason: "the folder \(folder) does not exist")
        }
        // Registered before the file exists: a signal between open and register
        // would otherwise leave the temporary file behind.
        let token = CleanupOnSignal.register(temporary)
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0o644)
        guard descriptor >= 0 else {
            let reason = String(cString: strerror(errno))
            CleanupOnSignal.unregister(token)
            throw BundleWriteError.cannotCreate(path: finalPath, reason: reason)
        }
        self.finalPath = finalPath
        self.temporaryPath = temporary
        self.descriptor = descriptor
        self.token = token
    }

    deinit { discard() }

    /// Appends `bytes` and feeds them to the digest.
    /// - Throws: `BundleWriteError.writeFailed` (e.g. ENOSPC).
    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        guard bytes.count > 0 else { return }
        hasher.update(bytes)
        if let reason = FileDescriptorIO.writeAll(descriptor, bytes) {
            throw BundleWriteError.writeFailed(path: finalPath, reason: reason)
        }
        size += Int64(bytes.count)
    }

    /// Appends `data`.
    public func write(_ data: Data) throws {
        try data.withUnsafeBytes { try write($0) }
    }

    /// Closes the file and returns the SHA-256 of everything written. Call once,
    /// before `commit()`.
    /// - Throws: `BundleWriteError.writeFailed` when close reports a delayed write error.
    public func close() throws -> SHA256Digest {
        let status = Glibc.close(descriptor)
        descriptor = -1
        guard status == 0 else {
            throw BundleWriteError.writeFailed(path: finalPath, reason: String(cString: strerror(errno)))
        }
        return hasher.finalize()
    }

    /// Renames the closed temporary file to `finalPath`, replacing what was there.
    /// - Throws: `BundleWriteError.writeFailed`.
    public func commit() throws {
        try commit(as: finalPath)
    }

    /// Renames the closed temporary file to `path` (in the same folder: a split
    /// bundle's part, whose name is known only once the number of parts is).
    /// - Throws: `BundleWriteError.writeFailed`.
    public func commit(as path: String) throws {
        precondition(descriptor < 0, "AtomicOutputFile.commit() before close()")
        guard rename(temporaryPath, path) == 0 else {
            throw BundleWriteError.writeFailed(path: path, reason: String(cString: strerror(errno)))
        }
        committed = true
        CleanupOnSignal.unregister(token)
        token = nil
    }

    /// Removes the temporary file unless committed; safe to call more than once.
    public func discard() {
        if descriptor >= 0 {
            Glibc.close(descriptor)
            descriptor = -1
        }
        if !committed && token != nil {
            unlink(temporaryPath)
            CleanupOnSignal.unregister(token)
            token = nil
        }
    }
}
