import FrostbyteCore
import FrostbyteArchive
import Dispatch
import FoundationEssentials
import Glibc

extension BundleVerifier {
    /// Verifies a split bundle from its index (`<bundle>.parts.json`) in one streaming
    /// pass across its parts, with no joined copy on disk; `verify(archiveAt:)` comes
    /// here for such a path, so `verify-bundle` and `install` behave alike.
    ///
    /// Before any byte of a part is read, `SplitPartsSet.preflight` checks the parts'
    /// presence and sizes, stray parts beside them and, with `trust`, the index
    /// signature; any problem there ends the verification with a report naming it. Then
    /// the parts stream through the same session as a bundle file: each part is checked
    /// at its end before the next is read (`SplitPartsReader`), the whole bundle's
    /// SHA-256 at the end, and the index's name, version and bundle_id against the
    /// manifest. When the pass stops early, the part it stopped in is read to its end
    /// and named if it differs from the index, so a swapped or damaged part is reported
    /// as such rather than as a damaged archive.
    /// - Throws: `SplitIndexError` (not a usable index, exit 2), `BundleInputError`,
    ///   `ExtractionError`; part problems are reported, not thrown.
    static func verify(partsAt indexPath: String, trust: [TrustedKey], base: BundleBaseManifest?, extractTo staging: String?,
                       progress: ProgressReporter, observer: VerificationObserver? = nil,
                       onVerifiedImage: ((VerifiedImage) -> Void)?) throws -> VerificationReport {
        let set = try SplitPartsSet(indexPath: indexPath)
        let (problems, summary) = set.preflight(trust: trust)
        var initial = VerificationReport(source: indexPath, sourceKind: .archive)
        initial.parts = summary
        guard problems.isEmpty else {
            initial.problems = problems
            return initial
        }
        let extractor = try staging.map { try SafeExtractor(stagingPath: $0) }
        var succeeded = false
        defer { if !succeeded { extractor?.discard() } }

        let session = VerificationSession(report: initial, trust: trust, extractor: extractor, isArchive: true)
        session.onVerifiedImage = onVerifiedImage
        session.observer = observer
        session.base = base
        let parts = SplitPartsReader(set: set) { progress.advance(by: $0) }
        progress.begin("verify", totalBytes: set.index.size)
        do {
            _ = try pump(session: session) { pipe, done in ArchivePump.start(parts: parts, pipe: pipe, done: done) }
        } catch let error as BundleInputError {
            // Part 1 did not start a bundle: a part problem when part 1 is not what the index lists.
            guard let problem = parts.settle() else { throw error }
            session.problem(problem)
        }
        progress.end()
        if let problem = parts.settle() { session.problem(problem) }
        var report = try session.conclude()
        if let manifest = report.manifest {
            let index = set.index
            let listed = "\(index.name) \(index.version) \(index.bundleId)"
            let found = "\(manifest.name) \(manifest.version) \(manifest.bundleId)"
            if listed != found {
                report.problems.append(VerificationProblem(
                    .partsIndex, path: PathText.lastComponent(indexPath), expected: listed, actual: found,
                    "the parts index names another bundle than the one its parts make up"))
            }
        }
        if report.verified {
            extractor?.syncDirectories()
            succeeded = true
        }
        return report
    }

    /// A warning when `path` is one part of a split bundle (`<bundle>.part<number>`)
    /// whose index lies beside it: a part alone is not a bundle.
    static func splitHint(_ path: String) -> String? {
        let name = PathText.lastComponent(path)
        guard let dot = name.lastIndex(of: ".") else { return nil }
        let stem = String(name[..<dot])
        guard SplitPartsIndex.partNumber(name, bundle: stem) != nil else { return nil }
        let index = PathText.join(PathText.deletingLastComponent(path), stem + SplitPartsIndex.suffix)
        var info = stat()
        guard stat(index, &info) == 0 else { return nil }
        return "\(name) is one part of a split bundle: verify \(index) to check the whole bundle across its parts"
    }
}
