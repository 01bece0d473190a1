import FrostbyteCore
import FrostbyteCrypto
import FoundationEssentials
import Glibc
import Synchronization

/// A private folder of content-addressed blobs (`<hex>` files) that a v2 build
/// collects before packing: each blob is stored once, whichever images use it.
/// Owns the folder: everything in it is removed when the value goes away, on
/// `remove()`, and on SIGINT/SIGTERM/SIGHUP (`CleanupOnSignal`).
/// Safe to share between threads: the only mutable state (the signal-cleanup token and
/// the temporary-name counter) is behind one `Mutex`.
public final class BlobFolder: Sendable {
    public let path: String
    private struct State {
        var token: CleanupOnSignal.Token?
        var counter = 0
        /// Blobs removed by `release` (packed already): still "stored" for `contains`.
        var released: Set<String> = []
        /// Bytes of the blobs stored uncompressed and not yet released, by digest.
        var plain: [String: Int64] = [:]
        var plainBytes: Int64 = 0
    }
    private let state = Mutex(State())

    /// Creates the folder `path` (mode 0700); it must not exist.
    /// - Throws: `BundleWriteError.cannotCreate`.
    public init(path: String) throws {
        self.path = path
        guard mkdir(path, 0o700) == 0 else {
            throw BundleWriteError.cannotCreate(path: path, reason: String(cString: strerror(errno)))
        }
        let token = CleanupOnSignal.register(action: { [path] in BlobFolder.removeTree(path) })
        state.withLock { $0.token = token }
    }

    deinit { remove() }

    /// Where the blob `sha256:<hex>` is (or would be) stored.
    public func blobPath(_ digest: String) -> String { path + "/" + digest.dropPrefix("sha256:") }

    /// Where the blob is stored when it was staged zstd-compressed (`adopt(_:as:compressed:)`).
    public func compressedPath(_ digest: String) -> String { blobPath(digest) + ".zst" }

    /// The stored blob as a bundle entry's source: the plain file, or the compressed one.
    public func source(_ digest: String) -> BundleEntry.Source {
        access(blobPath(digest), F_OK) != 0 && access(compressedPath(digest), F_OK) == 0
            ? .zstdFile(compressedPath(digest)) : .file(blobPath(digest))
    }

    /// True when the blob is already stored (or was, and was `release`d).
    public func contains(_ digest: String) -> Bool {
        access(blobPath(digest), F_OK) == 0 || access(compressedPath(digest), F_OK) == 0
            || state.withLock { $0.released.contains(digest) }
    }

    /// Bytes of the blobs held uncompressed (stored and not yet released).
    public var plainBytesHeld: Int64 { state.withLock { $0.plainBytes } }

    /// Removes the blob's file once it is no longer needed (packed into the bundle);
    /// it still counts as stored, so an image that carries it again does not store it
    /// a second time (`adopt` drops the new copy).
    public func release(_ digest: String) {
        state.withLock { state in
            state.released.insert(digest)
            if let bytes = state.plain.removeValue(forKey: digest) { state.plainBytes -= bytes }
        }
        unlink(blobPath(digest))
        unlink(compressedPath(digest))
    }

    /// A new temporary file path inside the folder, for a blob whose digest is not yet known.
    public func temporaryPath() -> String {
        let number = state.withLock { state in
            state.counter += 1
            return state.counter
        }
        return path + "/.incoming-\(number)"
    }

    /// Moves the finished file at `temporary` to its content address, or drops it
    /// when that blob is already stored. `compressed`: the file holds the blob's bytes
    /// as zstd (`source` then names it `.zstdFile`).
    /// - Throws: `BundleWriteError.writeFailed`.
    public func adopt(_ temporary: String, as digest: String, compressed: Bool = false) throws {
        let target = compressed ? compressedPath(digest) : blobPath(digest)
        if contains(digest) {
            unlink(temporary)
            return
        }
        var info = stat()
        let bytes = !compressed && stat(temporary, &info) == 0 ? Int64(info.st_size) : 0
        guard rename(temporary, target) == 0 else {
            throw BundleWriteError.writeFailed(path: target, reason: String(cString: strerror(errno)))
        }
        if !compressed {
            state.withLock { state in
                state.plain[digest] = bytes
                state.plainBytes += bytes
            }
        }
    }

    /// Stores small `data` as the blob it hashes to; returns its digest.
    /// - Throws: `BundleWriteError.writeFailed`.
    @discardableResult
    public func store(_ data: Data) throws -> String {
        let digest = SHA256Hasher.hash(data).prefixed
        guard !contains(digest) else { return digest }
        let temporary = temporaryPath()
        try AtomicFile.write(data, to: temporary, mode: 0o600)
        try adopt(temporary, as: digest)
        return digest
    }

    /// Deletes the folder and every file in it; safe to call more than once.
    public func remove() {
        Self.removeTree(path)
        CleanupOnSignal.unregister(state.withLock { state in
            defer { state.token = nil }
            return state.token
        })
    }

    private static func removeTree(_ path: String) {
        for name in (try? FolderListing.names(in: path)) ?? [] { unlink(path + "/" + name) }
        rmdir(path)
    }
}
