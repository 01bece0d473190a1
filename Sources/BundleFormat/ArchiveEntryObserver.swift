/// Sees the regular entries of an image archive while `ImageBlobExtractor` streams
/// them (a layer's bytes, a config's), in the one pass that hashes and stores them:
/// what `build` catalogues the images' packages from without reading them again.
/// Calls come in order: `entryBegins`, any number of `entryData`, `entryEnds`; one
/// entry at a time, on the extracting thread. An observer must not keep the buffers.
public protocol ArchiveEntryObserver: AnyObject {
    /// A regular entry starts: its path in the archive and its size in bytes.
    func entryBegins(path: String, size: Int64)
    /// The next bytes of the entry.
    func entryData(_ bytes: UnsafeRawBufferPointer)
    /// The entry is complete; `digest` (`sha256:<hex>`) is the SHA-256 of its bytes.
    func entryEnds(digest: String)
}
