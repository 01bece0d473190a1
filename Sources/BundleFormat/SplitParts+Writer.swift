import FrostbyteCore
import FrostbyteCrypto
import FoundationEssentials
import Glibc

/// Writes a bundle as parts of `partSize` bytes while it is produced (no full-size
/// copy of the bundle is ever made): `<bundle>.part001`, `<bundle>.part002`, ... and
/// `<bundle>.parts.json` (`SplitPartsIndex`), plus `<bundle>.parts.json.sig` when a
/// signing key is given. No `<bundle>` and no `<bundle>.sha256` are written: the
/// index holds the whole bundle's size and SHA-256.
///
/// Guarantees: every part is written under a temporary name (`.<bundle>.part<n>.partial-<pid>`)
/// and hashed as it is written; `commit` renames the parts, then the signature, then
/// the index, so the index appears last, only when everything it lists is in place.
/// On any error before that, or SIGINT/SIGTERM/SIGHUP, no part, index or signature
/// remains (parts already renamed are removed again). Parts named
/// `<bundle>.part<number>` left beside the new set by an earlier, longer split of the
/// same bundle are removed after the commit, so `cat <bundle>.part*` joins exactly
/// the new set. Memory: one open part at a time, no buffer of its own.
public final class SplitPartsWriter: BundleDestination {
    public let bundlePath: String
    public let partSize: Int64
    private let folder: String
    private let bundleName: String
    private var parts: [(file: AtomicOutputFile, size: Int64, digest: SHA256Digest)] = []
    private var current: AtomicOutputFile?
    private let whole = SHA256Hasher()
    public private(set) var size: Int64 = 0

    /// The index path: `<bundle>.parts.json`.
    public var indexPath: String { bundlePath + SplitPartsIndex.suffix }

    /// Prepares parts of `partSize` bytes (>= 1) for the bundle `bundlePath`; the first
    /// part's temporary file is created now, so an unwritable folder fails at once.
    /// - Throws: `BundleWriteError.cannotCreate`.
    public init(bundlePath: String, partSize: Int64) throws {
        precondition(partSize > 0, "SplitPartsWriter: the part size must be positive")
        self.bundlePath = bundlePath
        self.partSize = partSize
        let parent = PathText.deletingLastComponent(bundlePath)
        folder = parent.isEmpty ? "." : parent
        bundleName = PathText.lastComponent(bundlePath)
        current = try AtomicOutputFile(finalPath: provisionalPath(1))
    }

    deinit { discard() }

    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        var offset = 0
        while offset < bytes.count {
            let part = try openPart()
            let count = Int(min(Int64(bytes.count - offset), partSize - part.size))
            let slice = UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + count)])
            try part.write(slice)
            whole.update(slice)
            size += Int64(count)
            offset += count
        }
    }

    public func close() throws -> SHA256Digest {
        try closeCurrent()
        return whole.finalize()
    }

    public func commit(manifest: Manifest, digest: SHA256Digest, signingKey: SigningKey?) throws -> String {
        precondition(current == nil && !parts.isEmpty, "SplitPartsWriter.commit() before close()")
        let names = (1...parts.count).map { SplitPartsIndex.partName(bundle: bundleName, index: $0, count: parts.count) }
        let index = SplitPartsIndex(
            bundle: bundleName, name: manifest.name, version: manifest.version, bundleId: manifest.bundleId,
            size: size, sha256: digest, partSize: partSize,
            parts: zip(parts, names).enumerated().map { offset, item in
                SplitPartsIndex.Part(file: item.1, index: offset + 1, size: item.0.size, sha256: item.0.digest)
            })
        let data = try DeterministicJSON.encode(index)
        let indexFile = try AtomicOutputFile(finalPath: indexPath)
        defer { indexFile.discard() }
        try indexFile.write(data)
        _ = try indexFile.close()
        let signatureFile = try signingKey.map { key -> AtomicOutputFile in
            let file = try AtomicOutputFile(finalPath: indexPath + ".sig")
            try file.write(try key.sign(data))
            _ = try file.close()
            return file
        }
        defer { signatureFile?.discard() }

        // An older index and signature describe parts about to be replaced: gone first,
        // so no moment shows an old index over new parts.
        unlink(indexPath)
        unlink(indexPath + ".sig")
        var renamed: [String] = []
        var tokens: [CleanupOnSignal.Token?] = []
        defer { tokens.forEach(CleanupOnSignal.unregister) }
        do {
            for (part, name) in zip(parts, names) {
                let path = PathText.join(folder, name)
                tokens.append(CleanupOnSignal.register(path))
                try part.file.commit(as: path)
                renamed.append(path)
            }
            try signatureFile?.commit()
            try indexFile.commit()
        } catch {
            renamed.forEach { unlink($0) }
            throw error
        }
        removeStaleParts(keeping: Set(names))
        return indexPath
    }

    public func discard() {
        current?.discard()
        for part in parts { part.file.discard() }
    }

    // MARK: - Parts

    /// Part `number` until the number of parts is known; renamed by `commit`.
    private func provisionalPath(_ number: Int) -> String {
        PathText.join(folder, "\(bundleName).part\(number)")
    }

    /// The part to write into: the current one, or the next when it is full.
    private func openPart() throws -> AtomicOutputFile {
        if let current, current.size < partSize { return current }
        try closeCurrent()
        let next = try AtomicOutputFile(finalPath: provisionalPath(parts.count + 1))
        current = next
        return next
    }

    private func closeCurrent() throws {
        guard let part = current else { return }
        current = nil
        let digest = try part.close()
        parts.append((part, part.size, digest))
    }

    /// Removes `<bundle>.part<number>` files an earlier split of the same bundle left.
    private func removeStaleParts(keeping names: Set<String>) {
        for name in (try? FolderListing.names(in: folder)) ?? []
        where !names.contains(name) && SplitPartsIndex.partNumber(name, bundle: bundleName) != nil {
            unlink(PathText.join(folder, name))
        }
    }
}
