import BundleFormat
import Foundation
import FrostbyteCrypto
import TestSupport
import Testing

/// Format v2 keeps the bundle specification's image fields: `images[].file` names the
/// image's manifest blob and `images[].sha256` its hash. verify-bundle checks them; v2
/// bundles written before they existed stay valid; a script that knows only those
/// two fields (sha256sum + jq) checks every image of an extracted v2 bundle.
@Suite("Verifier: v2 images[].file and images[].sha256")
struct ImageSpecFieldsTests {
    /// The script of the specification: every image's file must hash to its sha256.
    static let specScript = #"jq -r '.images[] | "\(.sha256)  \(.file)"' MANIFEST.json | sha256sum --strict --quiet -c"#

    private func written(_ edit: (inout V2Fixture) -> Void = { _ in }) throws -> (TemporaryFolder, String, BundleWriteResult) {
        let temp = try TemporaryFolder()
        var fixture = try V2Fixture.standard()
        edit(&fixture)
        let path = temp.file("demo-1.0.0.tar.zst")
        let result = try fixture.write(to: path)
        return (temp, path, result)
    }

    @Test("build's v2 images carry file = the manifest blob, sha256 = its hash; the bundle verifies")
    func present() throws {
        let (temp, path, result) = try written()
        defer { temp.remove() }
        for image in result.manifest.images {
            #expect(image.file == OCILayout.blobPath(image.manifestDigest!))
            #expect(image.sha256?.prefixed == image.manifestDigest)
            #expect(image.size == nil && image.archiveFile == nil)
        }
        let json = String(decoding: result.manifestData, as: UTF8.self)
        #expect(json.contains(#""file" : "images/blobs/sha256/"#))
        #expect(try BundleVerifier.verify(path: path).problems == [])
    }

    @Test("a v2 manifest without file/sha256 (older builds) still verifies, as archive and folder")
    func olderV2StaysReadable() throws {
        let (temp, path, result) = try written { fixture in
            fixture.editManifest = { manifest in
                for index in manifest.images.indices { manifest.images[index].file = nil; manifest.images[index].sha256 = nil }
            }
        }
        defer { temp.remove() }
        #expect(!String(decoding: result.manifestData, as: UTF8.self).contains(#""file" : "images/"#))
        let report = try BundleVerifier.verify(path: path)
        #expect(report.problems == [])
        #expect(report.images.count == 2)
        #expect(try TestCommand.run(["tar", "--zstd", "-xf", path, "-C", temp.path]).status == 0)
        #expect(try BundleVerifier.verify(path: temp.file("demo-1.0.0")).problems == [])
    }

    @Test("file naming another blob, a wrong sha256, or a half pair each fail with their check")
    func wrongFieldsFail() throws {
        let (temp1, path1, _) = try written { fixture in
            fixture.editManifest = { $0.images[0].file = OCILayout.blobPath($0.images[0].digest) }
        }
        defer { temp1.remove() }
        let otherBlob = try BundleVerifier.verify(path: path1)
        #expect(otherBlob.failedChecks == [.manifestReference])
        #expect(otherBlob.problems.contains { $0.message.contains("is not its manifest blob") })

        let (temp2, path2, _) = try written { fixture in
            fixture.editManifest = { $0.images[1].sha256 = SHA256Hasher.hash(Data("other".utf8)) }
        }
        defer { temp2.remove() }
        let wrongHash = try BundleVerifier.verify(path: path2)
        #expect(wrongHash.failedChecks == [.manifestReference])
        #expect(wrongHash.problems.contains { $0.message.contains("is not its manifest_digest") })

        let (temp3, path3, _) = try written { fixture in
            fixture.editManifest = { $0.images[0].sha256 = nil }
        }
        defer { temp3.remove() }
        #expect(try BundleVerifier.verify(path: path3).failedChecks == [.manifestField])
    }

    @Test("a script knowing only images[].file/sha256 checks an extracted v2 bundle; a changed manifest blob fails it")
    func specificationScript() throws {
        let (temp, path, result) = try written()
        defer { temp.remove() }
        #expect(try TestCommand.run(["tar", "--zstd", "-xf", path, "-C", temp.path]).status == 0)
        let root = temp.file("demo-1.0.0")
        let passed = try TestCommand.run(["sh", "-c", Self.specScript], in: root)
        #expect(passed.status == 0, "\(passed.stderr)")

        // Negative control: one byte of the first image's manifest blob changed.
        let blob = root + "/" + result.manifest.images[0].file!
        var bytes = try Data(contentsOf: URL(fileURLWithPath: blob))
        bytes[bytes.count - 2] ^= 0x20
        try bytes.write(to: URL(fileURLWithPath: blob))
        let failed = try TestCommand.run(["sh", "-c", Self.specScript], in: root)
        #expect(failed.status != 0)
        #expect(failed.stdout.contains(result.manifest.images[0].file! + ": FAILED"))
    }
}
