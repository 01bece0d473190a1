import FrostbyteCore
import FrostbyteCrypto
import FrostbyteArchive
import BundleFormat
import Stack
import FoundationEssentials
import Glibc

/// What `build` is asked to do.
public struct BuildRequest: Sendable {
    /// The bundle spec (YAML).
    public var specPath: String
    /// The bundle file, or an existing folder (or a path ending in `/`) to write
    /// `<name>-<version>.tar.zst` into.
    public var outputPath: String
    /// PEM PKCS#8 Ed25519 key; MANIFEST.json.sig is written when set.
    public var signingKeyPath: String?
    /// `--source-date-epoch`; falls back to `SOURCE_DATE_EPOCH`, the spec's date, 0.
    public var sourceDateEpoch: Int64?
    public var compression: ArchiveCompression
    /// The installer binary stored as `bin/frostbyte-bundle`; nil = the running executable.
    public var installerPath: String?
    /// Recorded as the manifest's `builder`.
    public var builder: Manifest.Builder
    /// Environment consulted for SOURCE_DATE_EPOCH.
    public var environment: [String: String]
    /// `--split`: write parts of this many bytes and `<out>.parts.json` instead of one file.
    public var splitSize: Int64? = nil
    /// `Manifest.formatV2` (default: one OCI layout, each blob once) or `formatV1`.
    public var format: String = Manifest.formatV2
    /// `--base`: a bundle (or its MANIFEST.json) whose files and blobs a delta leaves out.
    public var basePath: String?

    public init(specPath: String, outputPath: String, signingKeyPath: String? = nil, sourceDateEpoch: Int64? = nil,
                compression: ArchiveCompression = .standard, installerPath: String? = nil,
                builder: Manifest.Builder, environment: [String: String] = ProcessInfo.processInfo.environment) {
        self.specPath = specPath; self.outputPath = outputPath; self.signingKeyPath = signingKeyPath
        self.sourceDateEpoch = sourceDateEpoch; self.compression = compression; self.installerPath = installerPath
        self.builder = builder; self.environment = environment
    }
}

/// The result of `build`, printed by `build --json`.
public struct BuildSummary: Sendable, Encodable {
    public var path: String
    public var sidecar: String
    public var bundleId: String
    public var sha256: SHA256Digest
    public var size: Int64
    public var uncompressedSize: Int64
    /// Number of entries MANIFEST.json lists (files and folders).
    public var files: Int
    public var images: [Manifest.Image]
    public var models: [Manifest.Model]
    public var signed: Bool
    /// What compose hardening changed (removed ports, ...).
    public var warnings: [String]
    /// `frostbyte-bundle/2` or `frostbyte-bundle/1`.
    public var format: String
    /// Delta bundles: the release they build on.
    public var base: Manifest.Base?
    /// v2: blobs listed, blobs carried in the archive, and their bytes.
    public var blobs: Int?
    public var blobsCarried: Int?
    public var blobBytesCarried: Int64?
    /// v2: bytes of image data that sharing saved (each image's blobs summed, minus
    /// the bytes of the distinct blobs).
    public var sharedBlobBytesSaved: Int64?

    enum CodingKeys: String, CodingKey {
        case path, sidecar, sha256, size, files, images, models, signed, warnings, format, base, blobs
        case blobsCarried = "blobs_carried"
        case blobBytesCarried = "blob_bytes_carried"
        case sharedBlobBytesSaved = "shared_blob_bytes_saved"
        case bundleId = "bundle_id"
        case uncompressedSize = "uncompressed_size"
    }
}

/// Builds a bundle from a spec: validates it, renders the hardened compose file,
/// stages images (`docker save`, hashed and parsed while written, or docker-archives
/// already on disk), hashes models, template, migrations and the installer binary,
/// and writes the bundle with `BundleWriter`.
///
/// Guarantees: every input problem is found before the long work where it can be
/// (spec, compose, key, output folder, model files, image presence); on any failure
/// or SIGINT/SIGTERM no output, sidecar or staging file remains; memory is bounded
/// by a few 1 MiB buffers whatever the size of images and models.
public struct BundleBuilder: Sendable {
    public var request: BuildRequest
    public var progress: ProgressReporter
    /// Called with each hardening warning as soon as the compose file is rendered.
    public var onWarning: @Sendable (String) -> Void

    public init(request: BuildRequest, progress: ProgressReporter = SilentProgress(),
                onWarning: @escaping @Sendable (String) -> Void = { _ in }) {
        self.request = request; self.progress = progress; self.onWarning = onWarning
    }

    /// Runs the build.
    /// - Throws: `SpecError`, `YAMLError`, `ComposeError`, `SigningError`, `BuildInputError`,
    ///   `DockerImageError`, `CommandError`, `DockerInspectError`, `BundleWriteError`,
    ///   `ArchiveWriteError`, `FileReadError`.
    public func build() throws -> BuildSummary {
        let spec = try BundleSpec.load(path: request.specPath)
        try spec.checkInputFiles()
        let rendered = try ComposeHardener(spec: spec).render()
        let warnings = rendered.warnings.map(\.description)
        warnings.forEach(onWarning)
        let epoch = try BuildInputs.sourceDateEpoch(
            option: request.sourceDateEpoch, environment: request.environment, spec: spec)
        let key = try request.signingKeyPath.map { try SigningKey(contentsOf: $0) }

        let outputPath = resolveOutputPath(spec)
        let output = try BundleWriter.destination(at: outputPath, splitSize: request.splitSize)
        defer { output.discard() }

        let composeData = Data(rendered.composeYAML)
        var entries: [BundleEntry] = [BundleEntry(path: "docker-compose.yml", source: .data(composeData), mode: .file)]
        if let template = spec.templatePath { entries += try BuildInputs.templateEntries(template) }
        let migrationEntries = try spec.migrations.map { try BuildInputs.migrationEntries($0.path) } ?? []
        entries += migrationEntries
        let models = try BuildInputs.modelEntries(spec.models)
        entries += models.map(\.entry)
        entries.append(try BuildInputs.installerEntry(request.installerPath))
        entries += BuildInputs.shareEntries(besides: request.installerPath)

        let base = try request.basePath.map { try DeltaBase(path: $0, spec: spec, format: request.format) }
        var staging: StagingFolder?
        var blobFolder: BlobFolder?
        defer { blobFolder?.remove(); staging?.remove() }
        func stagingFolder() throws -> StagingFolder {
            if let staging { return staging }
            let created = try StagingFolder(besideOutput: outputPath)
            staging = created
            return created
        }
        var images: [SavedImage] = []
        var layout: StagedLayout?
        var pipeline: PipelinedBundleWriter?
        var hashed: [BundleEntry]
        if request.format == Manifest.formatV2 {
            // The inputs (MANIFEST.json lists them; the body starts with them) are hashed
            // while the images are saved or taken apart. Images the engine saves are packed
            // as they arrive, by the pipelined writer's own thread, once the inputs are
            // handed over; when every image is an archive on disk, the bundle is written
            // at once after both.
            let packWhileSaving = spec.images.contains { $0.archivePath == nil }
            let unhashed = entries
            let hashing = BackgroundWork { try BundleWriter.hash(unhashed, progress: SilentProgress()) }
            let folder = try BlobFolder(path: try stagingFolder().path + "/blobs")
            blobFolder = folder
            // A blob packed into the body leaves the blob folder at once (scratch disk).
            let writer = try PipelinedBundleWriter(outputPath: outputPath, root: spec.bundleStem,
                                                   compression: request.compression, mtime: epoch,
                                                   packWhileAdding: packWhileSaving) { entry in
                if let digest = entry.digest?.prefixed, entry.source == .file(folder.blobPath(digest))
                    || entry.source == .zstdFile(folder.compressedPath(digest)) { folder.release(digest) }
            }
            pipeline = writer
            var inputs: [BundleEntry] = []
            func handOverInputs(_ hashed: [BundleEntry]) throws {
                inputs = base?.markingInBase(hashed) ?? hashed
                try writer.append(try BundleLayout.plan(inputs))
            }
            var imageEntries: [BundleEntry] = []
            var unpacked: [BundleEntry] = []
            var inputsHandedOver = false
            func handOverInputsOnce() throws {
                if !inputsHandedOver { try handOverInputs(try hashing.join()) }
                inputsHandedOver = true
            }
            layout = try stageBlobs(spec, folder: folder, createdAt: BuildInputs.iso8601(epoch)) { fresh in
                let marked = base?.markingInBase(fresh) ?? fresh
                imageEntries += marked
                unpacked += marked
                // The layout's folders come first: the inputs are waited for once a blob is in.
                guard packWhileSaving, marked.contains(where: \.isStagedFile) else { return }
                try handOverInputsOnce()
                try writer.append(unpacked)
                unpacked = []
            }
            try handOverInputsOnce()
            try writer.append(unpacked)
            hashed = inputs + imageEntries
            if let staged = layout {
                let sboms = try sbomEntries(spec, staged: staged, hashed: hashed, models: models, epoch: epoch)
                try writer.append(sboms)
                hashed += sboms
            }
            if let key, let staged = layout {
                let provenance = try provenanceEntries(spec: spec, hashed: hashed, images: staged.images, epoch: epoch,
                                                       base: base?.record, key: key)
                try writer.append(provenance)
                hashed += provenance
            }
        } else {
            images = try stageImages(spec, staging: stagingFolder)
            for image in images {
                entries.append(BundleEntry(path: BuildInputs.imageFileName(image.reference), source: .file(image.path),
                                           mode: .file, digest: image.sha256, size: image.size))
            }
            hashed = try BundleWriter.hash(entries, progress: progress)
        }
        let byPath = Dictionary(hashed.map { ($0.path, $0) }, uniquingKeysWith: { first, _ in first })
        func digest(_ path: String) -> (SHA256Digest, Int64) {
            let entry = byPath[path]!
            return (entry.digest!, entry.size!)
        }
        var manifest = Manifest(
            kind: .stack, name: spec.name, version: spec.version, bundleId: "",
            createdAt: BuildInputs.iso8601(epoch), builder: request.builder,
            compose: Manifest.Compose(
                file: "docker-compose.yml", sha256: SHA256Hasher.hash(composeData), project: rendered.project,
                networks: rendered.networks.map { Manifest.Network(name: $0.name, subnet: $0.subnet, internal: $0.internal) }),
            gateway: Manifest.Gateway(
                service: spec.gateway.service, ipv4Address: spec.gateway.ipv4Address.description,
                port: spec.gateway.port, healthPath: spec.gateway.healthPath),
            images: layout?.images ?? images.map {
                let file = BuildInputs.imageFileName($0.reference)
                let (sha, size) = digest(file)
                return Manifest.Image(name: $0.reference, file: file, sha256: sha, digest: $0.imageID, size: size,
                                      manifestDigest: $0.manifestDigests.first, diffIDs: $0.diffIDs.isEmpty ? nil : $0.diffIDs)
            },
            models: models.map { model, entry in
                let (sha, size) = digest(entry.path)
                return Manifest.Model(name: model.name, path: entry.path, sha256: sha, size: size)
            },
            scripts: hashed.map(\.path).filter { $0.hasPrefix("scripts/") && $0.hasSuffix(".sh") && $0.split(separator: "/").count == 2 }
                .sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) },
            migrations: spec.migrations.map {
                Manifest.Migrations(service: $0.service, database: $0.database, user: $0.user,
                                    files: migrationEntries.map(\.path))
            },
            exports: spec.exports.isEmpty ? nil : spec.exports.map {
                Manifest.ExportStep(name: $0.name, service: $0.service, command: $0.command)
            },
            files: [], format: request.format, blobs: layout?.blobs, base: base?.record)
        if byPath[BuildProvenance.path] != nil { manifest.provenance = BuildProvenance.path }
        if byPath[BundleSBOM.path] != nil { manifest.sbom = BundleSBOM.path }

        let result: BundleWriteResult
        if let pipeline {
            progress.begin("packing \(URL(fileURLWithPath: outputPath).lastPathComponent)", totalBytes: nil)
            result = try pipeline.finish(manifest: manifest, signingKey: key, to: output)
            progress.end()
        } else {
            let writer = BundleWriter(compression: request.compression, mtime: epoch, signingKey: key, progress: progress)
            result = try writer.write(manifest: manifest, entries: hashed, to: output)
        }
        let inBase = Set(hashed.filter(\.inBase).map(\.path))
        let carried = layout?.blobs.filter { !inBase.contains($0.path) }
        return BuildSummary(
            path: result.path, sidecar: result.sidecarPath, bundleId: result.manifest.bundleId, sha256: result.sha256,
            size: result.size, uncompressedSize: result.uncompressedSize, files: result.manifest.files.count,
            images: result.manifest.images, models: result.manifest.models, signed: result.signed, warnings: warnings,
            format: result.manifest.format, base: result.manifest.base,
            blobs: layout?.blobs.count, blobsCarried: carried.map(\.count), blobBytesCarried: carried?.reduce(0) { $0 + $1.size },
            sharedBlobBytesSaved: layout.map { $0.sharedBytesSaved })
    }

    /// OUT itself, or `OUT/<name>-<version>.tar[.zst]` when OUT is a folder or ends in `/`.
    func resolveOutputPath(_ spec: BundleSpec) -> String {
        var isFolder = false
        let exists = FileManager.default.fileExists(atPath: request.outputPath, isDirectory: &isFolder)
        guard request.outputPath.hasSuffix("/") || (exists && isFolder) else { return request.outputPath }
        var folder = request.outputPath
        while folder.count > 1 && folder.hasSuffix("/") { folder.removeLast() }
        return folder + "/" + spec.bundleStem + request.compression.fileExtension
    }
}

private extension BundleEntry {
    /// A file on disk (a staged blob), not a folder or bytes in memory.
    var isStagedFile: Bool {
        switch source {
        case .file, .zstdFile: return true
        case .data, .directory: return false
        }
    }
}
