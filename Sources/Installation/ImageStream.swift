import FrostbyteArchive
import BundleFormat
import Stack
import Engine
import FoundationEssentials
import Glibc

/// What `docker load` reads for one image of a format v2 release, built on the fly
/// from the blob files the bundle carried (`images/blobs/sha256/<hex>` in the release
/// folder) and written into docker's stdin: no archive is written to disk
/// (docs/FORMAT.md, "How install loads v2 images").
///
/// - graphdriver engines: a docker-archive, the config and layer blobs then
///   `manifest.json` = `[{"Config": "blobs/sha256/<hex>", "RepoTags": [name], "Layers": [...]}]`;
/// - the containerd image store: an OCI layout, the image manifest, config and layer
///   blobs then `oci-layout` and an `index.json` naming only this image, annotated with
///   its full reference (`io.containerd.image.name`), so the image ID is the manifest digest.
///
/// Blobs the bundle does not carry (a delta's `in_base` layers) are left out: the
/// engine already has them (the install's preflight checked, `InstalledBase`). Graphdriver
/// engines skip a layer they hold; the containerd store takes it from its content store.
/// A blob the bundle carries but the release folder lacks is an error, never skipped.
///
/// On graphdriver engines the caller may also leave out the leading layers the engine
/// holds as a chain already (`heldLeadingLayers`): docker looks a layer up by its chain
/// before it opens the layer's file, so the shared base of a stack's images goes
/// through the pipe once per install instead of once per image.
struct ImageStream {
    let image: Manifest.Image
    let store: ImageStore
    /// The release folder holding `images/blobs/sha256/`.
    let releaseFolder: String
    /// Size of every blob of the release (`blobs[]`), by digest.
    let sizes: [String: Int64]
    /// The blobs the bundle carries (in the archive, so extracted into the release folder).
    let carried: Set<String>
    /// Layers left out because the engine holds them: the first `heldLeadingLayers`
    /// layers, except those that appear again further up.
    let omittedHeld: Set<String>

    init(image: Manifest.Image, store: ImageStore, releaseFolder: String, manifest: Manifest,
         heldLeadingLayers: Int = 0) {
        self.image = image; self.store = store; self.releaseFolder = releaseFolder
        let layers = image.layers ?? []
        let held = min(max(heldLeadingLayers, 0), layers.count)
        omittedHeld = store.isContainerd ? [] : Set(layers[..<held]).subtracting(layers[held...])
        var sizes: [String: Int64] = [:]
        for blob in manifest.blobs ?? [] { sizes[blob.digest] = blob.size }
        self.sizes = sizes
        carried = Set(manifest.files.filter { $0.isCarried }.compactMap { OCILayout.digest(ofBlobPath: $0.path) })
    }

    /// The blobs of the image in stream order (manifest first on the containerd store,
    /// then config and layers), each once.
    var blobs: [String] {
        var order: [String] = store.isContainerd ? [image.manifestDigest ?? ""] : []
        order.append(image.digest)
        order += image.layers ?? []
        var seen: Set<String> = []
        return order.filter { !$0.isEmpty && !omittedHeld.contains($0) && seen.insert($0).inserted }
    }

    /// Writes the stream's entries into `writer`.
    /// - Throws: `InstallError.filesystem` for a carried blob missing from the release
    ///   folder (or of another size), the writer's errors.
    func write(to writer: ArchiveWriter) throws {
        for digest in blobs {
            let path = "\(releaseFolder)/\(OCILayout.blobPath(digest))"
            guard let size = sizes[digest] else {
                throw InstallError.bundleLacks(field: "blobs[] entry for \(digest) of image \(image.name)")
            }
            guard FileManager.default.fileExists(atPath: path) else {
                if carried.contains(digest) {
                    throw InstallError.filesystem(operation: "read image blob", path: path,
                                                  reason: "the release folder lacks it; run the install again to extract the release anew")
                }
                continue  // in the base release: the engine has it
            }
            do {
                try writer.writeFile(OCILayout.layoutBlobPath(digest), mode: .file, size: size, from: path)
            } catch let error as ArchiveWriteError {
                if case .sourceChanged(_, let detail) = error {
                    throw InstallError.filesystem(operation: "read image blob", path: path,
                                                  reason: "\(detail); run the install again to extract the release anew")
                }
                throw error
            }
        }
        if store.isContainerd {
            guard let manifestDigest = image.manifestDigest, let size = sizes[manifestDigest] else {
                throw InstallError.bundleLacks(field: "manifest_digest of image \(image.name)")
            }
            let reference = ImageReference(image.name)
            let descriptor = OCILayout.Descriptor(mediaType: OCILayout.manifestMediaType, digest: manifestDigest, size: size)
            let index = try OCILayout.indexData([(fullReference: reference?.normalized ?? image.name, manifest: descriptor)])
            try writer.writeFile("oci-layout", mode: .file, contents: OCILayout.layoutFile)
            try writer.writeFile("index.json", mode: .file, contents: index)
        } else {
            try writer.writeFile("manifest.json", mode: .file, contents: try dockerArchiveManifest())
        }
    }

    /// `manifest.json` of the docker-archive: the config and layers by their entry names.
    func dockerArchiveManifest() throws -> Data {
        try DockerArchive.manifestData(DockerArchive.ManifestEntry(
            config: OCILayout.layoutBlobPath(image.digest), repoTags: [image.name],
            layers: (image.layers ?? []).map(OCILayout.layoutBlobPath)))
    }
}
