import BundleFormat
import FoundationEssentials
import Glibc
import Synchronization

/// The image payload of a release being verified and extracted (format v1 archives,
/// format v2 blobs), removed from the staging folder as soon as the engine holds every
/// image that reads it, so that install needs the release's other files plus about one
/// image of scratch space instead of the whole bundle (`peakBytes` says how much).
///
/// Guarantees:
/// - A file is removed only after `settle` was called for every image of the manifest
///   that reads it (the caller calls it once the engine holds that image as the same
///   image: loaded and confirmed, or found present); a blob shared by several images
///   stays until the last of them is settled. Nothing is ever removed before it was
///   verified (only images the verifier announced can be settled).
/// - Removal is best effort (a file that cannot be removed only costs space); the
///   release folder then lacks those files, which `ImageLoader.hasImagePayload` sees, so
///   a resumed install whose images are gone from the engine verifies and extracts them
///   from the bundle again rather than trusting what is left.
public final class StagedPayload: Sendable {
    /// Payload path (relative to the release root) → names of the images that read it.
    private let readers: [String: Set<String>]
    /// Image name → the payload paths it reads.
    private let files: [String: [String]]
    private let settled = Mutex<Set<String>>([])

    public init(manifest: Manifest) {
        var files: [String: [String]] = [:]
        var readers: [String: Set<String>] = [:]
        for image in manifest.images {
            let paths = Self.payload(of: image, in: manifest)
            files[image.name] = paths
            for path in paths { readers[path, default: []].insert(image.name) }
        }
        self.files = files; self.readers = readers
    }

    /// The engine holds `verified`'s image: removes every payload file of it that no
    /// image still to be settled reads.
    public func settle(_ verified: VerifiedImage) {
        let name = verified.image.name
        let root = verified.image.archiveFile.map { archive in
            String(verified.path.dropLast(archive.count + 1))
        } ?? verified.path
        let removable: [String] = settled.withLock { settled in
            guard settled.insert(name).inserted else { return [] }
            return (files[name] ?? []).filter { readers[$0, default: []].isSubset(of: settled) }
        }
        for path in removable { unlink("\(root)/\(path)") }
    }

    /// The payload files of `image` the bundle carries: its v1 archive, or its v2
    /// manifest, config and layer blobs.
    static func payload(of image: Manifest.Image, in manifest: Manifest) -> [String] {
        if let archive = image.archiveFile { return [archive] }
        let carried = Set(manifest.files.filter(\.isCarried).map(\.path))
        let digests = [image.manifestDigest ?? "", image.digest] + (image.layers ?? [])
        var seen: Set<String> = []
        return digests.filter { !$0.isEmpty && seen.insert($0).inserted }.map(OCILayout.blobPath)
            .filter(carried.contains)
    }

    /// The most payload the staging folder holds at once during an install that loads
    /// images while the bundle streams: images complete in bundle order (each image's
    /// blobs follow the previous image's), one image is extracted while the one before
    /// it loads, and the verifier waits for that load before it announces the next. So
    /// while image k+1 is extracted the folder holds the payload of images 1...k+1 less
    /// what only images 1...k-1 read. Sizes from `files[]`.
    public static func peakBytes(_ manifest: Manifest) -> Int64 {
        var size: [String: Int64] = [:]
        for file in manifest.files { size[file.path] = file.size }
        let images = manifest.images
        let payloads = images.map { payload(of: $0, in: manifest) }
        var lastReader: [String: Int] = [:]
        for (index, paths) in payloads.enumerated() { for path in paths { lastReader[path] = index } }
        var peak: Int64 = 0
        var arrived: Set<String> = []
        for next in images.indices {
            for path in payloads[next] { arrived.insert(path) }
            // Images before next - 1 are settled: what only they read is gone.
            let held = arrived.filter { (lastReader[$0] ?? 0) >= next - 1 }
            peak = max(peak, held.reduce(Int64(0)) { $0 + (size[$1] ?? 0) })
        }
        return peak
    }
}
