import FrostbyteCore
import BundleFormat
import Engine
import InstallationState
import FoundationEssentials
import Glibc

/// The installation an export reads from: the receipt (`state/receipt.json`), the
/// active release's MANIFEST.json (its `exports` steps) and the compose invocation
/// of the installed stack (`InstallationState`'s layout and `InstalledStack`). Loading
/// checks everything an export needs before a single step runs.
public struct ExportTarget: Sendable {
    public let layout: InstallationLayout
    public let receipt: InstallationReceipt
    /// The active release's manifest (`current/MANIFEST.json`).
    public let manifest: Manifest
    /// The steps to run, in manifest order, with names checked.
    public let steps: [Manifest.ExportStep]

    /// Reads and checks the installation under `layout`.
    /// - Throws: `ExportError.notInstalled` (no receipt or manifest),
    ///   `.inconsistentInstallation` (receipt and `current` disagree), `.noExports`,
    ///   `.invalidStepName`, `.duplicateStepName`, `.unreadable`.
    public static func load(_ layout: InstallationLayout) throws -> ExportTarget {
        let manifestPath = "\(layout.current)/MANIFEST.json"
        let receipt: InstallationReceipt?
        do {
            receipt = try InstallationReceipt.load(layout)
        } catch {
            throw ExportError.unreadable(path: layout.receipt, reason: "\(error)")
        }
        guard let receipt, FileManager.default.fileExists(atPath: manifestPath) else {
            throw ExportError.notInstalled(prefix: layout.prefix)
        }
        let manifest: Manifest
        do {
            manifest = try ManifestCoding.decodeManifest(try Data(contentsOf: URL(fileURLWithPath: manifestPath)))
        } catch let error as UserFacingError {
            throw ExportError.unreadable(path: manifestPath, reason: error.message)
        } catch {
            throw ExportError.unreadable(path: manifestPath, reason: "\(error)")
        }
        guard manifest.bundleId == receipt.bundleId else {
            throw ExportError.inconsistentInstallation(receipt: receipt.bundleId, current: manifest.bundleId)
        }
        let steps = manifest.exports ?? []
        guard !steps.isEmpty else { throw ExportError.noExports(bundleId: manifest.bundleId) }
        var seen = Set<String>()
        for step in steps {
            guard isSafeFileName(step.name) else { throw ExportError.invalidStepName(name: step.name) }
            guard seen.insert(step.name).inserted else { throw ExportError.duplicateStepName(name: step.name) }
        }
        return ExportTarget(layout: layout, receipt: receipt, manifest: manifest, steps: steps)
    }

    /// The compose driver of this installation: `docker compose -p <project> -f
    /// <prefix>/current/docker-compose.yml --env-file <prefix>/secrets/.env` with the
    /// receipt's FROSTBYTE_* values.
    public var compose: ComposeDriver {
        let stack = InstalledStack(releaseFolder: layout.current, project: receipt.project, subnet: receipt.subnet,
                                   gatewayIP: receipt.gatewayIP, publish: receipt.publish,
                                   ingressSubnet: receipt.ingressSubnet, layout: layout)
        return ComposeDriver(project: stack.project, composeFile: stack.composeFile, envFile: stack.envFile,
                             environment: stack.environment)
    }

    /// One path component that is safe as `data/<name>` in a bundle.
    static func isSafeFileName(_ name: String) -> Bool {
        !name.isEmpty && name != "." && name != ".." && !name.contains("/")
            && !name.unicodeScalars.contains { $0.value < 0x20 || $0.value == 0x7F }
    }
}
