import BundleFormat
import Foundation
import TestSupport
import Testing

/// Every SBOM `build` writes, validated by a second, independent validator:
/// cyclonedx-python-lib's `JsonStrictValidator` (CycloneDX 1.6, the schemas the
/// library ships; `scripts/validate-cyclonedx --validator cyclonedx-lib`), beside the
/// official schema of `reference/cyclonedx/`. Needs dockerd, the demo images
/// (`FB_DEMO_REPO` names another repository of them) and `fbtest/busybox:1`;
/// scripts/setup installs the library.
@Suite("SBOMs validated by cyclonedx-python-lib (real dockerd)", .serialized, .requiresDockerAndTestImage)
struct CycloneDXLibraryTests {
    static let validator = "\(TestRun.repositoryRoot)/scripts/validate-cyclonedx"

    private func scratch(_ tag: String) throws -> String {
        let folder = NSTemporaryDirectory() + "fbcdx-\(tag)-\(TestRun.id)-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        return folder
    }

    /// Builds `spec` into `folder`, extracts it and returns every `sbom/*.cdx.json` path,
    /// checking MANIFEST names one per image among them.
    private func sboms(spec: String, folder: String, images: Int) throws -> [String] {
        let bundle = folder + "/bundle.tar.zst"
        let built = try TestCommand.tool(["build", spec, "-o", bundle, "--source-date-epoch", "1767225600"])
        try #require(built.status == 0, "\(built.stderr)")
        let extracted = folder + "/x"
        try FileManager.default.createDirectory(atPath: extracted, withIntermediateDirectories: true)
        try TestCommand.check(["tar", "--zstd", "-xf", bundle, "-C", extracted])
        let root = try #require(try FileManager.default.contentsOfDirectory(atPath: extracted).first)
        let manifest = try ManifestCoding.decodeManifest(
            Data(contentsOf: URL(fileURLWithPath: "\(extracted)/\(root)/MANIFEST.json")))
        #expect(manifest.images.count == images && manifest.images.allSatisfy { $0.sbom != nil })
        let files = try FileManager.default.contentsOfDirectory(atPath: "\(extracted)/\(root)/sbom")
            .filter { $0.hasSuffix(".cdx.json") }.sorted().map { "\(extracted)/\(root)/sbom/\($0)" }
        // Every SBOM MANIFEST names, and any other sbom/*.cdx.json (a bundle SBOM, when written).
        let named = Set(manifest.images.compactMap { $0.sbom }.map { "\(extracted)/\(root)/\($0)" })
        #expect(named.count == images && named.isSubset(of: Set(files)), "\(files)")
        return files
    }

    @Test("every SBOM of the demo bundle validates with cyclonedx-python-lib and with the official schema")
    func demoBundle() throws {
        let folder = try scratch("demo")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let repository = ProcessInfo.processInfo.environment["FB_DEMO_REPO"] ?? "frostbyte-demo"
        let spec = try CrossEngine.demoSpec(repository: repository, in: folder)
        let files = try sboms(spec: spec, folder: folder, images: 4)
        let library = try TestCommand.run([Self.validator, "--validator", "cyclonedx-lib"] + files)
        #expect(library.status == 0, "\(library.stderr)")
        #expect(library.stdout.split(separator: "\n").count == files.count
                && library.stdout.contains("(cyclonedx-python-lib)"), "\(library.stdout)")
        let both = try TestCommand.run([Self.validator] + files)
        #expect(both.status == 0 && both.stdout.contains("(schema, cyclonedx-python-lib)"), "\(both.stderr)")
    }

    @Test("the test image's SBOMs validate too; a broken SBOM is refused by cyclonedx-python-lib, naming the fault")
    func testImageAndBrokenDocument() throws {
        let fixture = try BuildFixture(image: Docker.testImage)
        defer { fixture.remove() }
        let files = try sboms(spec: fixture.spec, folder: fixture.out, images: 1)
        let valid = try TestCommand.run([Self.validator, "--validator", "cyclonedx-lib"] + files)
        #expect(valid.status == 0, "\(valid.stderr)")

        // Negative controls, each a copy of a valid SBOM with one fault.
        let original = try #require(try JSONSerialization.jsonObject(
            with: Data(contentsOf: URL(fileURLWithPath: files[0]))) as? [String: Any])
        var wrongVersion = original
        wrongVersion["version"] = "one"
        var unknownKey = original
        unknownKey["frostbyte"] = true  // additionalProperties: false at the root
        var wrongFormat = original
        wrongFormat["bomFormat"] = "SPDX"  // enum: CycloneDX
        for (index, broken) in [wrongVersion, unknownKey, wrongFormat].enumerated() {
            let path = "\(fixture.out)/broken\(index).cdx.json"
            try JSONSerialization.data(withJSONObject: broken).write(to: URL(fileURLWithPath: path))
            let refused = try TestCommand.run([Self.validator, "--validator", "cyclonedx-lib", path])
            #expect(refused.status == 1 && refused.stderr.contains("\(path): cyclonedx-python-lib: "),
                    "broken document \(index): \(refused.stdout) \(refused.stderr)")
        }
        // Not JSON at all: refused before either validator.
        let garbage = "\(fixture.out)/garbage.cdx.json"
        try Data("{\"bomFormat\": ".utf8).write(to: URL(fileURLWithPath: garbage))
        #expect(try TestCommand.run([Self.validator, "--validator", "cyclonedx-lib", garbage]).status == 1)
        // Bad usage is exit 2, not a validation verdict.
        #expect(try TestCommand.run([Self.validator, "--validator", "nope", files[0]]).status == 2)
    }
}
