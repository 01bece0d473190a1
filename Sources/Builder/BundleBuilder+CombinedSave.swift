import FrostbyteCore
import BundleFormat
import Stack
import Engine
import FoundationEssentials

extension BundleBuilder {
    /// True when the spec's engine images are taken from the engine with one
    /// `docker save` of them all: two or more distinct references, and an engine
    /// that names images by their config digest (a graphdriver store), so that each
    /// image is known in the combined archive by the ID `docker image inspect` gave.
    /// (On the containerd store an image's ID is its manifest or index digest; those
    /// images keep one save each.)
    /// - Throws: `CommandError`, `DockerEngineError`.
    func useCombinedSave(_ spec: BundleSpec) throws -> Bool {
        let references = Set(spec.images.filter { $0.archivePath == nil }.map(\.reference.text))
        guard references.count >= 2 else { return false }
        if case .graphdriver = try DockerEngine().capabilities().imageStore { return true }
        return false
    }

    /// One `docker save` of every engine image of `spec` (issue 25): each layer the
    /// images share leaves the engine once, instead of once per image. The engine
    /// writes the archive in its own order (20.10: `<v1 id>/layer.tar` by name; 25+:
    /// `blobs/sha256/<digest>`), not the bundle's, so every blob is stored into
    /// `folder` by its digest as soon as it is complete, and after each one `packReady`
    /// is called with a lookup that gives an image (by engine ID, its config digest)
    /// once its config and every layer its config names are stored, or nil: the
    /// caller packs the images that are ready, in the bundle's order, while the rest
    /// still streams. An image's blobs are content-addressed, so what is packed early
    /// is exactly what the archive's manifest.json names at the end, which is checked
    /// (as for one image per save: config and layers present, layers uncompressed).
    /// - Returns: every engine image, by engine ID.
    /// - Throws: `DockerImageError.badArchive`, `.idMismatch` (an image the save does
    ///   not carry under the ID the engine gave), `.saveFailed`, `BundleWriteError`,
    ///   `FileReadError`, or what `packReady` throws.
    func combinedSave(_ spec: BundleSpec, engineIDs: [String: String], folder: BlobFolder,
                      observer: ArchiveEntryObserver,
                      packReady: ((String) -> ExtractedImage?) throws -> Void) throws -> [String: ExtractedImage] {
        var references: [String] = []
        for image in spec.images where image.archivePath == nil && !references.contains(image.reference.text) {
            references.append(image.reference.text)
        }
        var stored: [String: ImageBlobExtractor.StoredBlob] = [:]
        func ready(_ engineID: String) -> ExtractedImage? {
            guard let config = stored[engineID], let data = config.data,
                  let diffIDs = OCILayout.parseDiffIDs(config: data) else { return nil }
            var layers: [Manifest.Blob] = []
            for diffID in diffIDs {
                guard let layer = stored[diffID] else { return nil }
                layers.append(Manifest.Blob(digest: diffID, size: layer.size, mediaType: OCILayout.layerMediaType))
            }
            return ExtractedImage(
                repoTags: [], config: Manifest.Blob(digest: engineID, size: config.size, mediaType: OCILayout.configMediaType),
                layers: layers, savedIndexDigests: [])
        }
        let docker = DockerEngine()
        let (_, result) = try docker.save(references, scratch: folder.temporaryPath(), progress: progress) { source in
            try ImageBlobExtractor.extractAll(source, into: folder, observer: observer) { blob in
                if stored[blob.digest] == nil { stored[blob.digest] = blob }
                try packReady(ready)
            }
        }
        let path = "from docker save \(references.joined(separator: " "))"
        let saved = try unwrap(result, path: path)
        let byID = Dictionary(saved.map { ($0.config.digest, $0) }, uniquingKeysWith: { first, _ in first })
        for reference in references {
            let engineID = engineIDs[reference]!
            guard let image = byID[engineID] else {
                let normalized = ImageReference(reference)?.normalized
                let named = saved.first { $0.repoTags.contains { ImageReference($0)?.normalized == normalized } }
                throw DockerImageError.idMismatch(reference: reference, archive: named?.config.digest ?? "none",
                                                  engine: engineID)
            }
            // What was packed early came from the blobs alone; it must be what manifest.json says.
            if let early = ready(engineID), early.config != image.config || early.layers != image.layers {
                throw DockerImageError.badArchive(
                    path: path, problem: "gives \(reference) other layers in manifest.json than its config names")
            }
        }
        return byID
    }
}
