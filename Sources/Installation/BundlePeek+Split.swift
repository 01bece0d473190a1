import BundleFormat
import FoundationEssentials
import Glibc

extension BundlePeek {
    /// The manifest of a split bundle, from the head of its first part, read only once
    /// the index has been checked: it parses (else `SplitIndexError`, exit 2), every
    /// part is present with its listed size and nothing stray lies beside them, and,
    /// when `trust` is given, the index is signed by one of those keys (else
    /// `InstallError.verificationFailed`, exit 1, naming the part or the signature).
    /// When part 1 does not start a bundle, part 1 is read to its end, and a part 1
    /// that is not the one the index lists is named instead of "not a bundle".
    /// Nothing here is trusted yet: `install` verifies every part while it extracts.
    static func manifest(ofPartsAt path: String, trust: [TrustedKey]) throws -> (manifest: Manifest, bytes: Data) {
        let set = try SplitPartsSet(indexPath: path)
        let problems = set.preflight(trust: trust).problems
        guard problems.isEmpty else {
            let more = problems.count > 5 ? " (and \(problems.count - 5) more)" : ""
            throw InstallError.verificationFailed(detail: problems.prefix(5).map(\.description).joined(separator: "; ") + more)
        }
        do {
            return try manifest(ofArchiveAt: path)
        } catch let error as InstallError {
            if let problem = set.contentProblem(ofPart: 1) {
                throw InstallError.verificationFailed(detail: problem.description)
            }
            throw error
        }
    }
}
