import FrostbyteCore
import BundleFormat
import Builder
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
                and the images: the image config inside every docker save archive (format v1), \
                or the OCI layout's blobs, manifests, configs and index.json (format v2). \
                Nothing is extracted. A delta bundle is checked on its own and names the base \
                it needs; with --base its in_base files are checked against that base's \
                MANIFEST.json (only the base's first entry is read: verify the base on its own). \
                A split bundle (build --split) is verified from its OUT.parts.json across its \
                parts, each part checked against the index before the next is read; with \
                --trust the index must be signed too (OUT.parts.json.sig). \
                A signed v2 bundle's provenance (provenance/build.intoto.json) is checked \
                against the same --trust keys. --rederive-sbom writes every image's SBOM \
                again from its layers as they stream and compares it with the shipped one. \
                Exit status: 0 verified, 1 verification failed, 2 not a bundle or bad usage.
                """)

        @Argument(help: "The bundle file, its extracted folder, or a split bundle's .parts.json.", completion: .file())
        var bundle: String?

        @Option(name: .customLong("trust"), help: ArgumentHelp(
            "Ed25519 public key (PEM) that must have signed the bundle; repeatable.", valueName: "PUB"),
            completion: .file())
        var trust: [String] = []

        @Option(name: .customLong("base"), help: ArgumentHelp(
            "For a delta bundle: the base bundle (.tar.zst, .tar or folder) or its MANIFEST.json.",
            valueName: "BASE"), completion: .file())
        var base: String?

        @Flag(help: "The folder is an installed release (<prefix>/releases/<bundle_id>): its images/ was removed once the engine held the images, so absent image files are not problems (a warning says how many).")
        var installed = false

        @Flag(help: "Print one JSON report on stdout (schema in docs/FORMAT.md).")
        var json = false

        @Flag(help: "Write every image's SBOM again from its layer blobs (in the same pass) and compare it byte for byte with the shipped sbom/ file; a difference is an sbom-rederived problem.")
        var rederiveSbom = false

        func run() async throws {
            try await runReportingErrors {
                guard let bundle else {
                    throw UsageError.missingBundle(command: "verify-bundle")
                }
                let keys = try trust.map { try TrustedKey(contentsOf: $0) }
                let baseManifest = try base.map { try BundleBaseManifest.load(path: $0) }
                let progress: ProgressReporter = (!json && Console.stderrIsTTY) ? TerminalProgress() : SilentProgress()
                var report: VerificationReport
                let rederivation = rederiveSbom ? SBOMRederivation() : nil
                if installed {
                    var info = stat()
                    guard stat(bundle, &info) == 0, info.st_mode & S_IFMT == S_IFDIR else {
                        throw ValidationError("--installed takes an installed release folder, and \(bundle) is not a folder")
                    }
                    report = try BundleVerifier.verify(directoryAt: bundle, trust: keys, base: baseManifest,
                                                       installedRelease: true, progress: progress, observer: rederivation)
                } else {
                    report = try BundleVerifier.verify(path: bundle, trust: keys, base: baseManifest, progress: progress,
                                                       observer: rederivation)
                }
                let outcome = rederivation?.conclude()
                if let outcome {
                    report.problems += outcome.problems
                    report.warnings += outcome.warnings
                    report.sbomRederived = RederivedSBOMs(imagesIdentical: outcome.identical,
                                                          bundleIdentical: outcome.bundleIdentical)
                }
                if json {
                    try Console.json(report)
                } else {
                    printHuman(report)
                    if let outcome, outcome.identical > 0 {
                        Console.out("sbom: \(outcome.identical) SBOM\(outcome.identical == 1 ? "" : "s") written again from "
                                    + "the layers, byte-identical to the shipped ones")
                    }
                    if let outcome, outcome.bundleIdentical {
                        Console.out("sbom: the bundle SBOM written again from MANIFEST.json, byte-identical to the shipped one")
                    }
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
            if let base = report.base {
                let files = "\(base.inBaseFiles) file\(base.inBaseFiles == 1 ? "" : "s") (\(formatBytes(base.inBaseBytes)))"
                let state: String
                switch base.state {
                case .unchecked: state = "not checked: pass --base BASE"
                case .ok: state = "checked against \(base.checkedAgainst ?? "?")"
                case .mismatch: state = "\(base.checkedAgainst ?? "?") is not that base"
                }
                Console.out("delta: needs base \(base.bundleId) (MANIFEST.json sha256 \(base.manifestSha256)) "
                            + "for \(files); \(state)")
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

