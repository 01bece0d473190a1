import BundleFormat
@testable import Builder
import Foundation
import FrostbyteCrypto
import TestSupport
import Testing

/// The bundle SBOM (docs/FORMAT.md, "SBOMs"): written from what MANIFEST.json lists,
/// valid CycloneDX 1.6 (the official schema, scripts/validate-cyclonedx), the same
/// bytes for the same contents, and `--rederive-sbom` refuses one that disagrees.
@Suite("Builder: the bundle SBOM")
struct BundleSBOMTests {
    static func manifest() -> Manifest {
        func digest(_ text: String) -> SHA256Digest { SHA256Hasher.hash(Data(text.utf8)) }
        var image = Manifest.Image(name: "fbtest/app:1", digest: "sha256:" + String(repeating: "c", count: 64),
                                   manifestDigest: "sha256:" + String(repeating: "a", count: 64),
                                   layers: ["sha256:" + String(repeating: "b", count: 64)])
        image.sbom = "sbom/fbtest_app_1.cdx.json"
        func file(_ path: String) -> Manifest.File {
            Manifest.File(path: path, sha256: digest(path), size: 10, mode: "0644")
        }
        var manifest = Manifest(
            name: "fbtest", version: "1.2.3", bundleId: "", createdAt: "2026-01-01T00:00:00Z",
            builder: .init(name: "frostbyte-bundle", version: "9.9"), images: [image],
            models: [Manifest.Model(name: "embed", path: "models/embed.bin", sha256: digest("models/embed.bin"), size: 10)],
            files: [Manifest.File(path: "migrations", sha256: nil, size: 0, mode: "0755"),
                    file("migrations/001.sql"), file("docker-compose.yml"), file("models/embed.bin"),
                    file(OCILayout.blobPath(image.layers![0])), file(OCILayout.indexPath), file(image.sbom!),
                    file(BundleSBOM.path), file("provenance/build.intoto.json")],
            format: Manifest.formatV2)
        manifest.sbom = BundleSBOM.path
        manifest.provenance = "provenance/build.intoto.json"
        return manifest
    }

    @Test("images, models and every other file with their SHA-256; valid CycloneDX 1.6; same contents, same bytes")
    func document() throws {
        let manifest = Self.manifest()
        let data = try BundleSBOM.document(for: manifest)
        #expect(try BundleSBOM.document(for: manifest) == data)
        let json = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        #expect(json["specVersion"] as? String == "1.6")
        #expect((json["metadata"] as? [String: Any])?["timestamp"] as? String == "2026-01-01T00:00:00Z")
        let components = try #require(json["components"] as? [[String: Any]])
        #expect(components.map { $0["type"] as? String ?? "" }
                == ["container", "machine-learning-model", "file", "file", "file", "file"])
        #expect(components.compactMap { $0["name"] as? String }
                == ["fbtest/app:1", "embed", "docker-compose.yml", "images/index.json", "migrations/001.sql",
                    "sbom/fbtest_app_1.cdx.json"], "no blob, folder, provenance, nor the bundle SBOM itself")
        let image = components[0]
        #expect((image["hashes"] as? [[String: String]])?.first?["content"] == String(repeating: "a", count: 64))
        let reference = try #require((image["externalReferences"] as? [[String: Any]])?.first)
        #expect(reference["type"] as? String == "bom" && reference["url"] as? String == "sbom/fbtest_app_1.cdx.json")
        #expect((reference["hashes"] as? [[String: String]])?.first?["content"]
                == SHA256Hasher.hash(Data("sbom/fbtest_app_1.cdx.json".utf8)).hex)

        let folder = try TestRun.scratchFolder("fbbundlesbom")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try data.write(to: URL(fileURLWithPath: folder + "/bundle.cdx.json"))
        let validated = try TestCommand.run(["\(TestRun.repositoryRoot)/scripts/validate-cyclonedx", folder + "/bundle.cdx.json"])
        #expect(validated.status == 0, "\(validated.stderr)")
        // Negative control for the validator: a component type CycloneDX does not know.
        let invalid = String(decoding: data, as: UTF8.self).replacingOccurrences(of: "\"machine-learning-model\"", with: "\"model\"")
        try Data(invalid.utf8).write(to: URL(fileURLWithPath: folder + "/invalid.cdx.json"))
        #expect(try TestCommand.run(["\(TestRun.repositoryRoot)/scripts/validate-cyclonedx", folder + "/invalid.cdx.json"]).status == 1)

        // Other contents, another serial number.
        var changed = manifest
        changed.files[1].sha256 = SHA256Hasher.hash(Data("other".utf8))
        let other = try #require(try JSONSerialization.jsonObject(with: try BundleSBOM.document(for: changed)) as? [String: Any])
        #expect(other["serialNumber"] as? String != json["serialNumber"] as? String)
    }

    @Test("--rederive-sbom writes the bundle SBOM again from MANIFEST.json; a changed one is refused with its first difference")
    func rederives() throws {
        let manifest = Self.manifest()
        let shipped = try BundleSBOM.document(for: manifest)
        let good = SBOMRederivation()
        good.manifestAccepted(manifest)
        #expect(SBOMRederivationTests.feed(good, BundleSBOM.path, shipped))
        let outcome = good.conclude()
        #expect(outcome.problems.isEmpty && outcome.bundleIdentical, "\(outcome.problems)")

        let changed = Data(String(decoding: shipped, as: UTF8.self).replacingOccurrences(of: "\"embed\"", with: "\"embed2\"").utf8)
        let bad = SBOMRederivation()
        bad.manifestAccepted(manifest)
        SBOMRederivationTests.feed(bad, BundleSBOM.path, changed)
        let refused = bad.conclude()
        #expect(!refused.bundleIdentical)
        let problem = try #require(refused.problems.first { $0.path == BundleSBOM.path })
        #expect(problem.check == .sbomRederived && problem.actual == SHA256Hasher.hash(changed).prefixed)
        #expect(problem.message.contains("bundle SBOM") && problem.message.contains("embed2"), "\(problem.message)")
    }
}
