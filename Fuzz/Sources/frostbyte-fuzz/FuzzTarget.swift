import FoundationEssentials
import Glibc

/// One fuzz target: a name (`scripts/fuzz --list`), a one-time set-up and a body
/// that feeds one input to the code under test. A body only returns: a thrown
/// error is the parser refusing the input, which is the expected outcome; a crash,
/// a trap (overflow, index out of range, a failed oracle `precondition`), a hang or
/// a sanitizer report is a finding.
struct FuzzTarget: Sendable {
    let name: String
    /// What the target feeds (printed by `scripts/fuzz --list`).
    let summary: String
    var setUp: @Sendable () throws -> Void = {}
    let run: @Sendable ([UInt8]) -> Void

    static let all: [FuzzTarget] = [
        StackTargets.spec, StackTargets.compose,
        FormatTargets.manifest, FormatTargets.parts, FormatTargets.oci, FormatTargets.imageArchive,
        VerifyTarget.verify,
        DNSTarget.dns,
        SBOMTarget.layer,
    ]
}

/// Writes one line to standard error.
func complain(_ text: String) {
    var line = "frostbyte-fuzz: " + text + "\n"
    line.withUTF8 { _ = write(2, $0.baseAddress, $0.count) }
}
