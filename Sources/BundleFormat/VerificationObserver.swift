/// Sees a bundle's files while `BundleVerifier` streams them, in the one pass that
/// hashes them: what `verify-bundle --rederive-sbom` catalogues the layers from
/// without reading the bundle again. Calls come on the verifying thread, in archive
/// order: `manifestAccepted` once MANIFEST.json is read, then for each later regular
/// file the manifest lists, `entryBegins`, and when that returned true, any number of
/// `entryData` and then `entryEnds`. An observer must not keep the buffers.
public protocol VerificationObserver: AnyObject {
    /// MANIFEST.json was read and decoded (before any file it lists streams).
    func manifestAccepted(_ manifest: Manifest)
    /// A regular file starts: its path (relative to the root folder) and its size.
    /// Returns true to be given its bytes.
    func entryBegins(path: String, size: Int64) -> Bool
    /// The next bytes of the file.
    func entryData(_ bytes: UnsafeRawBufferPointer)
    /// The file is complete; `digest` (`sha256:<hex>`) is the SHA-256 of its bytes.
    func entryEnds(path: String, digest: String)
}
