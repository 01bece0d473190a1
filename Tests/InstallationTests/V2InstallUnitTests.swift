import BundleFormat
import FrostbyteCrypto
import FrostbyteArchive
import Foundation
@testable import Engine
@testable import InstallationState
@testable import Installation
import FrostbyteCore
import Testing

/// The parts of v2 installs that need no engine: what a streamed image holds and in
/// which order, the docker-archive manifest, what preflight counts, the delta's path
/// rules and the reading of `docker load`'s output.
@Suite("Install format v2 (units)")
struct V2InstallUnitTests {
    static let config = "sha256:" + String(repeating: "c", count: 64)
    static let manifestDigest = "sha256:" + String(repeating: "d", count: 64)
    static let layerA = "sha256:" + String(repeating: "a", count: 64)
    static let layerB = "sha256:" + String(repeating: "b", count: 64)

    static func manifest(carryingLayerA: Bool = true) -> Manifest {
        let image = Manifest.Image(name: "frostbyte-demo/gateway:1.0", digest: config, manifestDigest: manifestDigest,
                                   layers: [layerA, layerB, layerA])
        let blobs = [Manifest.Blob(digest: manifestDigest, size: 300, mediaType: OCILayout.manifestMediaType),
                     Manifest.Blob(digest: config, size: 200, mediaType: OCILayout.configMediaType),
                     Manifest.Blob(digest: layerA, size: 5_000, mediaType: OCILayout.layerMediaType),
                     Manifest.Blob(digest: layerB, size: 70, mediaType: OCILayout.layerMediaType)]
        let files = blobs.map { Manifest.File(path: $0.path, sha256: SHA256Digest(hex: String($0.digest.dropFirst(7))),
                                              size: $0.size, mode: "0644",
                                              inBase: $0.digest == layerA && !carryingLayerA ? true : nil) }
            + [Manifest.File(path: ".env.example", sha256: SHA256Digest(hex: String(repeating: "e", count: 64)),
                             size: 10, mode: "0644", inBase: carryingLayerA ? nil : true)]
        return Manifest(name: "demo", version: "1.1.0", bundleId: "demo-1.1.0-000000000000", createdAt: "",
                        builder: .init(name: "t", version: "1"), images: [image], files: files,
                        format: Manifest.formatV2, blobs: blobs)
    }

    @Test("graphdriver: config then layers, each once; manifest.json names them by blob path")
    func graphdriverStream() throws {
        let manifest = Self.manifest()
        let stream = ImageStream(image: manifest.images[0], store: .graphdriver("overlay2"), releaseFolder: "/r", manifest: manifest)
        #expect(stream.blobs == [Self.config, Self.layerA, Self.layerB])
        let json = String(decoding: try stream.dockerArchiveManifest(), as: UTF8.self)
        let a = "blobs/sha256/" + Self.layerA.dropFirst(7), b = "blobs/sha256/" + Self.layerB.dropFirst(7)
        #expect(json == #"[{"Config":"blobs/sha256/\#(Self.config.dropFirst(7))","Layers":["\#(a)","\#(b)","\#(a)"],"RepoTags":["frostbyte-demo/gateway:1.0"]}]"#)
    }

    @Test("graphdriver: leading layers the engine holds are left out, unless they appear again further up")
    func heldLayersLeftOut() {
        let manifest = Self.manifest()  // layers A, B, A
        func stream(_ held: Int, _ store: ImageStore = .graphdriver("overlay2")) -> ImageStream {
            ImageStream(image: manifest.images[0], store: store, releaseFolder: "/r", manifest: manifest, heldLeadingLayers: held)
        }
        #expect(stream(1).omittedHeld.isEmpty, "A is needed again as the third layer")
        #expect(stream(2).omittedHeld == [Self.layerB])
        #expect(stream(2).blobs == [Self.config, Self.layerA])
        #expect(stream(3).blobs == [Self.config])
        #expect(stream(3, .containerd(snapshotter: "overlayfs")).blobs.count == 4, "the containerd store always gets every blob")
        // manifest.json still names every layer: docker finds the held ones by their chain.
        #expect(String(decoding: (try? stream(3).dockerArchiveManifest()) ?? Data(), as: UTF8.self).contains(String(Self.layerB.dropFirst(7))))

        let chains = HeldLayerChains()
        #expect(chains.heldPrefix(of: [Self.layerA, Self.layerB]) == 0)
        chains.record([Self.layerA, Self.layerA])
        chains.record([Self.layerA, Self.layerB, Self.layerA])
        #expect(chains.heldPrefix(of: [Self.layerA, Self.layerB]) == 2)
        #expect(chains.heldPrefix(of: [Self.layerB, Self.layerA]) == 0, "a chain is held from the bottom layer only")
    }

    @Test("containerd: the image manifest first, then config and layers")
    func containerdStream() {
        let manifest = Self.manifest()
        let stream = ImageStream(image: manifest.images[0], store: .containerd(snapshotter: "overlayfs"), releaseFolder: "/r", manifest: manifest)
        #expect(stream.blobs == [Self.manifestDigest, Self.config, Self.layerA, Self.layerB])
        #expect(stream.carried == [Self.manifestDigest, Self.config, Self.layerA, Self.layerB])
        let delta = Self.manifest(carryingLayerA: false)
        #expect(ImageStream(image: delta.images[0], store: .graphdriver("overlay2"), releaseFolder: "/r", manifest: delta).carried
                == [Self.manifestDigest, Self.config, Self.layerB])
    }

    @Test("a carried blob missing from the release folder is an error, a left-out one is skipped")
    func missingBlobs() throws {
        let folder = NSTemporaryDirectory() + "fbv2unit-\(UUID().uuidString.prefix(8))"
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try FileManager.default.createDirectory(atPath: "\(folder)/images/blobs/sha256", withIntermediateDirectories: true)
        for (digest, size) in [(Self.config, 200), (Self.layerB, 70), (Self.manifestDigest, 300)] {
            try Data(count: size).write(to: URL(fileURLWithPath: "\(folder)/\(OCILayout.blobPath(digest))"))
        }
        final class Sink: ArchiveOutput { var bytes = 0; func write(_ b: UnsafeRawBufferPointer) throws { bytes += b.count } }
        // The delta leaves layer A to its base: the stream has the other blobs only.
        let delta = Self.manifest(carryingLayerA: false)
        let sink = Sink()
        let writer = try ArchiveWriter(output: sink, compression: .none, mtime: 0)
        try ImageStream(image: delta.images[0], store: .graphdriver("overlay2"), releaseFolder: folder, manifest: delta).write(to: writer)
        try writer.finish()
        #expect(sink.bytes > 0 && sink.bytes < 5_000)
        // Negative control: the full bundle carries layer A, so its absence is an error.
        let full = Self.manifest()
        let other = try ArchiveWriter(output: Sink(), compression: .none, mtime: 0)
        #expect(throws: InstallError.self) {
            try ImageStream(image: full.images[0], store: .graphdriver("overlay2"), releaseFolder: folder, manifest: full).write(to: other)
        }
    }

    @Test("preflight counts the blobs carried for images not present, each once; a delta's base files but not its images")
    func spaceCounts() {
        let full = Self.manifest()
        #expect(Preflight.imageBytes(full, of: full.images) == 300 + 200 + 5_000 + 70)
        #expect(Preflight.imageBytes(full, of: []) == 0)
        let delta = Self.manifest(carryingLayerA: false)
        #expect(Preflight.imageBytes(delta, of: delta.images) == 300 + 200 + 70)
    }

    @Test("delta paths: only relative paths without . or .. are copied; images/ is never copied")
    func deltaPaths() {
        #expect(ArchiveWriter.isValidPath("config/tenant.json"))
        for bad in ["", "/etc/passwd", "../x", "a/../../b", "a//b", "./a"] { #expect(!ArchiveWriter.isValidPath(bad), "\(bad)") }
        #expect(BundleLayout.isImagesEntry("images") && BundleLayout.isImagesEntry("images/index.json"))
        #expect(!BundleLayout.isImagesEntry("imagesx/a") && !BundleLayout.isImagesEntry("models/images"))
    }

    @Test("docker load output: an 'Error unpacking' line (exit 0 on the containerd store) is a failure")
    func loadOutput() throws {
        try DockerEngine.checkLoadOutput("Loaded image: a/b:1\n", operation: "load a/b:1")
        try DockerEngine.checkLoadOutput("The image a/b:1 already exists, renaming the old one with ID sha256:x to empty string\nLoaded image: a/b:1\n", operation: "load")
        #expect(throws: DockerEngineError.self) {
            try DockerEngine.checkLoadOutput("Loaded image: a/b:1\nError unpacking image a/b:1: apply layer error\n", operation: "load a/b:1")
        }
    }
}
