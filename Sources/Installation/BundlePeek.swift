import FrostbyteCore
import BundleFormat
import FoundationEssentials

/// Reads MANIFEST.json from the head of a bundle without extracting anything, for the
/// preflight (sizes, project, subnet, bundle_id, a delta's base), through
/// `BundleHead`. The manifest is *not* trusted here: the verifier checks it (and its
/// signature) before anything is installed.
public enum BundlePeek {
    /// The manifest and its exact bytes, from the first entries of the bundle file,
    /// from the bundle folder's MANIFEST.json, or for a split bundle (`.parts.json`)
    /// from its first part once the parts are checked (`manifest(ofPartsAt:trust:)`).
    /// - Throws: `InstallError.notABundle` when the path is not a bundle.
    public static func manifest(ofBundleAt path: String, trust: [TrustedKey] = []) throws -> (manifest: Manifest, bytes: Data) {
        if SplitPartsIndex.isIndexPath(path) { return try manifest(ofPartsAt: path, trust: trust) }
        return try manifest(ofArchiveAt: path)
    }

    /// The manifest from the head of a bundle file or folder (or of a split bundle's first part).
    static func manifest(ofArchiveAt path: String) throws -> (manifest: Manifest, bytes: Data) {
        do {
            return try BundleHead.manifest(at: path)
        } catch let error as UserFacingError {
            throw InstallError.notABundle(path: path, detail: error.message)
        } catch {
            throw InstallError.notABundle(path: path, detail: "\(error)")
        }
    }
}
