import BundleFormat
import Foundation

/// Demo bundles in format v2 (docs/FORMAT.md, "Format v2") for the install tests,
/// written by the project's `BundleWriter` from the demo images' `docker save`
/// archives (out/images, scripts/make-demo-images): each layer.tar becomes a layer
/// blob (uncompressed, so its digest is its diff ID), the config its own blob, plus
/// the canonical image manifest of `OCILayout`, `images/index.json` and
/// `images/oci-layout`. The same small files as `DemoBundle` (compose file,
/// .env.example, migrations).
///
/// Variants: an extra layer on top of an image (a new image, tagged `extraTag`), an
/// extra migration, a delta against a base bundle (entries the base has with the same
/// SHA-256 are `in_base` and left out of the archive), one carried blob whose bytes
/// are flipped after hashing (the archive then disagrees with the manifest).
struct V2DemoBundle {
    var version = "1.0.0"
    var repository: String
    var images = ["gateway", "postgres", "redis", "worker"]
    /// Image name → text of `/frostbyte-extra.txt` in one more layer on top of it.
    var extraLayers: [String: String] = [:]
    /// The tag of images that got an extra layer.
    var extraTag = "1.1"
    var extraMigrations: [(name: String, sql: String)] = []
    var signingKey: SigningKey?
    /// Write a delta of this base bundle (its MANIFEST.json bytes).
    var base: Data?
    /// Flip one byte of the first layer blob the archive carries, after hashing.
    var tamperBlob = false

    var root: String { "demo-\(version)" }

    func reference(_ image: String) -> String {
        "\(repository)/\(image):\(extraLayers[image] == nil ? "1.0" : extraTag)"
    }

    /// Writes `<folder>/demo-<version>[-delta][-tampered].tar` (uncompressed) and returns
    /// what the writer produced.
    func write(in folder: String) throws -> BundleWriteResult {
        let scratch = "\(folder)/scratch-\(version)-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: scratch) }

        var compose = try InstallEnv.check([InstallEnv.binary, "render", "\(InstallEnv.repoRoot)/manifests/demo.yaml"])
        compose = compose.replacingOccurrences(of: "io.frostbyte.bundle: demo-1.0.0", with: "io.frostbyte.bundle: demo-\(version)")
        for name in images {
            compose = compose.replacingOccurrences(of: "image: frostbyte-demo/\(name):1.0", with: "image: \(reference(name))")
        }
        var entries: [BundleEntry] = [
            BundleEntry(path: "docker-compose.yml", source: .data(Data((compose + "\n").utf8))),
            BundleEntry(path: ".env.example", source: .file("\(InstallEnv.repoRoot)/bundle-template/.env.example")),
        ]
        let migrationSource = "\(InstallEnv.repoRoot)/migrations/demo"
        var migrations = try FileManager.default.contentsOfDirectory(atPath: migrationSource).filter { $0.hasSuffix(".sql") }.sorted()
        for name in migrations { entries.append(BundleEntry(path: "migrations/\(name)", source: .file("\(migrationSource)/\(name)"))) }
        for extra in extraMigrations {
            entries.append(BundleEntry(path: "migrations/\(extra.name)", source: .data(Data(extra.sql.utf8))))
            migrations.append(extra.name)
        }

        var manifestImages: [Manifest.Image] = []
        var blobs: [Manifest.Blob] = []
        var blobFiles: [String: String] = [:]
        var indexEntries: [(fullReference: String, manifest: OCILayout.Descriptor)] = []
        func addBlob(_ digest: String, size: Int64, mediaType: String, file: String) {
            guard blobFiles[digest] == nil else { return }
            blobFiles[digest] = file
            blobs.append(.init(digest: digest, size: size, mediaType: mediaType))
        }
        for name in images {
            let image = try Self.convert("\(InstallEnv.demoImagesFolder)/\(name).tar", into: "\(scratch)/\(name)",
                                         extraLayer: extraLayers[name])
            let ref = reference(name)
            let manifestDescriptor = OCILayout.Descriptor(mediaType: OCILayout.manifestMediaType,
                                                          digest: image.manifest.digest, size: image.manifest.size)
            addBlob(image.manifest.digest, size: image.manifest.size, mediaType: OCILayout.manifestMediaType, file: image.manifest.file)
            addBlob(image.config.digest, size: image.config.size, mediaType: OCILayout.configMediaType, file: image.config.file)
            for layer in image.layers { addBlob(layer.digest, size: layer.size, mediaType: OCILayout.layerMediaType, file: layer.file) }
            manifestImages.append(.init(name: ref, digest: image.config.digest, manifestDigest: image.manifest.digest,
                                        layers: image.layers.map(\.digest)))
            indexEntries.append((fullReference: "docker.io/\(ref)", manifest: manifestDescriptor))
        }
        entries.append(BundleEntry(path: OCILayout.layoutPath, source: .data(OCILayout.layoutFile)))
        entries.append(BundleEntry(path: OCILayout.indexPath, source: .data(try OCILayout.indexData(indexEntries))))
        for blob in blobs {
            entries.append(BundleEntry(path: blob.path, source: .file(blobFiles[blob.digest]!),
                                       digest: SHA256Digest(hex: String(blob.digest.dropFirst(7))), size: blob.size))
        }
        entries = try BundleWriter.hash(entries)

        var baseRecord: Manifest.Base?
        if let base {
            let baseManifest = try ManifestCoding.decodeManifest(base)
            let known = Set(baseManifest.files.compactMap { file in file.sha256.map { "\(file.path) \($0.hex)" } })
            for index in entries.indices where known.contains("\(entries[index].path) \(entries[index].digest!.hex)") {
                entries[index].inBase = true
            }
            baseRecord = BundleBaseManifest(source: "base", data: base, manifest: baseManifest).record
        }
        let layerPaths = Set(blobs.filter { $0.mediaType == OCILayout.layerMediaType }.map(\.path))
        if tamperBlob, let index = entries.firstIndex(where: { layerPaths.contains($0.path) && !$0.inBase }),
           case .file(let source) = entries[index].source {
            var bytes = try Data(contentsOf: URL(fileURLWithPath: source))
            bytes[bytes.count / 2] ^= 0x01
            let tampered = "\(scratch)/tampered-blob"
            try bytes.write(to: URL(fileURLWithPath: tampered))
            entries[index].source = .file(tampered)
        }

        let composeDigest = SHA256Hasher.hash(Data((compose + "\n").utf8))
        let manifest = DemoBundle.manifest(version: version, composeDigest: composeDigest, images: manifestImages,
                                           migrations: migrations, files: [], format: Manifest.formatV2,
                                           blobs: blobs, base: baseRecord)
        let name = root + (base == nil ? "" : "-delta") + (tamperBlob ? "-tampered" : "") + ".tar"
        return try BundleWriter(compression: .none, mtime: 1_767_225_600, signingKey: signingKey)
            .write(manifest: manifest, entries: entries, to: "\(folder)/\(name)")
    }

    /// One blob as converted: its digest, size and file.
    struct Blob { var digest: String; var size: Int64; var file: String }

    /// A legacy `docker save` archive as v2 blobs in `folder`: config, layers and the
    /// canonical image manifest; with `extraLayer`, one more layer holding
    /// `/frostbyte-extra.txt` and a config naming it (a new image).
    static func convert(_ archive: String, into folder: String, extraLayer: String?) throws
        -> (manifest: Blob, config: Blob, layers: [Blob]) {
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        try InstallEnv.check(["tar", "-xf", archive, "-C", folder])
        let saved = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: "\(folder)/manifest.json")))
        guard let entry = (saved as? [[String: Any]])?.first, let configName = entry["Config"] as? String,
              let layerNames = entry["Layers"] as? [String] else { throw FixtureFailure("\(archive): no manifest.json") }
        var layers: [Blob] = []
        for name in layerNames {
            let hashed = try SHA256Hasher.hash(fileAt: "\(folder)/\(name)")
            layers.append(Blob(digest: "sha256:\(hashed.digest.hex)", size: hashed.size, file: "\(folder)/\(name)"))
        }
        var configPath = "\(folder)/\(configName)"
        if let extraLayer {
            let content = "\(folder)/extra"
            try FileManager.default.createDirectory(atPath: content, withIntermediateDirectories: true)
            try Data((extraLayer + "\n").utf8).write(to: URL(fileURLWithPath: "\(content)/frostbyte-extra.txt"))
            let layerPath = "\(folder)/extra-layer.tar"
            try InstallEnv.check(["tar", "-cf", layerPath, "-C", content, "--owner=0", "--group=0", "--numeric-owner",
                                  "--mtime=@1767225600", "--format=ustar", "frostbyte-extra.txt"])
            let hashed = try SHA256Hasher.hash(fileAt: layerPath)
            layers.append(Blob(digest: "sha256:\(hashed.digest.hex)", size: hashed.size, file: layerPath))
            guard var config = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: configPath))) as? [String: Any],
                  var rootfs = config["rootfs"] as? [String: Any] else { throw FixtureFailure("\(archive): unreadable config") }
            rootfs["diff_ids"] = layers.map(\.digest)
            config["rootfs"] = rootfs
            var history = config["history"] as? [[String: Any]] ?? []
            history.append(["created": "2026-01-01T00:00:00Z", "created_by": "frostbyte install tests: extra layer"])
            config["history"] = history
            configPath = "\(folder)/config-extra.json"
            try JSONSerialization.data(withJSONObject: config, options: [.sortedKeys, .withoutEscapingSlashes])
                .write(to: URL(fileURLWithPath: configPath))
        }
        let configHash = try SHA256Hasher.hash(fileAt: configPath)
        let config = Blob(digest: "sha256:\(configHash.digest.hex)", size: configHash.size, file: configPath)
        guard let diffIDs = OCILayout.parseDiffIDs(config: try Data(contentsOf: URL(fileURLWithPath: configPath))),
              diffIDs == layers.map(\.digest) else {
            throw FixtureFailure("\(archive): the layers do not hash to the config's diff_ids (compressed layers?)")
        }
        let manifestData = try OCILayout.manifestData(
            config: .init(mediaType: OCILayout.configMediaType, digest: config.digest, size: config.size),
            layers: layers.map { .init(mediaType: OCILayout.layerMediaType, digest: $0.digest, size: $0.size) })
        let manifestPath = "\(folder)/image-manifest.json"
        try manifestData.write(to: URL(fileURLWithPath: manifestPath))
        let manifest = Blob(digest: "sha256:\(SHA256Hasher.hash(manifestData).hex)", size: Int64(manifestData.count), file: manifestPath)
        return (manifest, config, layers)
    }
}
