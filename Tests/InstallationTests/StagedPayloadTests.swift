@testable import BundleFormat
import FrostbyteCrypto
import Foundation
@testable import Installation
import Testing

/// `StagedPayload`: which staged image files go when, and preflight's figure for the
/// most staged at once (issue 25), on a stack of a shared base and three images.
@Suite("Install scratch disk (units)")
struct StagedPayloadTests {
    static func digest(_ c: Character) -> String { "sha256:" + String(repeating: c, count: 64) }
    /// Images A, B, C on one base layer (1000 B); own layers 100, 500, 50 B; a 7 B file beside.
    static func manifest() -> Manifest {
        let base = digest("0")
        var blobs: [Manifest.Blob] = [Manifest.Blob(digest: base, size: 1000, mediaType: OCILayout.layerMediaType)]
        var images: [Manifest.Image] = []
        for (index, (name, size)) in [("a", Int64(100)), ("b", 500), ("c", 50)].enumerated() {
            let configDigest = digest(Character(["1", "2", "3"][index]))
            let manifestBlob = digest(Character(["4", "5", "6"][index])), layer = digest(Character(["7", "8", "9"][index]))
            blobs += [Manifest.Blob(digest: manifestBlob, size: 1, mediaType: OCILayout.manifestMediaType),
                      Manifest.Blob(digest: configDigest, size: 1, mediaType: OCILayout.configMediaType),
                      Manifest.Blob(digest: layer, size: size, mediaType: OCILayout.layerMediaType)]
            images.append(Manifest.Image(name: "fb/\(name):1", digest: configDigest, manifestDigest: manifestBlob,
                                         layers: [base, layer]))
        }
        let files = blobs.map { Manifest.File(path: $0.path, sha256: SHA256Digest(hex: String($0.digest.dropFirst(7))),
                                              size: $0.size, mode: "0644") }
            + [Manifest.File(path: ".env.example", sha256: SHA256Digest(hex: String(repeating: "e", count: 64)), size: 7, mode: "0644")]
        return Manifest(name: "s", version: "1.0.0", bundleId: "s-1.0.0-000000000000", createdAt: "",
                        builder: .init(name: "t", version: "1"), images: images, files: files,
                        format: Manifest.formatV2, blobs: blobs)
    }

    @Test("peak: the largest two neighbouring images (one loading, the next extracted), never the whole payload")
    func peak() {
        let manifest = Self.manifest()
        // While B is extracted A loads: base + A + B; while C is extracted B loads: base + B + C (A gone).
        #expect(StagedPayload.peakBytes(manifest) == 1000 + 2 + 100 + 2 + 500)
        #expect(Preflight.prefixBytes(manifest, streamed: true) == 7 + 1604)
        // A bundle folder is copied whole: every file (the old figure, the control).
        #expect(Preflight.prefixBytes(manifest, streamed: false) == 7 + 1000 + 102 + 502 + 52)
    }

    @Test("settle removes an image's own files at once, a shared blob only with its last reader")
    func settle() throws {
        let manifest = Self.manifest()
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("fb-staged-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: root) }
        try FileManager.default.createDirectory(atPath: "\(root)/\(OCILayout.blobFolder)", withIntermediateDirectories: true)
        for blob in manifest.blobs ?? [] { FileManager.default.createFile(atPath: "\(root)/\(blob.path)", contents: Data("x".utf8)) }
        func present(_ digest: String) -> Bool { FileManager.default.fileExists(atPath: "\(root)/\(OCILayout.blobPath(digest))") }
        let payload = StagedPayload(manifest: manifest)
        func verified(_ index: Int) -> VerifiedImage {
            VerifiedImage(image: manifest.images[index], path: root, manifestData: Data(), signature: .unsigned)
        }
        let base = Self.digest("0")
        payload.settle(verified(0))
        #expect(!present(manifest.images[0].digest) && !present(manifest.images[0].layers![1]))
        #expect(present(base) && present(manifest.images[1].digest), "B and C still read the base")
        payload.settle(verified(1))
        #expect(present(base))
        payload.settle(verified(2))
        #expect(!present(base), "the last reader settled")
        #expect((try FileManager.default.contentsOfDirectory(atPath: "\(root)/\(OCILayout.blobFolder)")).isEmpty)
    }
}
