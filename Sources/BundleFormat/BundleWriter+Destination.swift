import FrostbyteCore
import FrostbyteCrypto
import FrostbyteArchive
import FoundationEssentials
import Glibc

/// Where `BundleWriter` puts a bundle: one file plus its `.sha256` sidecar
/// (`SingleFileDestination`), or parts plus a parts index (`SplitPartsWriter`).
///
/// Contract: bytes arrive through `write` in order; `close()` ends them and returns
/// their SHA-256; `commit` writes what goes beside the bundle and renames everything
/// into place, the bundle's bytes first and the file that makes them usable (sidecar,
/// index) last. Until `commit` returns, nothing appears under a final name, and
/// `discard()` (also called after a commit, where it does nothing) removes every
/// temporary file; SIGINT/SIGTERM/SIGHUP remove them through `CleanupOnSignal`.
public protocol BundleDestination: ArchiveOutput {
    /// The bundle's path: the file itself, or for parts the file they make up when joined.
    var bundlePath: String { get }
    /// Bytes written so far.
    var size: Int64 { get }
    /// Ends the bytes; returns the SHA-256 of all of them. Call once, before `commit`.
    func close() throws -> SHA256Digest
    /// Writes the sidecar or index (signed with `signingKey` where the destination
    /// signs) and renames everything into place. Returns the sidecar's or index's path.
    func commit(manifest: Manifest, digest: SHA256Digest, signingKey: SigningKey?) throws -> String
    /// Removes what is not committed; safe to call more than once.
    func discard()
}

extension BundleWriter {
    /// A destination for `bundlePath`: parts of `splitSize` bytes and an index when
    /// `splitSize` is given, else the file and its sidecar. Create it before the long
    /// work, so an unwritable folder fails fast.
    /// - Throws: `BundleWriteError.cannotCreate`.
    public static func destination(at bundlePath: String, splitSize: Int64?) throws -> BundleDestination {
        if let splitSize { return try SplitPartsWriter(bundlePath: bundlePath, partSize: splitSize) }
        return SingleFileDestination(output: try AtomicOutputFile(finalPath: bundlePath),
                                     sidecar: try AtomicOutputFile(finalPath: bundlePath + ".sha256"))
    }
}

/// The bundle file and its `<file>.sha256` sidecar in `sha256sum` format.
public final class SingleFileDestination: BundleDestination {
    public let output: AtomicOutputFile
    public let sidecar: AtomicOutputFile

    public init(output: AtomicOutputFile, sidecar: AtomicOutputFile) {
        self.output = output
        self.sidecar = sidecar
    }

    public var bundlePath: String { output.finalPath }
    public var size: Int64 { output.size }

    public func write(_ bytes: UnsafeRawBufferPointer) throws { try output.write(bytes) }

    public func close() throws -> SHA256Digest { try output.close() }

    public func commit(manifest: Manifest, digest: SHA256Digest, signingKey: SigningKey?) throws -> String {
        try sidecar.write(Data("\(digest.hex)  \(PathText.lastComponent(output.finalPath))\n".utf8))
        _ = try sidecar.close()
        try output.commit()
        try sidecar.commit()
        return sidecar.finalPath
    }

    public func discard() {
        output.discard()
        sidecar.discard()
    }
}
