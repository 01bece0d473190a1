import BundleFormat
import FrostbyteCrypto
import Foundation
import TestSupport

/// Demo bundles in format v2 (docs/FORMAT.md, "Format v2") for the install tests,
/// written by the project's `BundleWriter` (layout: TestSupport's `V2Layout`) from the demo images' `docker save`
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
    /// The gateway's healthcheck asks for a page it does not serve: it never turns healthy.
    var failingGatewayHealth = false

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

        var compose = try TestCommand.check([FrostbyteBinary.path, "render", "\(TestRun.repositoryRoot)/manifests/demo.yaml"])
        compose = compose.replacingOccurrences(of: "io.frostbyte.bundle: demo-1.0.0", with: "io.frostbyte.bundle: demo-\(version)")
        for name in images {
            compose = compose.replacingOccurrences(of: "image: frostbyte-demo/\(name):1.0", with: "image: \(reference(name))")
        }
        if failingGatewayHealth {
            compose = compose.replacingOccurrences(of: "http://127.0.0.1:8080/health", with: "http://127.0.0.1:8080/no-such-page")
        }
        var entries: [BundleEntry] = [
            BundleEntry(path: "docker-compose.yml", source: .data(Data((compose + "\n").utf8))),
            BundleEntry(path: ".env.example", source: .file("\(TestRun.repositoryRoot)/bundle-template/.env.example")),
        ]
        let migrationSource = "\(TestRun.repositoryRoot)/migrations/demo"
        var migrations = try FileManager.default.contentsOfDirectory(atPath: migrationSource).filter { $0.hasSuffix(".sql") }.sorted()
        for name in migrations { entries.append(BundleEntry(path: "migrations/\(name)", source: .file("\(migrationSource)/\(name)"))) }
        for extra in extraMigrations {
            entries.append(BundleEntry(path: "migrations/\(extra.name)", source: .data(Data(extra.sql.utf8))))
            migrations.append(extra.name)
        }

        var layout = V2Layout(images: [])
        for name in images {
            let ref = reference(name)
            let (config, layers) = try Self.convert("\(Docker.demoImagesFolder)/\(name).tar", into: "\(scratch)/\(name)",
                                                    extraLayer: extraLayers[name])
            layout.images.append(try V2Image(name: ref, fullReference: "docker.io/\(ref)",
                                             tag: String(ref.split(separator: ":").last!), config: config, layers: layers))
        }
        let blobs = layout.blobs.map(\.listed)
        entries = try BundleWriter.hash(entries + layout.entries())

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
        let manifest = DemoBundle.manifest(version: version, composeDigest: composeDigest, images: layout.images.map(\.listed),
                                           migrations: migrations, files: [], format: Manifest.formatV2,
                                           blobs: blobs, base: baseRecord)
        let name = root + (base == nil ? "" : "-delta") + (tamperBlob ? "-tampered" : "") + ".tar"
        return try BundleWriter(compression: .none, mtime: 1_767_225_600, signingKey: signingKey)
            .write(manifest: manifest, entries: entries, to: "\(folder)/\(name)")
    }

    /// A legacy `docker save` archive as v2 blobs in `folder`: its config and layers
    /// (uncompressed, so a layer's digest is its diff ID); with `extraLayer`, one more
    /// layer holding `/frostbyte-extra.txt` and a config naming it (a new image).
    static func convert(_ archive: String, into folder: String, extraLayer: String?) throws
        -> (config: V2Blob, layers: [V2Blob]) {
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        try TestCommand.check(["tar", "-xf", archive, "-C", folder])
        let saved = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: "\(folder)/manifest.json")))
        guard let entry = (saved as? [[String: Any]])?.first, let configName = entry["Config"] as? String,
              let layerNames = entry["Layers"] as? [String] else { throw TestFailure("\(archive): no manifest.json") }
        var layers = try layerNames.map { try V2Blob(file: "\(folder)/\($0)", mediaType: OCILayout.layerMediaType) }
        var configPath = "\(folder)/\(configName)"
        if let extraLayer {
            let content = "\(folder)/extra"
            try FileManager.default.createDirectory(atPath: content, withIntermediateDirectories: true)
            try Data((extraLayer + "\n").utf8).write(to: URL(fileURLWithPath: "\(content)/frostbyte-extra.txt"))
            let layerPath = "\(folder)/extra-layer.tar"
            try TestCommand.check(["tar", "-cf", layerPath, "-C", content, "--owner=0", "--group=0", "--numeric-owner",
                                   "--mtime=@1767225600", "--format=ustar", "frostbyte-extra.txt"])
            layers.append(try V2Blob(file: layerPath, mediaType: OCILayout.layerMediaType))
            guard var config = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: configPath))) as? [String: Any],
                  var rootfs = config["rootfs"] as? [String: Any] else { throw TestFailure("\(archive): unreadable config") }
            rootfs["diff_ids"] = layers.map(\.digest)
            config["rootfs"] = rootfs
            var history = config["history"] as? [[String: Any]] ?? []
            history.append(["created": "2026-01-01T00:00:00Z", "created_by": "frostbyte install tests: extra layer"])
            config["history"] = history
            configPath = "\(folder)/config-extra.json"
            try JSONSerialization.data(withJSONObject: config, options: [.sortedKeys, .withoutEscapingSlashes])
                .write(to: URL(fileURLWithPath: configPath))
        }
        guard let diffIDs = OCILayout.parseDiffIDs(config: try Data(contentsOf: URL(fileURLWithPath: configPath))),
              diffIDs == layers.map(\.digest) else {
            throw TestFailure("\(archive): the layers do not hash to the config's diff_ids (compressed layers?)")
        }
        return (try V2Blob(file: configPath, mediaType: OCILayout.configMediaType), layers)
    }
}
