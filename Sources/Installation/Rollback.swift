import Engine
import InstallationState
import FoundationEssentials
import Glibc

/// Brings a previously installed release back up after a failed upgrade: the same
/// project, its own compose file from `releases/<bundle_id>/`, the same secrets and
/// the subnet/gateway of its receipt. `current` still points at it (an upgrade only
/// switches after every check passed), so restoring is `compose up` plus a health wait.
public enum Rollback {
    /// Restarts `receipt`'s release and waits for it to be healthy.
    /// - Throws: whatever compose or the health wait throws.
    public static func restore(_ receipt: InstallationReceipt, layout: InstallationLayout, timeout: Double,
                               note: (String) -> Void) throws {
        let compose = InstalledStack(for: receipt, layout: layout).compose()
        note("rolling back to \(receipt.bundleId)")
        try compose.up(timeout: timeout)
        try HealthWaiter(compose: compose, timeout: timeout).wait(progress: note)
        try ReleaseSwitcher.activate(receipt.bundleId, in: layout)
    }
}
