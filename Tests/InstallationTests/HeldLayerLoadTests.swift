import Foundation
import TestSupport
import Testing
import BundleFormat
import FrostbyteCrypto
@testable import Engine
@testable import InstallationState
@testable import Installation
import FrostbyteCore

/// Loading v2 images that share their bottom layer, on a real dockerd (whichever
/// engine DOCKER_HOST names): on a graphdriver engine the second image's stream
/// leaves the shared layer out and still loads as the same image; a load that relies
/// on a layer the engine does not hold fails (negative control), and the loader then
/// loads again with every layer. On the containerd store nothing is left out.
@Suite("Loading images with layers the engine holds (real dockerd)", .serialized,
       .requiresDocker)
struct HeldLayerLoadTests {
    @Test func sharedBaseGoesThroughOnce() throws {
        let release = try TwoImageRelease()
        defer { release.remove() }
        let (engine, store, loader) = (release.engine, release.store, release.loader())
        let (first, second) = (release.manifest.images[0], release.manifest.images[1])

        var lines: [String] = []
        let loadedFirst = try loader.ensure(first, from: .blobs(manifest: release.manifest, folder: release.folder),
                                            timeout: 120) { lines.append($0) }
        #expect(loadedFirst.loadedNow)
        let held = release.stream(second, heldLeadingLayers: loader.heldLayers.heldPrefix(of: second.layers ?? []))
        #expect(held.omittedHeld == (store.isContainerd ? [] : [release.base]))
        let loadedSecond = try loader.ensure(second, from: .blobs(manifest: release.manifest, folder: release.folder),
                                             timeout: 120) { lines.append($0) }
        #expect(loadedSecond.loadedNow)
        #expect(try engine.image(second.name)?.diffIDs == second.layers)
        #expect(!lines.contains { $0.contains("again with every layer") }, "\(lines)")
    }

    @Test func wrongGuessFailsThenLoadsWithEveryLayer() throws {
        let release = try TwoImageRelease()
        defer { release.remove() }
        let (engine, store) = (release.engine, release.store)
        let image = release.manifest.images[1]
        #expect(try engine.image(image.name) == nil)

        let trimmed = release.stream(image, heldLeadingLayers: 1)
        if store.isContainerd {
            #expect(trimmed.omittedHeld.isEmpty, "the containerd store always gets every blob")
        } else {
            // Negative control: the stream without the base, which the engine does not hold.
            #expect(trimmed.omittedHeld == [release.base])
            #expect(throws: DockerEngineError.self) {
                try engine.load(operation: "load \(image.name)", timeout: 120, write: trimmed.write)
            }
            #expect(try engine.image(image.name) == nil, "a failed load leaves no image")
        }

        // The loader told (wrongly) that the base is held: it loads again with every layer.
        let loader = release.loader()
        loader.heldLayers.record([release.base])
        var lines: [String] = []
        let loaded = try loader.ensure(image, from: .blobs(manifest: release.manifest, folder: release.folder),
                                       timeout: 120) { lines.append($0) }
        #expect(loaded.loadedNow)
        #expect(try engine.image(image.name)?.diffIDs == image.layers)
        #expect(lines.contains { $0.contains("again with every layer") } == !store.isContainerd, "\(lines)")
    }
}

/// A v2 release folder with two images, `<run>/a:1` and `<run>/b:1`, made of a shared
/// base layer and one layer each (tiny files, built here), and the engine DOCKER_HOST
/// names; `remove()` removes the images from the engine and the folder.
private struct TwoImageRelease {
    let engine = DockerEngine(timeout: 120)
    let store: ImageStore
    let folder: String
    let layout: InstallationLayout
    let manifest: Manifest
    let base: String

    init() throws {
        store = try engine.capabilities().imageStore
        let folder = NSTemporaryDirectory() + "fbheld-\(TestRun.id)-\(UInt32.random(in: 0...UInt32.max))"
        let layout = InstallationLayout(prefix: "\(folder)/prefix")
        try FileManager.default.createDirectory(atPath: layout.state, withIntermediateDirectories: true)
        func layer(_ name: String, _ text: String) throws -> V2Blob {
            let source = "\(folder)/layer-\(name)"
            try FileManager.default.createDirectory(atPath: source, withIntermediateDirectories: true)
            try Data(text.utf8).write(to: URL(fileURLWithPath: "\(source)/\(name).txt"))
            _ = try CommandRunner.check(["tar", "--sort=name", "--mtime=@0", "--owner=0", "--group=0",
                                         "-cf", "\(source).tar", "-C", source, "."])
            return V2Blob(try Data(contentsOf: URL(fileURLWithPath: "\(source).tar")), mediaType: OCILayout.layerMediaType)
        }
        let base = try layer("base", "shared by both images \(TestRun.id)\n")
        let v2 = V2Layout(images: try ["a", "b"].map { name in
            let reference = "fbtest-held-\(TestRun.id)/\(name):1"
            return try V2Image(name: reference, fullReference: "docker.io/\(reference)", tag: "1",
                               layers: [base, try layer(name, "image \(name)\n")])
        })
        try v2.writeBlobs(into: folder)
        self.folder = folder
        self.layout = layout
        self.manifest = Manifest(name: "held", version: "1.0.0", bundleId: "held-1.0.0-000000000000", createdAt: "",
                                 builder: .init(name: "test", version: "1"), images: v2.images.map(\.listed),
                                 files: v2.files, format: Manifest.formatV2, blobs: v2.blobs.map(\.listed))
        self.base = base.digest
    }

    func loader() -> ImageLoader {
        ImageLoader(engine: engine, store: store, layout: layout, releaseFolder: folder)
    }

    func stream(_ image: Manifest.Image, heldLeadingLayers: Int) -> ImageStream {
        ImageStream(image: image, store: store, releaseFolder: folder, manifest: manifest, heldLeadingLayers: heldLeadingLayers)
    }

    func remove() {
        for image in manifest.images {
            _ = try? CommandRunner.run(["docker", "rmi", "-f", image.name], timeout: 60)
        }
        try? FileManager.default.removeItem(atPath: folder)
    }
}
