import FrostbyteCore
import BundleFormat
import FoundationEssentials
import Glibc

/// `verify-bundle` on a small mutated bundle: the input is written to a scratch
/// `.tar.zst` file (zstd or plain tar, libarchive decides) and verified in full,
/// streaming pipeline included. With FROSTBYTE_FUZZ_TRUST (scripts/fuzz passes
/// Fuzz/corpus/verify-trust.pub, the key the seeds are signed with) the signature
/// is checked too.
enum VerifyTarget {
    nonisolated(unsafe) static var bundlePath = ""
    nonisolated(unsafe) static var trust: [TrustedKey] = []
    /// FROSTBYTE_FUZZ_SHOW=1: print each outcome (to check that the seeds verify).
    nonisolated(unsafe) static var show = false

    static func setUp() throws {
        var template = Array("/tmp/frostbyte-fuzz-verify-XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else { throw FuzzSetUpError("mkdtemp failed") }
        bundlePath = String(cString: made) + "/demo-1.0.0.tar.zst"
        if let key = ProcessInfo.processInfo.environment["FROSTBYTE_FUZZ_TRUST"], !key.isEmpty {
            trust = [try TrustedKey(contentsOf: key)]
        }
        show = ProcessInfo.processInfo.environment["FROSTBYTE_FUZZ_SHOW"] == "1"
    }

    static let verify = FuzzTarget(
        name: "verify", summary: "verify-bundle on a small bundle file (tar and zstd structure, MANIFEST, images)",
        setUp: setUp,
        run: { bytes in
            let descriptor = open(bundlePath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
            precondition(descriptor >= 0, "cannot write \(bundlePath)")
            let written = bytes.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
            close(descriptor)
            precondition(written == bytes.count, "short write to \(bundlePath)")
            do {
                let report = try BundleVerifier.verify(archiveAt: bundlePath, trust: trust)
                if show { complain("verified=\(report.verified) \(report.problems.map(\.message))") }
            } catch {
                if show { complain("refused: \(error)") }
            }
        })
}
