import FrostbyteCore
import BundleFormat
import FrostbyteCrypto
import Foundation
import Testing
import TestSupport

/// Delta bundles (format v2 with `base`): checked alone they verify what they carry
/// and name the base they need; with `--base` their in_base entries are checked
/// against that base's MANIFEST.json.
@Suite("Verifier: delta bundles and --base")
struct VerifierDeltaTests {
    /// A base release 1.0.0 and the delta of 1.1.0 (new compose file, worker with a new
    /// layer) that leaves app's blobs, the shared layer and oci-layout to the base.
    struct Scene {
        let temp: TemporaryFolder
        let base: BundleWriteResult
        var delta: V2Fixture

        init() throws {
            temp = try TemporaryFolder()
            base = try V2Fixture.standard().write(to: temp.file("demo-1.0.0.tar.zst"))
            var next = try V2Fixture.standard()
            next.version = "1.1.0"
            next.compose += Data("# 1.1.0\n".utf8)
            let worker = next.layout.images[1]
            let newLayer = V2Blob(Tamper.bytes(25_000, seed: 11), mediaType: OCILayout.layerMediaType)
            next.layout.images[1] = try V2Image(name: worker.name, fullReference: worker.fullReference, tag: worker.tag,
                                         layers: [V2Fixture.sharedLayer, newLayer])
            let app = next.layout.images[0]
            next.inBase = Set(([app.manifest, app.config] + app.layers).map(\.path) + [OCILayout.layoutPath])
            next.base = V2Fixture.baseRecord(base)
            delta = next
        }

        var basePath: String { temp.file("demo-1.0.0.tar.zst") }

        func writeDelta(_ fixture: V2Fixture? = nil) throws -> String {
            let path = temp.file("demo-1.1.0-delta.tar.zst")
            try (fixture ?? delta).write(to: path)
            return path
        }
    }

    @Test("a delta alone verifies what it carries, leaves out in_base entries, and names its base")
    func deltaAlone() throws {
        let scene = try Scene()
        defer { scene.temp.remove() }
        let path = try scene.writeDelta()
        let report = try BundleVerifier.verify(path: path)
        #expect(report.problems == [])
        let base = try #require(report.base)
        #expect(base.bundleId == scene.base.manifest.bundleId)
        #expect(base.manifestSha256 == SHA256Hasher.hash(scene.base.manifestData).hex)
        #expect(base.state == .unchecked)
        #expect(base.inBaseFiles == 5)
        #expect(report.blobs == BlobTally(listed: 7, carried: 3, inBase: 4))
        #expect(report.warnings.contains { $0.contains("--base") })
        let json = String(decoding: try DeterministicJSON.encode(report), as: UTF8.self)
        #expect(json.contains("\"base\" : {") && json.contains("\"manifest_sha256\""))

        // The archive really leaves them out.
        let listing = try TestCommand.run(["tar", "--zstd", "-tf", path]).stdout
        for inBase in scene.delta.inBase { #expect(!listing.contains(inBase)) }
        // SHA256SUMS and bundle_id equal those of the full bundle of the same release.
        var full = scene.delta
        full.inBase = []
        full.base = nil
        let fullWritten = try full.write(to: scene.temp.file("demo-1.1.0.tar.zst"))
        #expect(report.bundleId == fullWritten.manifest.bundleId)

        // Negative control: a carried blob changed in the delta still fails.
        var broken = scene.delta
        let worker = broken.layout.images[1]
        var changed = worker.layers[1].data
        changed[7] ^= 1
        broken.blobOverride[worker.layers[1].path] = changed
        #expect(try BundleVerifier.verify(path: try scene.writeDelta(broken)).failedChecks == [.blobDigest])
    }

    @Test("--base: the base bundle, its MANIFEST.json or its folder checks every in_base entry")
    func goodBase() throws {
        let scene = try Scene()
        defer { scene.temp.remove() }
        let path = try scene.writeDelta()
        #expect(try TestCommand.run(["tar", "--zstd", "-xf", scene.basePath, "-C", scene.temp.path]).status == 0)
        for given in [scene.basePath, scene.temp.file("demo-1.0.0/MANIFEST.json"), scene.temp.file("demo-1.0.0")] {
            let report = try BundleVerifier.verify(path: path, base: try BundleBaseManifest.load(path: given))
            #expect(report.problems == [], "\(given)")
            #expect(report.base?.state == .ok)
            #expect(report.base?.checkedAgainst == given)
        }
    }

    @Test("--base whose MANIFEST.json does not hash to base.manifest_sha256 fails base")
    func wrongBaseHash() throws {
        let scene = try Scene()
        defer { scene.temp.remove() }
        let path = try scene.writeDelta()
        // The same manifest with one byte more: same files, other hash.
        let edited = scene.temp.file("edited-MANIFEST.json")
        try (scene.base.manifestData + Data(" ".utf8)).write(to: URL(fileURLWithPath: edited))
        let report = try BundleVerifier.verify(path: path, base: try BundleBaseManifest.load(path: edited))
        #expect(report.failedChecks == [.base])
        #expect(report.base?.state == .mismatch)
        // Another release as the base: hash and bundle_id differ.
        let other = try BundleVerifier.verify(path: path, base: try BundleBaseManifest.load(path: path))
        #expect(other.failedChecks == [.base])
    }

    @Test("--base lacking a file the delta marks in_base fails base, naming the file")
    func baseLacksFile() throws {
        var scene = try Scene()
        defer { scene.temp.remove() }
        let newLayer = scene.delta.layout.images[1].layers[1]
        scene.delta.inBase.insert(newLayer.path)
        let path = try scene.writeDelta()
        // Alone it verifies: the layer is the base's business.
        #expect(try BundleVerifier.verify(path: path).problems == [])
        let report = try BundleVerifier.verify(path: path, base: try BundleBaseManifest.load(path: scene.basePath))
        #expect(report.failedChecks == [.base])
        #expect(report.has(.base, path: newLayer.path))
    }

    @Test("in_base entries in a bundle that names no base fail base")
    func inBaseWithoutBase() throws {
        var scene = try Scene()
        defer { scene.temp.remove() }
        scene.delta.base = nil
        let report = try BundleVerifier.verify(path: try scene.writeDelta())
        #expect(report.failedChecks == [.base])
        #expect(report.problems.count == scene.delta.inBase.count)
    }

    @Test("an in_base entry the archive carries anyway is refused at its header")
    func inBaseCarried() throws {
        let scene = try Scene()
        defer { scene.temp.remove() }
        let plain = scene.temp.file("delta.tar")
        try scene.delta.write(to: plain, compression: .none)
        let output = scene.temp.file("carried.tar.zst")
        try V2Fixture.rewrite(plain, to: output,
                              transform: Tamper.adding(.file("demo-1.1.0/" + OCILayout.layoutPath, OCILayout.layoutFile)))
        let report = try BundleVerifier.verify(path: output)
        #expect(report.failedChecks == [.unlistedFile])
        #expect(report.problems.first?.message.contains("refused at its header") == true)
    }

    @Test("an extracted delta folder verifies without its in_base files, and with the base's files added")
    func deltaFolder() throws {
        let scene = try Scene()
        defer { scene.temp.remove() }
        let path = try scene.writeDelta()
        #expect(try TestCommand.run(["tar", "--zstd", "-xf", path, "-C", scene.temp.path]).status == 0)
        let folder = scene.temp.file("demo-1.1.0")
        let alone = try BundleVerifier.verify(path: folder, base: try BundleBaseManifest.load(path: scene.basePath))
        #expect(alone.problems == [])
        #expect(alone.base?.state == .ok)

        // The base's files copied in: the whole release, each in_base file checked.
        let baseFolder = scene.temp.file("base")
        try FileManager.default.createDirectory(atPath: baseFolder, withIntermediateDirectories: true)
        #expect(try TestCommand.run(["tar", "--zstd", "-xf", scene.basePath, "-C", baseFolder]).status == 0)
        for inBase in scene.delta.inBase.sorted() {
            try FileManager.default.copyItem(atPath: baseFolder + "/demo-1.0.0/" + inBase, toPath: folder + "/" + inBase)
        }
        let whole = try BundleVerifier.verify(path: folder)
        #expect(whole.problems == [])
        #expect(whole.blobs?.carried == 7)

        // Negative control: one of them changed fails by its name.
        let layer = V2Fixture.sharedLayer.path
        var data = try Data(contentsOf: URL(fileURLWithPath: folder + "/" + layer))
        data[0] ^= 1
        try data.write(to: URL(fileURLWithPath: folder + "/" + layer))
        let changed = try BundleVerifier.verify(path: folder)
        #expect(changed.failedChecks == [.sha256, .blobDigest])
        #expect(changed.has(.sha256, path: layer))
    }

    @Test("the real binary: delta line, --json base, --base exit statuses 0, 1 and 2; inspect shows the base")
    func binary() throws {
        let binary = try FrostbyteBinary.path
        let scene = try Scene()
        defer { scene.temp.remove() }
        let path = try scene.writeDelta()

        let alone = try TestCommand.run([binary, "verify-bundle", path])
        #expect(alone.status == 0, "\(alone.stdout)\(alone.stderr)")
        #expect(alone.stdout.contains("delta: needs base \(scene.base.manifest.bundleId)"))
        #expect(alone.stdout.contains("not checked"))

        let json = try TestCommand.run([binary, "verify-bundle", path, "--base", scene.basePath, "--json"])
        #expect(json.status == 0, "\(json.stderr)")
        let report = try #require(try JSONSerialization.jsonObject(with: json.data) as? [String: Any])
        let base = try #require(report["base"] as? [String: Any])
        #expect(base["bundle_id"] as? String == scene.base.manifest.bundleId)
        #expect(base["state"] as? String == "ok")
        #expect(base["name"] as? String == "demo" && base["version"] as? String == "1.0.0")

        let wrong = try TestCommand.run([binary, "verify-bundle", path, "--base", path])
        #expect(wrong.status == 1, "\(wrong.stdout)\(wrong.stderr)")
        #expect(wrong.stdout.contains("[base]"))

        for bad in [scene.temp.file("absent.tar.zst"), "/dev/null", scene.temp.path + "/demo-1.1.0-delta.tar.zst.sha256"] {
            let refused = try TestCommand.run([binary, "verify-bundle", path, "--base", bad])
            #expect(refused.status == 2, "\(bad): \(refused.stdout)\(refused.stderr)")
            #expect(refused.stdout.isEmpty)
            #expect(refused.stderr.split(separator: "\n").count == 1, "\(refused.stderr)")
        }

        let inspect = try TestCommand.run([binary, "inspect", path])
        #expect(inspect.status == 0, "\(inspect.stderr)")
        #expect(inspect.stdout.contains("base:") && inspect.stdout.contains(scene.base.manifest.bundleId))
        #expect(inspect.stdout.contains("blobs:"))
        let facts = try BundleVerifier.inspect(path: path)
        #expect(facts.base?.filesInBase == 5)
        #expect(facts.blobs?.inBase == 4)
    }
}
