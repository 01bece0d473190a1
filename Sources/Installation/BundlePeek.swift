import FrostbyteCore
import BundleFormat
import FoundationEssentials

/// Reads MANIFEST.json from the head of a bundle without extracting anything, for the
/// preflight (sizes, project, subnet, bundle_id, a delta's base), through
/// `BundleHead`. The manifest is *not* trusted here: the verifier checks it (and its
/// signature) before anything is installed.
public enum BundlePeek {
    /// The manifest and its exact bytes, from the first entries of the bundle file or
    /// from the bundle folder's MANIFEST.json.
    /// - Throws: `InstallError.notABundle` when the path is not a bundle.
    public static func manifest(ofBundleAt path: String) throws -> (manifest: Manifest, bytes: Data) {
        do {
            return try BundleHead.manifest(at: path)
        } catch let error as UserFacingError {
            throw InstallError.notABundle(path: path, detail: error.message)
        } catch {
            throw InstallError.notABundle(path: path, detail: "\(error)")
        }
    }
}
