import BundleFormat
import Foundation

/// Brings a previously installed release back up after a failed upgrade: the same
/// project, its own compose file from `releases/<bundle_id>/`, the same secrets and
/// the subnet/gateway of its receipt. `current` still points at it (an upgrade only
/// switches after every check passed), so restoring is `compose up` plus a health wait.
public enum Rollback {
    /// The compose driver for an installed release described by `receipt`.
    public static func composeDriver(for receipt: InstallationReceipt, layout: InstallationLayout) -> ComposeDriver {
        let folder = layout.release(receipt.bundleId)
        let manifest = (FileManager.default.contents(atPath: "\(folder)/MANIFEST.json"))
            .flatMap { try? ManifestCoding.decodeManifest($0) }
        let file = manifest?.compose?.file ?? "docker-compose.yml"
        return ComposeDriver(project: receipt.project, composeFile: "\(folder)/\(file)",
                             envFile: layout.secretsEnv, subnet: receipt.subnet, gatewayIP: receipt.gatewayIP)
    }

    /// Restarts `receipt`'s release and waits for it to be healthy.
    /// - Throws: whatever compose or the health wait throws.
    public static func restore(_ receipt: InstallationReceipt, layout: InstallationLayout, timeout: Double,
                               note: (String) -> Void) throws {
        let compose = composeDriver(for: receipt, layout: layout)
        note("rolling back to \(receipt.bundleId)")
        try compose.up(timeout: timeout)
        try HealthWaiter(compose: compose, timeout: timeout).wait(progress: note)
        try ReleaseSwitcher.activate(receipt.bundleId, in: layout)
    }
}
