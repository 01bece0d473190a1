import FrostbyteCore
import BundleFormat
import Stack
import Engine
import InstallationState
import Builder
import Isolation
import Installation
import Export
import ArgumentParser
import FoundationEssentials
import Glibc

extension FrostbyteBundle {
    /// `verify-bundle`: the auditor's yes/no answer for a bundle file or folder.
    /// Exit 0 verified, 1 verification failed, 2 not a bundle or bad usage.
    struct VerifyBundle: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "verify-bundle",
            abstract: "Verify a bundle (.tar.zst, .tar or extracted folder) in one streaming pass.",
            discussion: """
                Checks the .sha256 sidecar (when present), MANIFEST.json, the signature, every \
                file's size and SHA-256, SHA256SUMS, bundle_id, entry types, paths and modes, \
                and the image config inside every docker save archive. Nothing is extracted. \
                A split bundle (build --split) is verified from its OUT.parts.json across its \
                parts, each part checked against the index before the next is read; with \
                --trust the index must be signed too (OUT.parts.json.sig). \
                Exit status: 0 verified, 1 verification failed, 2 not a bundle or bad usage.
                """)

        @Argument(help: "The bundle file, its extracted folder, or a split bundle's .parts.json.", completion: .file())
        var bundle: String?

        @Option(name: .customLong("trust"), help: ArgumentHelp(
            "Ed25519 public key (PEM) that must have signed the bundle; repeatable.", valueName: "PUB"),
            completion: .file())
        var trust: [String] = []

        @Flag(help: "Print one JSON report on stdout (schema in docs/FORMAT.md).")
        var json = false

        func run() async throws {
            try await runReportingErrors {
                guard let bundle else {
                    throw UsageError.missingBundle(command: "verify-bundle")
                }
                let keys = try trust.map { try TrustedKey(contentsOf: $0) }
                let progress: ProgressReporter = (!json && Console.stderrIsTTY) ? TerminalProgress() : SilentProgress()
                let report = try BundleVerifier.verify(path: bundle, trust: keys, progress: progress)
                if json {
                    try Console.json(report)
                } else {
                    printHuman(report)
                }
                if !report.verified { throw ExitCode(ExitStatus.checkFailed.rawValue) }
            }
        }

        private func printHuman(_ report: VerificationReport) {
            if report.verified {
                var details = ["bundle \(report.bundleId ?? "?")", "\(report.filesChecked) files",
                               "\(formatBytes(report.bytesHashed)) hashed", signatureText(report.signature)]
                if report.sidecar == "ok" { details.append(".sha256 ok") }
                if let parts = report.parts {
                    details.append("\(parts.count) parts ok, index \(signatureText(parts.signature))")
                }
                Console.out("\(report.source): OK (\(details.joined(separator: ", ")))")
            } else {
                let count = report.problems.count
                Console.out("\(report.source): FAILED (\(count) problem\(count == 1 ? "" : "s"))")
                for problem in report.problems { Console.out("  \(problem)") }
            }
            for warning in report.warnings { Console.out("warning: \(warning)") }
        }
    }
}

/// Bad usage that argument parsing itself cannot express with exit status 2.
enum UsageError: UserFacingError {
    case missingBundle(command: String)

    var message: String {
        switch self {
        case .missingBundle(let command):
            return "\(command) needs the path of a bundle file or folder, e.g. 'frostbyte-bundle \(command) demo-1.0.0.tar.zst'"
        }
    }

    var exitStatus: ExitStatus { .badInput }
}

/// "signature: trusted (key <fingerprint>)" and friends, for human output.
func signatureText(_ status: SignatureStatus) -> String {
    switch status.state {
    case .unsigned: return "unsigned"
    case .signedUnchecked: return "signed, key not checked"
    case .trusted: return "signed by trusted key \(status.matchedKey ?? "?")"
    case .untrusted: return "signed by none of the trusted keys"
    }
}

/// Bytes as B/KiB/MiB/GiB/TiB with one decimal: 1536 → "1.5 KiB". Shared by the
/// progress lines and the human summaries of build, verify-bundle and inspect.
func formatBytes(_ bytes: Int64) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB"]
    var value = Double(bytes)
    var unit = 0
    while value >= 1024 && unit < units.count - 1 {
        value /= 1024
        unit += 1
    }
    return unit == 0 ? "\(bytes) B" : TextFormat.fixed(value, digits: 1) + " " + units[unit]
}

