import FrostbyteCrypto
import FoundationEssentials

extension VerificationSession {
    /// Format v2, after the last entry (docs/FORMAT.md, "Provenance"): when the manifest
    /// names `provenance`, that file is in `files[]`, is a DSSE envelope of an in-toto
    /// Statement v1 with a SLSA provenance v1 predicate, one of its signatures verifies
    /// against a `--trust` key (without `--trust`: a warning), and its subject is exactly
    /// the other files of `files[]` with their SHA-256 (which the pass checked against
    /// their content). Each failure is a `provenance` problem naming its reason.
    func checkProvenance(_ manifest: Manifest, layout: LayoutState) {
        guard let path = manifest.provenance else { return }
        guard let listed = listedFiles[path], !listed.isDirectory else {
            problem(VerificationProblem(.manifestReference, path: path, expected: "listed in files[]", actual: "absent",
                                        "the provenance MANIFEST.json names is not a file of files[]"))
            return
        }
        guard let data = layout.documents[path] else {
            if layout.oversized.contains(path) {
                problem(VerificationProblem(.provenance, path: path, expected: "at most \(LayoutState.documentLimit >> 20) MiB",
                                            actual: "\(listed.size) bytes", "the provenance is too large to be read"))
            }
            return  // absent: reported as missing-file
        }
        func refuse(_ message: String, expected: String? = nil, actual: String? = nil) {
            problem(VerificationProblem(.provenance, path: path, expected: expected, actual: actual, message))
        }
        let payload: Data
        switch DSSE.open(data, trust: trust) {
        case .failure(let failure):
            switch failure {
            case .untrusted:
                refuse("the provenance's DSSE signature does not verify against any --trust key: " + failure.message,
                       expected: "a signature by \(trust.map(\.fingerprint.prefixed).joined(separator: " or "))",
                       actual: "a signature by another key, or of other bytes")
            default:
                refuse("the provenance is unusable: " + failure.message)
            }
            return
        case .success(let opened):
            payload = opened.payload
            if opened.matchedKey == nil {
                report.warnings.append("provenance signed, key not checked: pass --trust PUB to check \(path)")
            }
        }
        guard let statement = try? JSONDecoder().decode(BuildProvenance.Statement.self, from: payload) else {
            refuse("the provenance payload is not an in-toto Statement with a SLSA provenance predicate")
            return
        }
        guard statement.type == BuildProvenance.statementType, statement.predicateType == BuildProvenance.predicateType else {
            refuse("the provenance payload is of another kind",
                   expected: "\(BuildProvenance.statementType) / \(BuildProvenance.predicateType)",
                   actual: "\(statement.type) / \(statement.predicateType)")
            return
        }
        let expected = BuildProvenance.subject(of: manifest.files)
        guard statement.subject != expected else { return }
        let named = Dictionary(statement.subject.map { ($0.name ?? $0.uri ?? "", $0.digest["sha256"] ?? "") },
                               uniquingKeysWith: { first, _ in first })
        let first = expected.first { named[$0.name!] != $0.digest["sha256"] }
        refuse("the provenance's subject differs from the bundle's files",
               expected: first.map { "\($0.name!) sha256:\($0.digest["sha256"]!)" } ?? "\(expected.count) files",
               actual: first.map { named[$0.name!].map { "sha256:\($0)" } ?? "absent" } ?? "\(statement.subject.count) subjects")
    }
}
