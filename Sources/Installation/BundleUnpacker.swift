import FrostbyteCore
import BundleFormat
import FoundationEssentials
import Glibc

/// Verifies a bundle in one streaming pass while extracting it into a staging folder
/// that does not exist yet. A seam over `BundleVerifier` (the verifier of
/// `verify-bundle`), so the installer's policy and crash handling are independent of
/// how verification is wired.
public protocol BundleUnpacker: Sendable {
    /// Verifies `bundlePath` against `trust` and extracts it into `stagingPath`
    /// (created by the unpacker). Returns the verifier's report; the caller applies the
    /// signature policy and removes the staging folder when it is not accepted.
    /// `onVerifiedImage` hears of each image archive verified and extracted while the
    /// rest still streams (`VerifiedImage`); an unpacker may never call it.
    func unpack(bundlePath: String, trust: [TrustedKey], stagingPath: String, progress: ProgressReporter,
                onVerifiedImage: @escaping (VerifiedImage) -> Void) throws -> VerificationReport
}

/// Accepting a verification report under the install's signature policy.
enum SignaturePolicy {
    /// Throws unless the report verified and the signature satisfies the policy:
    /// with trust keys the manifest must be signed by one of them; without them the
    /// caller must have passed `--allow-unsigned`.
    static func accept(_ report: VerificationReport, trustGiven: Bool, allowUnsigned: Bool) throws {
        guard report.verified else {
            let problems = report.problems.prefix(5).map(\.description).joined(separator: "; ")
            let more = report.problems.count > 5 ? " (and \(report.problems.count - 5) more)" : ""
            throw InstallError.verificationFailed(detail: problems + more)
        }
        if trustGiven {
            guard report.signature.state == .trusted else {
                let state = report.signature.state == .unsigned
                    ? "the bundle is not signed" : "the bundle is not signed by any --trust key"
                throw InstallError.verificationFailed(detail: state)
            }
        } else if !allowUnsigned {
            throw InstallError.trustRequired
        }
        guard report.manifest != nil else {
            throw InstallError.verificationFailed(detail: "the verifier returned no manifest")
        }
    }

    /// Whether a signature in `state`, seen before the end of the bundle, would pass
    /// `accept` (the same rule): trusted when keys were given, else `--allow-unsigned`.
    static func wouldAccept(_ state: SignatureStatus.State, trustGiven: Bool, allowUnsigned: Bool) -> Bool {
        trustGiven ? state == .trusted : allowUnsigned
    }
}

/// Locating the extracted release inside a staging folder.
enum StagingLayout {
    /// The folder inside `staging` that holds MANIFEST.json: the staging folder itself,
    /// or its single root folder (`<name>-<version>/`).
    static func releaseRoot(in staging: String) -> String? {
        if FileManager.default.fileExists(atPath: "\(staging)/MANIFEST.json") { return staging }
        guard let children = try? FileManager.default.contentsOfDirectory(atPath: staging), children.count == 1,
              FileManager.default.fileExists(atPath: "\(staging)/\(children[0])/MANIFEST.json") else { return nil }
        return "\(staging)/\(children[0])"
    }
}

/// The production unpacker. An archive goes through `BundleVerifier`'s single-pass
/// verification with extraction into the staging folder (entries relative to the
/// bundle's root folder; the verifier removes the staging folder when the bundle
/// fails). An extracted bundle folder (what `scripts/install.sh` passes by default)
/// is copied into the staging folder first and the *copy* is verified, so what is
/// installed is exactly what was checked (no image is announced early then).
public struct VerifierUnpacker: BundleUnpacker {
    public init() {}

    public func unpack(bundlePath: String, trust: [TrustedKey], stagingPath: String, progress: ProgressReporter,
                       onVerifiedImage: @escaping (VerifiedImage) -> Void) throws -> VerificationReport {
        var isFolder = false
        guard FileManager.default.fileExists(atPath: bundlePath, isDirectory: &isFolder), isFolder else {
            return try BundleVerifier.verify(archiveAt: bundlePath, trust: trust, extractTo: stagingPath,
                                             progress: progress, onVerifiedImage: onVerifiedImage)
        }
        do {
            try FileManager.default.copyItem(atPath: bundlePath, toPath: stagingPath)
        } catch {
            try? FileManager.default.removeItem(atPath: stagingPath)
            let full = (error as? CocoaError)?.code == .fileWriteOutOfSpace
            throw InstallError.filesystem(operation: "copy the bundle folder to", path: stagingPath,
                                          reason: full ? String(cString: strerror(ENOSPC)) : "\(error); check free space")
        }
        let report = try BundleVerifier.verify(directoryAt: stagingPath, trust: trust, progress: progress)
        if !report.verified { try? FileManager.default.removeItem(atPath: stagingPath) }
        return report
    }
}
