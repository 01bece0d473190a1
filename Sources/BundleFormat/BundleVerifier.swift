import FrostbyteCore
import FrostbyteCrypto
import FrostbyteArchive
import Dispatch
import FoundationEssentials
import Glibc

/// Input that is not a bundle at all (exit status 2), as opposed to a bundle that
/// fails verification (a report with problems, exit status 1).
public enum BundleInputError: UserFacingError, Equatable {
    case notFound(path: String)
    case emptyFile(path: String)
    case notFileOrFolder(path: String)
    case notABundle(path: String, reason: String)

    public var message: String {
        switch self {
        case .notFound(let path):
            return "\(path) does not exist; pass the bundle's .tar.zst file or its extracted folder"
        case .emptyFile(let path):
            return "\(path) is empty, not a bundle; copy the bundle again"
        case .notFileOrFolder(let path):
            return "\(path) is neither a regular file nor a folder"
        case .notABundle(let path, let reason):
            return "\(path) is not a frostbyte bundle: \(reason)"
        }
    }

    public var exitStatus: ExitStatus { .badInput }
}

/// A public key the caller trusts to sign bundles, with its fingerprint.
public struct TrustedKey: Sendable {
    public let key: VerifyingKey
    /// SHA-256 of the DER SubjectPublicKeyInfo (`openssl pkey -pubin -outform DER | sha256sum`).
    public let fingerprint: SHA256Digest
    public let origin: String

    public init(key: VerifyingKey, origin: String = "<memory>") throws {
        self.key = key
        self.fingerprint = try key.fingerprint()
        self.origin = origin
    }

    /// Loads a PEM Ed25519 public key.
    /// - Throws: `SigningError` (unreadable, not PEM, not Ed25519), exit status 2.
    public init(contentsOf path: String) throws {
        try self.init(key: try VerifyingKey(contentsOf: path), origin: path)
    }
}

/// Verifies bundles (formats v1 and v2, docs/FORMAT.md) in one streaming pass.
///
/// For an archive: libarchive decompresses and parses the tar on one thread while
/// this thread hashes each entry as it streams by (a ring of six 1 MiB buffers
/// between them), so memory does not depend on the bundle's size. MANIFEST.json
/// comes first, so every later entry is checked as it arrives, including the
/// `docker save` archive inside each image entry. Nothing is written to disk unless
/// `extractTo` is given, and then only below that staging folder, which is removed
/// again if anything at all fails.
public enum BundleVerifier {
    /// Verifies the bundle at `path`: a `.tar.zst`/`.tar` file or an extracted folder.
    /// `base`: for a delta bundle, the MANIFEST.json of the release it builds on; the
    /// delta's in_base entries are then checked against it (without it they are only
    /// counted, and the report names the base they need).
    /// - Throws: `BundleInputError`, `ArchiveReadError.unrecognizedFormat` (not a
    ///   bundle, exit 2), `FileReadError`; a bundle that fails checks is a report
    ///   with problems, not an error.
    /// `observer` sees the files as they stream (`VerificationObserver`).
    public static func verify(path: String, trust: [TrustedKey] = [], base: BundleBaseManifest? = nil,
                              progress: ProgressReporter = SilentProgress(),
                              observer: VerificationObserver? = nil) throws -> VerificationReport {
        var info = stat()
        guard stat(path, &info) == 0 else {
            if errno == ENOENT || errno == ENOTDIR { throw BundleInputError.notFound(path: path) }
            throw FileReadError.cannotOpen(path: path, reason: String(cString: strerror(errno)))
        }
        if info.st_mode & S_IFMT == S_IFDIR {
            return try verify(directoryAt: path, trust: trust, base: base, progress: progress, observer: observer)
        }
        return try verify(archiveAt: path, trust: trust, base: base, extractTo: nil, progress: progress,
                          observer: observer)
    }

    /// Verifies the archive at `path` in one pass and, with `extractTo`, writes its
    /// entries (relative to the root folder) into that new staging folder as they
    /// stream. A path ending in `.parts.json` is a split bundle, verified across its
    /// parts (`verify(partsAt:)`). The installer's entry point: when the returned report is not
    /// `verified`, or when this throws, the staging folder no longer exists.
    /// - Parameters:
    ///   - trust: keys one of which must have signed MANIFEST.json; empty means the
    ///     signature is reported as a warning only.
    ///   - base: a delta's base manifest (see `verify(path:trust:base:progress:)`).
    ///   - extractTo: a path that must not exist yet (its parent must).
    ///   - onVerifiedImage: with `extractTo`, called on this thread for each image
    ///     archive as soon as it is verified and extracted (see `VerifiedImage` for
    ///     what is promised then), while later entries are still to come.
    /// - Throws: `BundleInputError` / `ArchiveReadError.unrecognizedFormat` (not a
    ///   bundle), `ExtractionError` (staging folder unusable, disk full).
    public static func verify(archiveAt path: String, trust: [TrustedKey] = [], base: BundleBaseManifest? = nil,
                              extractTo staging: String? = nil,
                              progress: ProgressReporter = SilentProgress(),
                              observer: VerificationObserver? = nil,
                              onVerifiedImage: ((VerifiedImage) -> Void)? = nil) throws -> VerificationReport {
        if SplitPartsIndex.isIndexPath(path) {
            return try verify(partsAt: path, trust: trust, base: base, extractTo: staging, progress: progress,
                              observer: observer, onVerifiedImage: onVerifiedImage)
        }
        let size = try archiveSize(path)
        let sidecarPath = path + ".sha256"
        let sidecar = FileManager.default.fileExists(atPath: sidecarPath) ? sidecarPath : nil
        let extractor = try staging.map { try SafeExtractor(stagingPath: $0) }
        var succeeded = false
        defer { if !succeeded { extractor?.discard() } }

        let session = VerificationSession(report: VerificationReport(source: path, sourceKind: .archive),
                                          trust: trust, extractor: extractor, isArchive: true)
        session.onVerifiedImage = onVerifiedImage
        session.observer = observer
        session.base = base
        let hint = splitHint(path)
        if let hint { session.report.warnings.append(hint) }
        progress.begin("verify", totalBytes: size)
        let rawDigest: SHA256Digest?
        do {
            rawDigest = try pump(session: session) { pipe, done in
                ArchivePump.start(path: path, hashRawBytes: sidecar != nil, pipe: pipe, progress: progress, done: done)
            }
        } catch BundleInputError.notABundle(let path, let reason) where hint != nil {
            throw BundleInputError.notABundle(path: path, reason: reason + "; " + hint!)
        }
        progress.end()
        if let sidecar { checkSidecar(sidecar, archive: path, digest: rawDigest, session: session) }
        else { session.report.sidecar = "absent" }
        let report = try session.conclude()
        if report.verified {
            extractor?.syncDirectories()
            succeeded = true
        }
        return report
    }

    /// Runs the reader thread `start` starts and feeds its events through the session.
    static func pump(session: VerificationSession, start: (ChunkPipe, DispatchSemaphore) -> Void) throws -> SHA256Digest? {
        let pipe = ChunkPipe()
        let done = DispatchSemaphore(value: 0)
        start(pipe, done)
        defer {
            pipe.cancel()
            done.wait()
        }
        var sawEntry = false
        while true {
            switch pipe.receive() {
            case .entry(let header):
                sawEntry = true
                let chunks = PipeEntryChunks(pipe: pipe)
                try session.process(header, data: chunks, isComplete: { chunks.terminal == nil })
                if session.refusedAtHeader { return nil }
                switch chunks.terminal {
                case .failed(let error)?:
                    try archiveFailed(error, sawEntry: true, session: session)
                    return nil
                case .partFailed(let problem)?:
                    session.problem(problem)
                    return nil
                case .finished(let digest)?:
                    return digest
                default: continue
                }
            case .finished(let digest):
                return digest
            case .failed(let error):
                try archiveFailed(error, sawEntry: sawEntry, session: session)
                return nil
            case .partFailed(let problem):
                session.problem(problem)
                return nil
            case .data(let slot, _):
                pipe.release(slot: slot)
            case .endOfEntry:
                continue
            }
        }
    }

    private static func archiveFailed(_ error: ArchiveReadError, sawEntry: Bool, session: VerificationSession) throws {
        switch error {
        case .unrecognizedFormat, .unsupportedFormat:
            if !sawEntry { throw BundleInputError.notABundle(path: session.report.source, reason: error.message) }
        case .readFailed:
            throw error
        default:
            break
        }
        session.problem(VerificationProblem(.archive, path: error.entry, error.message))
    }

    private static func archiveSize(_ path: String) throws -> Int64 {
        var info = stat()
        guard stat(path, &info) == 0 else {
            if errno == ENOENT || errno == ENOTDIR { throw BundleInputError.notFound(path: path) }
            throw FileReadError.cannotOpen(path: path, reason: String(cString: strerror(errno)))
        }
        guard info.st_mode & S_IFMT == S_IFREG else { throw BundleInputError.notFileOrFolder(path: path) }
        guard info.st_size > 0 else { throw BundleInputError.emptyFile(path: path) }
        return Int64(info.st_size)
    }

    /// `<bundle>.sha256` in `sha256sum` format must name the bundle's digest.
    private static func checkSidecar(_ sidecar: String, archive: String, digest: SHA256Digest?,
                                     session: VerificationSession) {
        guard let digest else { return }
        let text = (try? String(contentsOfFile: sidecar, encoding: .utf8)) ?? ""
        let line = text.split(separator: "\n").first.map(String.init) ?? ""
        let fields = line.split(separator: " ", maxSplits: 1)
        guard fields.count == 2, let expected = SHA256Digest(hex: String(fields[0])) else {
            session.report.sidecar = "mismatch"
            session.problem(VerificationProblem(.sidecar, path: sidecar, expected: "<64 hex>  <file name>",
                                                actual: String(line.prefix(80)), "sidecar is not in sha256sum format"))
            return
        }
        let named = String(fields[1].drop { $0 == " " || $0 == "*" }.reversed().drop { $0 == " " || $0 == "*" }.reversed())
        let base = PathText.lastComponent(archive)
        if named != base {
            session.report.warnings.append("\(sidecar) names '\(named)', not '\(base)'; 'sha256sum -c' will not find the bundle")
        }
        if expected == digest {
            session.report.sidecar = "ok"
        } else {
            session.report.sidecar = "mismatch"
            session.problem(VerificationProblem(.sidecar, path: sidecar, expected: expected.hex, actual: digest.hex,
                                                "the bundle's SHA-256 differs from its .sha256 file"))
        }
    }
}
