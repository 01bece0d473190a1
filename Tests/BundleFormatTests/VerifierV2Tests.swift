import FrostbyteCore
import BundleFormat
import FrostbyteCrypto
import Foundation
import Testing
import TestSupport

/// Format v2 bundles written by BundleWriter: the untouched bundle verifies, and each
/// attack on the OCI layout fails with exactly its own check.
@Suite("Verifier: format v2 (OCI layout, blobs once)")
struct VerifierV2Tests {
    /// Writes `fixture` (after `edit`) and verifies it as an archive.
    private func verify(_ edit: (inout V2Fixture) throws -> Void = { _ in }) throws -> VerificationReport {
        let temp = try TemporaryFolder()
        defer { temp.remove() }
        var fixture = try V2Fixture.standard()
        try edit(&fixture)
        let path = temp.file("demo-1.0.0.tar.zst")
        try fixture.write(to: path)
        return try BundleVerifier.verify(path: path)
    }

    /// Writes the fixture, rewrites its tar through `transform`, and verifies that.
    private func verifyTampered(_ transform: @escaping ([FixtureEntry]) throws -> [FixtureEntry]) throws -> VerificationReport {
        let temp = try TemporaryFolder()
        defer { temp.remove() }
        let path = try V2Fixture.standard().writeTampered(in: temp, transform: transform)
        return try BundleVerifier.verify(path: path)
    }

    private static let appLayer: V2Blob = {
        // swiftlint:disable:next force_try
        try! V2Fixture.standard().layout.images[0].layers[1]
    }()

    @Test("an untouched v2 bundle verifies, signed, as an archive and as an extracted folder")
    func untouched() throws {
        let temp = try TemporaryFolder()
        defer { temp.remove() }
        var fixture = try V2Fixture.standard()
        let key = try SigningKey.generate()
        fixture.signingKey = key
        let path = temp.file("demo-1.0.0.tar.zst")
        let written = try fixture.write(to: path)
        #expect(written.manifest.format == Manifest.formatV2)
        #expect(written.manifest.blobs?.count == 7, "2 manifests, 2 configs, 3 layers (one shared)")
        let trusted = try TrustedKey(key: try key.verifyingKey())
        let report = try BundleVerifier.verify(path: path, trust: [trusted])
        #expect(report.problems == [])
        #expect(report.signature.state == .trusted)
        #expect(report.images.map(\.name) == ["frostbyte-demo/app:1.0", "frostbyte-demo/worker:1.0"])
        #expect(report.images.map(\.actualDigest) == fixture.layout.images.map(\.config.digest))
        #expect(report.images.map(\.manifestDigest) == fixture.layout.images.map(\.manifest.digest))
        #expect(report.images.map(\.layers) == [2, 2])
        #expect(report.blobs == BlobTally(listed: 7, carried: 7, inBase: 0))
        #expect(report.base == nil)
        let json = String(decoding: try DeterministicJSON.encode(report), as: UTF8.self)
        #expect(json.contains("\"blobs\" : {") && !json.contains("\"base\""))

        #expect(try TestCommand.run(["tar", "--zstd", "-xf", path, "-C", temp.path]).status == 0)
        let folderReport = try BundleVerifier.verify(path: temp.file("demo-1.0.0"), trust: [trusted])
        #expect(folderReport.problems == [])
        #expect(folderReport.blobs?.carried == 7)
    }

    @Test("a wrong blob under a right name (files[] describing the new bytes) fails blob-digest only; also as a folder")
    func wrongBlobUnderRightName() throws {
        let layer = Self.appLayer
        var changed = layer.data
        changed[100] ^= 0x01
        let report = try verify { $0.blobOverride[layer.path] = changed }
        #expect(report.failedChecks == [.blobDigest])
        #expect(report.has(.blobDigest, path: layer.path))

        let temp = try TemporaryFolder()
        defer { temp.remove() }
        var fixture = try V2Fixture.standard()
        fixture.blobOverride[layer.path] = changed
        try fixture.write(to: temp.file("demo-1.0.0.tar.zst"))
        #expect(try TestCommand.run(["tar", "--zstd", "-xf", temp.file("demo-1.0.0.tar.zst"), "-C", temp.path]).status == 0)
        let folder = try BundleVerifier.verify(path: temp.file("demo-1.0.0"))
        #expect(folder.failedChecks == [.blobDigest])

        // Negative control of the folder path: the untouched folder passes.
        let clean = try TemporaryFolder()
        defer { clean.remove() }
        try V2Fixture.standard().write(to: clean.file("demo-1.0.0.tar.zst"))
        #expect(try TestCommand.run(["tar", "--zstd", "-xf", clean.file("demo-1.0.0.tar.zst"), "-C", clean.path]).status == 0)
        #expect(try BundleVerifier.verify(path: clean.file("demo-1.0.0")).problems == [])
    }

    @Test("a blob's bytes changed in the archive (manifest intact) fails sha256 and blob-digest")
    func flippedBlobByte() throws {
        let path = "demo-1.0.0/" + Self.appLayer.path
        let report = try verifyTampered(Tamper.flipByte(in: path, at: 500))
        #expect(report.failedChecks == [.sha256, .blobDigest])
    }

    @Test("a blob listed in blobs[] and files[] but absent from the archive is missing-file")
    func missingBlob() throws {
        let report = try verifyTampered(Tamper.removing("demo-1.0.0/" + Self.appLayer.path))
        #expect(report.failedChecks == [.missingFile])
        #expect(report.has(.missingFile, path: Self.appLayer.path))
    }

    @Test("a blob blobs[] lists but files[] does not (never stored) is missing-file")
    func blobNotInFiles() throws {
        // BundleWriter derives files[] from its entries: leaving the entry out leaves it out of both.
        let layer = Self.appLayer
        let temp = try TemporaryFolder()
        defer { temp.remove() }
        let fixture = try V2Fixture.standard()
        var (manifest, entries) = try fixture.parts()
        entries.removeAll { $0.path == layer.path }
        manifest.files = []
        _ = try BundleWriter(mtime: 0).write(manifest: manifest, entries: entries, to: temp.file("demo-1.0.0.tar.zst"))
        let dropped = try BundleVerifier.verify(path: temp.file("demo-1.0.0.tar.zst"))
        #expect(dropped.failedChecks == [.missingFile])
        #expect(dropped.has(.missingFile, path: layer.path))
    }

    @Test("a blob no image uses (listed in blobs[]) is blob-unreferenced")
    func unusedBlob() throws {
        let stray = V2Blob(Tamper.bytes(5_000, seed: 9), mediaType: OCILayout.layerMediaType)
        let report = try verify { $0.layout.extraBlobs = [stray] }
        #expect(report.failedChecks == [.blobUnreferenced])
        #expect(report.has(.blobUnreferenced, path: stray.path))
    }

    @Test("a blob file blobs[] does not list is refused at its header (blob-unreferenced), listed in files[] or not")
    func blobFileNotInBlobs() throws {
        let stray = Tamper.bytes(5_000, seed: 9)
        let path = OCILayout.blobPath("sha256:" + SHA256Hasher.hash(stray).hex)
        let listed = try verify { $0.extraEntries = [BundleEntry(path: path, source: .data(stray))] }
        #expect(listed.failedChecks == [.blobUnreferenced])
        #expect(listed.problems.first?.message.contains("refused at its header") == true)

        let planted = try verifyTampered(Tamper.adding(.file("demo-1.0.0/" + path, stray)))
        #expect(planted.failedChecks == [.blobUnreferenced])
        #expect(planted.problems.first?.message.contains("refused at its header") == true)
    }

    @Test("a config whose rootfs.diff_ids disagree with its layers fails image-config")
    func configDiffIDs() throws {
        let report = try verify { fixture in
            let image = fixture.layout.images[1]
            fixture.layout.images[1] = try V2Image(name: image.name, fullReference: image.fullReference, tag: image.tag,
                                            layers: image.layers, diffIDs: [image.layers[0].digest])
        }
        #expect(report.failedChecks == [.imageConfig])
    }

    @Test("a manifest blob naming another image's config fails image-manifest")
    func manifestNamesOtherConfig() throws {
        let report = try verify { fixture in
            let image = fixture.layout.images[1]
            fixture.layout.images[1] = try V2Image(name: image.name, fullReference: image.fullReference, tag: image.tag,
                                            layers: image.layers, manifestConfig: fixture.layout.images[0].config)
        }
        #expect(report.failedChecks == [.imageManifest])
    }

    @Test("images[].layers disagreeing with the manifest blob fails image-manifest")
    func manifestLayersDiffer() throws {
        let report = try verify { fixture in
            fixture.editManifest = { manifest in manifest.images[0].layers?.reverse() }
        }
        #expect(report.has(.imageManifest))
        #expect(report.has(.imageConfig))
        #expect(report.failedChecks.isSubset(of: [.imageManifest, .imageConfig]))
    }

    @Test("index.json lacking an image, or naming it under another reference, fails oci-index")
    func indexLacksImage() throws {
        let lacking = try verify { fixture in
            let first = fixture.layout.images[0]
            fixture.layout.index = try OCILayout.indexData([(first.fullReference, first.manifest.descriptor)])
        }
        #expect(lacking.failedChecks == [.ociIndex])
        let renamed = try verify { fixture in
            fixture.layout.index = try OCILayout.indexData(fixture.layout.images.map {
                ("docker.io/frostbyte-demo/other:1.0", $0.manifest.descriptor)
            })
        }
        #expect(renamed.failedChecks == [.ociIndex])
        // The short reference names the same image as the full one: accepted.
        let short = try verify { fixture in
            fixture.layout.index = try OCILayout.indexData(fixture.layout.images.map { ($0.name, $0.manifest.descriptor) })
        }
        #expect(short.problems == [])
    }

    @Test("a blob larger than the manifest says is refused at its header and the pass stops")
    func oversizedBlob() throws {
        let layer = Self.appLayer
        let report = try verifyTampered { entries in
            entries.map { entry in
                guard entry.pathString == "demo-1.0.0/" + layer.path else { return entry }
                var bigger = entry
                bigger.data = Tamper.bytes(3_000_000, seed: 5)
                return bigger
            }
        }
        #expect(report.failedChecks == [.size])
        #expect(report.problems.first?.message.contains("refused at its header") == true)
        #expect(report.bytesHashed < 1_000_000, "the oversized blob must not be hashed")
    }

    @Test("a v1 bundle from BundleWriter still verifies, and its JSON has no v2 keys")
    func v1StillVerifies() throws {
        let temp = try TemporaryFolder()
        defer { temp.remove() }
        let (entries, imageDigest) = try WriterFixture.entries(in: temp)
        let manifest = try WriterFixture.draft(version: "1.0.0", entries: entries, imageDigest: imageDigest)
        _ = try BundleWriter(mtime: 0).write(manifest: manifest, entries: entries, to: temp.file("demo-1.0.0.tar.zst"))
        let report = try BundleVerifier.verify(path: temp.file("demo-1.0.0.tar.zst"))
        #expect(report.problems == [])
        #expect(report.images.first?.layout == "docker-legacy")
        #expect(report.blobs == nil && report.base == nil)
        let json = String(decoding: try DeterministicJSON.encode(report), as: UTF8.self)
        #expect(!json.contains("\"blobs\"") && !json.contains("\"base\"") && !json.contains("manifest_digest"))
    }

    @Test("inspect of a v2 bundle: images with manifest digest, layers and size; blobs and the dedup saving")
    func inspect() throws {
        let temp = try TemporaryFolder()
        defer { temp.remove() }
        let fixture = try V2Fixture.standard()
        try fixture.write(to: temp.file("demo-1.0.0.tar.zst"))
        let facts = try BundleVerifier.inspect(path: temp.file("demo-1.0.0.tar.zst"))
        #expect(facts.format == Manifest.formatV2)
        let perImage = fixture.layout.images.map { image in
            ([image.manifest, image.config] + image.layers).reduce(Int64(0)) { $0 + $1.size }
        }
        #expect(facts.images.map(\.size) == perImage)
        #expect(facts.images.map(\.layerCount) == [2, 2])
        #expect(facts.images.map(\.manifestDigest) == fixture.layout.images.map(\.manifest.digest))
        let unique = fixture.layout.blobs.reduce(Int64(0)) { $0 + $1.size }
        #expect(facts.blobs?.count == 7)
        #expect(facts.blobs?.bytes == unique)
        #expect(facts.blobs?.dedupSaving == V2Fixture.sharedLayer.size)
        #expect(facts.base == nil)
    }
}

/// The installer's early loads of v2 images: each image is announced as soon as its
/// blobs are in, and never when anything before it failed.
@Suite("Verifier: v2 images announced while the bundle still streams")
struct VerifierV2AnnounceTests {
    private func announced(_ fixture: V2Fixture) throws -> (report: VerificationReport, images: [VerifiedImage], staging: String) {
        let temp = try TemporaryFolder()
        defer { temp.remove() }
        let path = temp.file("demo-1.0.0.tar.zst")
        try fixture.write(to: path)
        let staging = temp.file("staging")
        var images: [VerifiedImage] = []
        let report = try BundleVerifier.verify(archiveAt: path, extractTo: staging) { images.append($0) }
        return (report, images, staging)
    }

    @Test("every image of an untouched bundle is announced once, from the staging folder")
    func untouched() throws {
        let fixture = try V2Fixture.standard()
        let (report, images, staging) = try announced(fixture)
        #expect(report.verified, "\(report.problems)")
        #expect(images.map(\.image.name) == ["frostbyte-demo/app:1.0", "frostbyte-demo/worker:1.0"])
        #expect(images.allSatisfy { $0.image.archiveFile == nil && $0.path == staging })
    }

    @Test("a config whose diff_ids disagree, or a damaged blob, is never announced")
    func tampered() throws {
        var badConfig = try V2Fixture.standard()
        let wrongConfig = V2Blob(Data(#"{"rootfs":{"type":"layers","diff_ids":["sha256:00"]}}"#.utf8),
                                 mediaType: OCILayout.configMediaType)
        badConfig.blobOverride[badConfig.layout.images[0].config.path] = wrongConfig.data
        let first = try announced(badConfig)
        #expect(!first.report.verified)
        #expect(!first.images.contains { $0.image.name == "frostbyte-demo/app:1.0" })

        var damaged = try V2Fixture.standard()
        damaged.blobOverride[damaged.layout.images[0].layers[1].path] = Tamper.bytes(30_000, seed: 9)
        let second = try announced(damaged)
        #expect(!second.report.verified)
        #expect(second.images.isEmpty, "nothing after a damaged blob is announced")
    }
}
