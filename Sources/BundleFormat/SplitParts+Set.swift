import FrostbyteCore
import FrostbyteCrypto
import FoundationEssentials
import Glibc

/// What a split bundle's index says about its parts, for reports (`verify-bundle
/// --json` and `inspect --json` carry it as `parts`).
public struct SplitPartsSummary: Codable, Sendable, Equatable {
    /// The index file as given.
    public var index: String
    /// The whole bundle's file name (what `cat <bundle>.part* > <bundle>` makes).
    public var bundle: String
    public var count: Int
    public var partSize: Int64
    /// Size and SHA-256 of the whole bundle, from the index.
    public var size: Int64
    public var sha256: SHA256Digest
    /// The state of `<index>.sig`: `unsigned`, `signed-unchecked` (no `--trust`),
    /// `trusted`, `untrusted`.
    public var signature: SignatureStatus

    enum CodingKeys: String, CodingKey {
        case index, bundle, count, size, sha256, signature
        case partSize = "part_size"
    }
}

/// A parts index read from disk with the folder its parts live in. Opening it reads
/// and checks only the index (`SplitPartsIndex.decode`); `preflight` then looks at
/// the parts' presence and sizes, the folder and the index signature, still without
/// reading a byte of any part.
public struct SplitPartsSet: Sendable {
    /// The index file as given.
    public let indexPath: String
    /// The folder holding the index and its parts.
    public let folder: String
    public let index: SplitPartsIndex
    /// The exact bytes of the index (what its signature covers).
    public let indexData: Data

    /// Reads and checks the index at `indexPath`.
    /// - Throws: `BundleInputError.notFound`, `SplitIndexError` (exit 2).
    public init(indexPath: String) throws {
        let descriptor = open(indexPath, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else {
            if errno == ENOENT || errno == ENOTDIR { throw BundleInputError.notFound(path: indexPath) }
            throw SplitIndexError.unreadable(path: indexPath, reason: String(cString: strerror(errno)))
        }
        defer { close(descriptor) }
        let data = try Self.readSmall(descriptor, limit: SplitPartsIndex.sizeLimit) {
            SplitIndexError.unreadable(path: indexPath, reason: $0)
        }
        guard let data else {
            throw SplitIndexError.malformed(path: indexPath, detail: "it is larger than \(SplitPartsIndex.sizeLimit >> 20) MiB")
        }
        self.indexPath = indexPath
        let parent = PathText.deletingLastComponent(indexPath)
        self.folder = parent.isEmpty ? "." : parent
        self.index = try SplitPartsIndex.decode(data, path: indexPath)
        self.indexData = data
    }

    /// `<index>.sig`, the raw Ed25519 signature of the index bytes.
    public var signaturePath: String { indexPath + ".sig" }

    /// The path of part `number` (1-based).
    public func path(ofPart number: Int) -> String {
        PathText.join(folder, index.parts[number - 1].file)
    }

    /// Everything that can be known before a byte of a part is read: each listed part
    /// exists as a regular file of its listed size, no `<bundle>.part<number>` the index
    /// does not list lies beside it, and, with `trust`, the index is signed by one of
    /// those keys. Problems are `part` (naming the part) and `parts-signature`.
    public func preflight(trust: [TrustedKey]) -> (problems: [VerificationProblem], summary: SplitPartsSummary) {
        var problems: [VerificationProblem] = []
        for part in index.parts {
            if let problem = Self.presenceProblem(part, path: PathText.join(folder, part.file)) { problems.append(problem) }
        }
        let listed = Set(index.parts.map(\.file))
        let names = ((try? FolderListing.names(in: folder)) ?? []).sorted()
        for name in names where !listed.contains(name) {
            guard let number = SplitPartsIndex.partNumber(name, bundle: index.bundle) else { continue }
            problems.append(VerificationProblem(
                .part, path: name, expected: "\(index.parts.count) parts", actual: "also \(name)", part: number,
                "\(name) lies beside the index but is not one of its \(index.parts.count) parts (left from another build?); remove it, or use the index it belongs to"))
        }
        let (signature, signatureProblem) = checkSignature(trust: trust)
        if let signatureProblem { problems.append(signatureProblem) }
        let summary = SplitPartsSummary(index: indexPath, bundle: index.bundle, count: index.parts.count,
                                        partSize: index.partSize, size: index.size, sha256: index.sha256,
                                        signature: signature)
        return (problems, summary)
    }

    /// A missing part, a part that is not a regular file, or one of another size.
    static func presenceProblem(_ part: SplitPartsIndex.Part, path: String) -> VerificationProblem? {
        var info = stat()
        guard stat(path, &info) == 0 else {
            let missing = errno == ENOENT || errno == ENOTDIR
            return VerificationProblem(
                .part, path: part.file, expected: "\(part.size) bytes", actual: missing ? "absent" : "unreadable",
                part: part.index,
                missing ? "part \(part.index) (\(part.file)) is missing; copy it beside the index"
                    : "part \(part.index) (\(part.file)) cannot be read: \(String(cString: strerror(errno)))")
        }
        guard info.st_mode & S_IFMT == S_IFREG else {
            return VerificationProblem(.part, path: part.file, expected: "a regular file", actual: "another kind of file",
                                       part: part.index, "part \(part.index) (\(part.file)) is not a regular file")
        }
        let size = Int64(info.st_size)
        guard size == part.size else {
            let how = size < part.size ? "truncated" : "larger than the index says"
            return VerificationProblem(
                .part, path: part.file, expected: "\(part.size) bytes", actual: "\(size) bytes", part: part.index,
                "part \(part.index) (\(part.file)) is \(how): \(size) bytes, the index says \(part.size)")
        }
        return nil
    }

    /// Reads part `number` (1-based) alone, to its end, and returns its problem when it
    /// is missing, of another size or holds other bytes than the index lists. For the
    /// failure path of a reader that only looked at the head of part 1 (`install`'s
    /// preflight): it names a swapped or foreign first part instead of "not a bundle".
    public func contentProblem(ofPart number: Int) -> VerificationProblem? {
        let part = index.parts[number - 1]
        let path = path(ofPart: number)
        if let problem = Self.presenceProblem(part, path: path) { return problem }
        let hasher = SHA256Hasher()
        do {
            let size = try ChunkedFileReader(path: path).forEachChunk { hasher.update($0) }
            guard size == part.size else {
                return VerificationProblem(.part, path: part.file, expected: "\(part.size) bytes", actual: "\(size) bytes",
                                           part: part.index, "part \(part.index) (\(part.file)) changed size while it was read")
            }
        } catch {
            let reason = (error as? UserFacingError)?.message ?? "\(error)"
            return VerificationProblem(.part, path: part.file, expected: "a readable file", actual: reason, part: part.index,
                                       "part \(part.index) (\(part.file)) cannot be read: \(reason)")
        }
        let digest = hasher.finalize()
        return digest == part.sha256 ? nil : contentProblem(part, digest: digest)
    }

    /// Names what a part that hashes differently most likely is.
    func contentProblem(_ part: SplitPartsIndex.Part, digest: SHA256Digest) -> VerificationProblem {
        let cause: String
        if let other = index.parts.first(where: { $0.sha256 == digest && $0.index != part.index }) {
            cause = "it holds the bytes of part \(other.index) (parts swapped or duplicated); put \(other.file)'s bytes back under their own name"
        } else {
            cause = "a damaged copy, a part of another bundle, or an index from another build; copy the part again from the same build as the index"
        }
        return VerificationProblem(
            .part, path: part.file, expected: part.sha256.hex, actual: digest.hex, part: part.index,
            "part \(part.index) (\(part.file)) differs from the index: \(cause)")
    }

    /// The index signature's state, and the problem it is when `trust` was given.
    private func checkSignature(trust: [TrustedKey]) -> (SignatureStatus, VerificationProblem?) {
        let fingerprints = trust.map(\.fingerprint.hex)
        let file = PathText.lastComponent(signaturePath)
        let descriptor = open(signaturePath, O_RDONLY | O_CLOEXEC)
        let signature = descriptor < 0 ? nil : (try? Self.readSmall(descriptor, limit: 4096) { _ in CancellationError() }) ?? nil
        if descriptor >= 0 { close(descriptor) }
        guard let signature else {
            let status = SignatureStatus(state: .unsigned, trustedKeys: fingerprints)
            guard !trust.isEmpty else { return (status, nil) }
            return (status, VerificationProblem(
                .partsSignature, path: file, expected: "a signature by a trusted key", actual: "absent",
                "the parts index is not signed (no \(file)), but --trust was given"))
        }
        guard !trust.isEmpty else { return (SignatureStatus(state: .signedUnchecked), nil) }
        if let key = trust.first(where: { $0.key.isValidSignature(signature, for: indexData) }) {
            return (SignatureStatus(state: .trusted, matchedKey: key.fingerprint.hex, trustedKeys: fingerprints), nil)
        }
        let actual = signature.count == 64 ? "a signature by another key, or of other bytes" : "\(signature.count) bytes, not an Ed25519 signature"
        return (SignatureStatus(state: .untrusted, trustedKeys: fingerprints), VerificationProblem(
            .partsSignature, path: file, expected: "a signature by \(fingerprints.joined(separator: " or "))",
            actual: actual, "\(file) does not verify the parts index against any --trust key"))
    }

    /// Reads a whole small file; nil when it is larger than `limit`.
    static func readSmall(_ descriptor: Int32, limit: Int, failure: (String) -> any Error) throws -> Data? {
        var data = Data()
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 64 << 10, alignment: 16)
        defer { buffer.deallocate() }
        while true {
            let count = try FileDescriptorIO.read(descriptor, into: buffer, failure: failure)
            if count == 0 { return data }
            data.append(contentsOf: UnsafeRawBufferPointer(rebasing: buffer[0..<count]))
            if data.count > limit { return nil }
        }
    }
}
