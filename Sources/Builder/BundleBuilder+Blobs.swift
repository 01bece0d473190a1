import FrostbyteCore
import FrostbyteCrypto
import FrostbyteArchive
import BundleFormat
import Stack
import Engine
import FoundationEssentials
import Glibc

/// The images of a v2 bundle: what the manifest records.
struct StagedLayout {
    var images: [Manifest.Image]
    /// Every blob, in archive order (per image: manifest, config, layers; each once).
    var blobs: [Manifest.Blob]
    /// The `sbom/` folder and each image's SBOM, not yet handed to the writer: the bundle
    /// SBOM (which names their hashes) goes into the same folder (`BundleSBOM`).
    var sboms: [BundleEntry] = []

    /// Bytes each image's blobs (manifest, config, layers) add up to, summed over the
    /// images, minus the bytes of the distinct ones: what storing each blob once saved.
    /// (SBOM referrer blobs are not image data and count in neither.)
    var sharedBytesSaved: Int64 {
        let sizes = Dictionary(blobs.map { ($0.digest, $0.size) }, uniquingKeysWith: { first, _ in first })
        let uses = images.map { [$0.manifestDigest!, $0.digest] + ($0.layers ?? []) }
        let perImage = uses.joined().reduce(Int64(0)) { $0 + (sizes[$1] ?? 0) }
        return perImage - Set(uses.joined()).reduce(Int64(0)) { $0 + (sizes[$1] ?? 0) }
    }
}

extension BundleBuilder {
    /// Takes every spec image apart into blobs in `folder` (format v2): `docker save`
    /// is streamed straight into `ImageBlobExtractor` (no archive file is written),
    /// `archive:` files are read in place. Each image gets the canonical OCI manifest
    /// of its config and layers (`OCILayout.manifestData`), so the same image gives the
    /// same blobs whichever engine saved it.
    ///
    /// The `images/` entries go to `emit`, hashed and in layout order, as soon as they
    /// are known: the folders, then each image's new blobs right after its save (so
    /// they can be compressed while the next image is saved), then the OCI 1.1 SBOM
    /// referrers (`OCIReferrer`: the empty config, each image's SBOM as a blob and its
    /// artifact manifest), then index.json and oci-layout. Each image's SBOM, catalogued
    /// from its layers while they streamed (`LayerScanCollector`; no second read), is
    /// returned in `sboms`, not emitted.
    /// - Throws: `DockerImageError`, `CommandError`, `DockerEngineError`, `BundleWriteError`,
    ///   or what `emit` throws.
    func stageBlobs(_ spec: BundleSpec, folder: BlobFolder, createdAt: String,
                    emit: ([BundleEntry]) throws -> Void) throws -> StagedLayout {
        let engineIDs = try engineImageIDs(spec)
        let layerScans = LayerScanCollector()
        let docker = DockerEngine()
        var images: [Manifest.Image] = []
        var blobs: [Manifest.Blob] = []
        var known = Set<String>()
        var index: [(fullReference: String, manifest: OCILayout.Descriptor)] = []
        try emit([OCILayout.folder, OCILayout.blobFolder.dropLast("/sha256".count).description, OCILayout.blobFolder].map {
            BundleEntry(path: $0, source: .directory, mode: .executable)
        })
        func add(_ extracted: ExtractedImage, as image: BundleSpec.Image) throws {
            let manifestData = try OCILayout.manifestData(
                config: descriptor(extracted.config), layers: extracted.layers.map(descriptor))
            let manifestBlob = Manifest.Blob(digest: try folder.store(manifestData), size: Int64(manifestData.count),
                                             mediaType: OCILayout.manifestMediaType)
            var fresh: [Manifest.Blob] = []
            for blob in [manifestBlob, extracted.config] + extracted.layers where known.insert(blob.digest).inserted {
                fresh.append(blob)
            }
            blobs += fresh
            try emit(fresh.map {
                BundleEntry(path: $0.path, source: folder.source($0.digest), mode: .file,
                            digest: SHA256Digest(prefixed: $0.digest), size: $0.size)
            })
            let reference = image.reference.text
            var listed = Manifest.Image(name: reference, digest: extracted.config.digest,
                                        manifestDigest: manifestBlob.digest, layers: extracted.layers.map(\.digest))
            listed.sbom = ImageSBOMs.path(reference)
            images.append(listed)
            index.append((image.reference.normalized, descriptor(manifestBlob)))
        }
        // Several images from a graphdriver engine: one `docker save` of them all, each
        // image packed as soon as its blobs are in (CombinedSave); the rest one by one.
        var added = 0
        var fromCombinedSave: [String: ExtractedImage] = [:]
        if try useCombinedSave(spec) {
            fromCombinedSave = try combinedSave(spec, engineIDs: engineIDs, folder: folder, observer: layerScans) { ready in
                while added < spec.images.count, spec.images[added].archivePath == nil,
                      let extracted = ready(engineIDs[spec.images[added].reference.text]!) {
                    try add(extracted, as: spec.images[added])
                    added += 1
                }
            }
        }
        for image in spec.images[added...] {
            let reference = image.reference.text
            let extracted: ExtractedImage
            if let archive = image.archivePath {
                extracted = try extractArchive(archive, reference: image.reference, folder: folder, observer: layerScans)
            } else if let saved = engineIDs[reference].flatMap({ fromCombinedSave[$0] }) {
                extracted = saved
            } else {
                let (_, result) = try docker.save(reference, scratch: folder.temporaryPath(), progress: progress) {
                    try ImageBlobExtractor.extract($0, into: folder, observer: layerScans)
                }
                extracted = try unwrap(result, path: "from docker save \(reference)")
                // The engine names the image by its config digest (graphdriver) or by the
                // manifest or index digest its save's index.json carries (containerd store).
                if let engineID = engineIDs[reference], engineID != extracted.config.digest,
                   !extracted.savedIndexDigests.contains(engineID) {
                    throw DockerImageError.idMismatch(reference: reference, archive: extracted.config.digest, engine: engineID)
                }
            }
            try add(extracted, as: image)
        }
        var sboms = [BundleEntry(path: ImageSBOMs.folder, source: .directory, mode: .executable)]
        var sbomData: [String: Data] = [:]
        for image in images where sbomData[image.sbom!] == nil {
            let data = try ImageSBOMs.document(for: image, scans: layerScans.scans, timestamp: createdAt,
                                               builder: request.builder)
            sbomData[image.sbom!] = data
            sboms.append(BundleEntry(path: image.sbom!, source: .data(data), mode: .file,
                                     digest: SHA256Hasher.hash(data), size: Int64(data.count)))
        }
        // OCI 1.1 referrers: each image's SBOM attached to its manifest, after every image's blobs.
        var referrerBlobs: [(Manifest.Blob, Data)] = []
        var referrers: [OCILayout.Descriptor] = []
        func addBlob(_ data: Data, mediaType: String) throws -> Manifest.Blob {
            let blob = Manifest.Blob(digest: try folder.store(data), size: Int64(data.count), mediaType: mediaType)
            if known.insert(blob.digest).inserted { referrerBlobs.append((blob, data)) }
            return blob
        }
        if !images.isEmpty { _ = try addBlob(OCIReferrer.emptyData, mediaType: OCIReferrer.emptyMediaType) }
        for position in images.indices {
            let data = sbomData[images[position].sbom!]!
            let sbomBlob = try addBlob(data, mediaType: OCIReferrer.sbomMediaType)
            let subject = index[position].manifest
            let referrer = try addBlob(try OCIReferrer.manifestData(subject: subject, sbomDigest: sbomBlob.digest,
                                                                     sbomSize: sbomBlob.size),
                                       mediaType: OCILayout.manifestMediaType)
            images[position].sbomReferrer = referrer.digest
            referrers.append(OCIReferrer.indexEntry(descriptor(referrer), imageReference: index[position].fullReference,
                                                    subjectDigest: subject.digest))
        }
        blobs += referrerBlobs.map(\.0)
        try emit(referrerBlobs.map { blob, _ in
            BundleEntry(path: blob.path, source: folder.source(blob.digest), mode: .file,
                        digest: SHA256Digest(prefixed: blob.digest), size: blob.size)
        })
        try emit([(OCILayout.indexPath, try OCILayout.indexData(index, referrers: referrers)),
                  (OCILayout.layoutPath, OCILayout.layoutFile)].map {
            BundleEntry(path: $0.0, source: .data($0.1), mode: .file, digest: SHA256Hasher.hash($0.1), size: Int64($0.1.count))
        })
        return StagedLayout(images: images, blobs: blobs, sboms: sboms)
    }

    /// Every spec image that comes from the engine must be there (all checked before
    /// any is saved); returns reference → the engine's image ID.
    /// - Throws: `DockerImageError.missingImages`, `CommandError`, `DockerEngineError`.
    func engineImageIDs(_ spec: BundleSpec) throws -> [String: String] {
        let needEngine = spec.images.filter { $0.archivePath == nil }
        guard !needEngine.isEmpty else { return [:] }
        let docker = DockerEngine()
        _ = try docker.capabilities()
        var ids: [String: String] = [:]
        var missing: [String] = []
        for image in needEngine {
            if let found = try docker.image(image.reference.text) {
                ids[image.reference.text] = found.id
            } else {
                missing.append(image.reference.text)
            }
        }
        guard missing.isEmpty else {
            throw DockerImageError.missingImages(references: missing, specPath: spec.specPath)
        }
        return ids
    }

    private func extractArchive(_ path: String, reference: ImageReference, folder: BlobFolder,
                                observer: ArchiveEntryObserver) throws -> ExtractedImage {
        let input = open(path, O_RDONLY | O_CLOEXEC)
        guard input >= 0 else {
            throw FileReadError.cannotOpen(path: path, reason: String(cString: strerror(errno)))
        }
        defer { close(input) }
        var info = stat()
        progress.begin("reading \(URL(fileURLWithPath: path).lastPathComponent)",
                       totalBytes: fstat(input, &info) == 0 ? Int64(info.st_size) : nil)
        defer { progress.end() }
        let source = HashingTeeSource(input: input, inputPath: path, output: nil, outputPath: path,
                                      progress: progress, hashing: false)
        let result = try ImageBlobExtractor.extract(source, into: folder, observer: observer)
        if let error = source.error { throw error }
        let extracted = try unwrap(result, path: path)
        guard extracted.repoTags.contains(where: { ImageReference($0)?.normalized == reference.normalized }) else {
            throw DockerImageError.archiveLacksReference(path: path, reference: reference.text, found: extracted.repoTags)
        }
        return extracted
    }

    func unwrap<T>(_ result: Result<T, ImageBlobExtractor.Problem>, path: String) throws -> T {
        switch result {
        case .success(let image): return image
        case .failure(let problem): throw DockerImageError.badArchive(path: path, problem: problem.description)
        }
    }

    func descriptor(_ blob: Manifest.Blob) -> OCILayout.Descriptor {
        OCILayout.Descriptor(mediaType: blob.mediaType, digest: blob.digest, size: blob.size)
    }
}
