import BundleFormat
import FrostbyteCrypto
import Foundation
import Testing
import TestSupport

/// OCI 1.1 SBOM referrers (docs/FORMAT.md, "SBOM referrers"): a v2 bundle whose images
/// each carry an SBOM attached by an artifact manifest verifies; a referrer that names
/// another subject, another SBOM, another artifact type, or that index.json lists wrongly
/// fails with its own check, and only that.
@Suite("Verifier: OCI 1.1 SBOM referrers")
struct SBOMReferrerTests {
    /// The knobs a test turns: the referrer of image 0 is built from these.
    struct Referrer {
        var subjectIndex = 0
        var sbomOverride: Data?
        var artifactType = OCIReferrer.artifactType
        var indexEntry: (OCILayout.Descriptor) -> OCILayout.Descriptor = { $0 }
    }

    /// The standard fixture with an SBOM file per image and its referrer.
    static func fixture(_ knobs: Referrer = Referrer()) throws -> V2Fixture {
        var fixture = try V2Fixture.standard()
        let images = fixture.layout.images
        var blobs = [V2Blob(OCIReferrer.emptyData, mediaType: OCIReferrer.emptyMediaType)]
        var referrers: [OCILayout.Descriptor] = []
        var listed: [(sbom: String, referrer: String)] = []
        for (position, image) in images.enumerated() {
            let sbomPath = "sbom/\(position).cdx.json"
            let sbom = Data("{\"bomFormat\":\"CycloneDX\",\"image\":\"\(image.name)\"}\n".utf8)
            fixture.extraEntries.append(BundleEntry(path: sbomPath, source: .data(sbom)))
            let carried = position == 0 ? (knobs.sbomOverride ?? sbom) : sbom
            let sbomBlob = V2Blob(carried, mediaType: OCIReferrer.sbomMediaType)
            let subject = images[position == 0 ? knobs.subjectIndex : position].manifest.descriptor
            var manifest = try OCIReferrer.manifestData(subject: subject, sbomDigest: sbomBlob.digest, sbomSize: sbomBlob.size)
            if position == 0 && knobs.artifactType != OCIReferrer.artifactType {
                manifest = Data(String(decoding: manifest, as: UTF8.self)
                    .replacingOccurrences(of: OCIReferrer.artifactType, with: knobs.artifactType).utf8)
            }
            let referrer = V2Blob(manifest, mediaType: OCILayout.manifestMediaType)
            blobs += [sbomBlob, referrer]
            var entry = OCIReferrer.indexEntry(referrer.descriptor, imageReference: image.fullReference,
                                               subjectDigest: image.manifest.digest)
            if position == 0 { entry = knobs.indexEntry(entry) }
            referrers.append(entry)
            listed.append((sbomPath, referrer.digest))
        }
        fixture.layout.extraBlobs = blobs
        fixture.layout.index = try OCILayout.indexData(images.map { ($0.fullReference, $0.manifest.descriptor) },
                                                       referrers: referrers)
        fixture.editManifest = { manifest in
            for position in manifest.images.indices {
                manifest.images[position].sbom = listed[position].sbom
                manifest.images[position].sbomReferrer = listed[position].referrer
            }
        }
        return fixture
    }

    static func verify(_ fixture: V2Fixture) throws -> VerificationReport {
        let temp = try TemporaryFolder()
        defer { temp.remove() }
        let path = temp.file("demo-1.0.0.tar.zst")
        try fixture.write(to: path)
        return try BundleVerifier.verify(path: path)
    }

    @Test("images with SBOM referrers verify; index.json lists the artifacts after the images")
    func untouched() throws {
        let fixture = try Self.fixture()
        let report = try Self.verify(fixture)
        #expect(report.problems == [])
        #expect(report.blobs?.listed == 7 + 1 + 2 * 2, "the empty config once, an SBOM blob and a referrer per image")
        let index = try #require(OCILayout.parseIndex(try fixture.layout.indexData()))
        #expect(index.manifests.count == 4)
        #expect(index.manifests[2].artifactType == OCIReferrer.artifactType)
        #expect(index.manifests[2].annotations?[OCILayout.nameAnnotation] == nil)
        #expect(index.manifests[2].annotations?[OCILayout.refAnnotation]
                == "docker.io/frostbyte-demo/app:sha256-\(fixture.layout.images[0].manifest.digest.dropFirst(7)).sbom")
    }

    @Test("a referrer whose subject is another image's manifest fails sbom-referrer only")
    func wrongSubject() throws {
        let report = try Self.verify(try Self.fixture(Referrer(subjectIndex: 1)))
        #expect(report.failedChecks == [.sbomReferrer])
        #expect(report.problems.first?.message.contains("refers to another manifest") == true)
    }

    @Test("a referrer carrying other bytes than the image's SBOM file fails sbom-referrer; the SBOM blob is missing, the other unused")
    func otherSBOM() throws {
        let report = try Self.verify(try Self.fixture(Referrer(sbomOverride: Data("{\"forged\":true}\n".utf8))))
        #expect(report.failedChecks == [.sbomReferrer, .manifestReference, .blobUnreferenced])
        #expect(report.problems.contains { $0.check == .sbomReferrer && $0.message.contains("does not carry the image's SBOM file") })
    }

    @Test("a referrer of another artifact type fails sbom-referrer only")
    func otherArtifactType() throws {
        let report = try Self.verify(try Self.fixture(Referrer(artifactType: "application/spdx+json")))
        #expect(report.failedChecks == [.sbomReferrer])
    }

    @Test("a referrer index.json lists as an image (io.containerd.image.name) or not at all fails oci-index")
    func indexEntry() throws {
        let asImage = try Self.verify(try Self.fixture(Referrer(indexEntry: { entry in
            var changed = entry
            changed.annotations?[OCILayout.nameAnnotation] = "docker.io/frostbyte-demo/app:1.0"
            return changed
        })))
        #expect(asImage.failedChecks == [.ociIndex])
        let renamed = try Self.verify(try Self.fixture(Referrer(indexEntry: { entry in
            var changed = entry
            changed.annotations = [OCILayout.refAnnotation: "docker.io/frostbyte-demo/app:other"]
            return changed
        })))
        #expect(renamed.failedChecks == [.ociIndex])
        #expect(renamed.problems.contains { $0.message.contains("does not name image frostbyte-demo/app:1.0's SBOM referrer") })
    }

    @Test("without the manifest's sbom_referrer the artifact blobs are unreferenced and index.json names a stranger")
    func unlisted() throws {
        var fixture = try Self.fixture()
        let edit = fixture.editManifest
        fixture.editManifest = { manifest in
            edit(&manifest)
            manifest.images[0].sbomReferrer = nil
        }
        let report = try Self.verify(fixture)
        #expect(report.failedChecks == [.blobUnreferenced, .ociIndex])
    }
}
