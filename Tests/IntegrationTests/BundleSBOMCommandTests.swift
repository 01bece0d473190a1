import BundleFormat
import Foundation
import TestSupport
import Testing

/// The bundle SBOM and the OCI 1.1 SBOM referrers of a real `build` of the demo spec
/// (docs/FORMAT.md, "SBOMs", "SBOM referrers"), read by independent tools (sha256sum,
/// skopeo, umoci, the official CycloneDX schema), and refused by `verify-bundle` when
/// changed: by its hash; re-signed with the trusted key, by `--rederive-sbom`; a
/// referrer re-pointed at another image, by its subject. Re-signing is the independent
/// Python re-signer of `ProvenanceCommandTests`, so each refusal is the check under test.
@Suite("bundle SBOM and OCI 1.1 SBOM referrers: built, read by independent tools, refused when wrong",
       .serialized, .requiresDockerAndTestImage)
struct BundleSBOMCommandTests {
    struct Built {
        let folder: String
        var bundle: String { folder + "/demo.tar.zst" }
        var key: String { folder + "/k" }

        init() throws {
            folder = NSTemporaryDirectory() + "fbbsb-\(TestRun.id)-\(UUID().uuidString.prefix(8))"
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            let spec = try CrossEngine.demoSpec(repository: OCIInteropTests.repository, in: folder)
            try #require(try TestCommand.tool(["keygen", "--out", folder + "/k"]).status == 0)
            let built = try TestCommand.tool(["build", spec, "-o", bundle, "--source-date-epoch", "1767225600",
                                              "--sign-key", folder + "/k.key"])
            try #require(built.status == 0, "\(built.stderr)")
        }

        func remove() { try? FileManager.default.removeItem(atPath: folder) }

        /// A fresh extracted copy: its root folder and manifest.
        func extract(_ name: String) throws -> (root: String, manifest: Manifest) {
            let target = folder + "/" + name
            try FileManager.default.createDirectory(atPath: target, withIntermediateDirectories: true)
            try TestCommand.check(["tar", "--zstd", "-xf", bundle, "-C", target])
            let root = target + "/demo-1.0.0"
            return (root, try ManifestCoding.decodeManifest(Data(contentsOf: URL(fileURLWithPath: root + "/MANIFEST.json"))))
        }

        func verify(_ path: String, rederive: Bool = true) throws -> (status: Int32, report: [String: Any]) {
            let result = try TestCommand.tool(["verify-bundle", path, "--trust", key + ".pub", "--json"]
                                              + (rederive ? ["--rederive-sbom"] : []))
            let report = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any] ?? [:]
            return (result.status, report)
        }

        func resign(_ root: String) throws {
            let script = folder + "/resign.py"
            try ProvenanceCommandTests.resigner.write(toFile: script, atomically: true, encoding: .utf8)
            try TestCommand.check(["python3", script, root, key + ".key", "same"])
        }
    }

    static func problems(_ report: [String: Any]) -> [(check: String, path: String)] {
        (report["problems"] as? [[String: Any]] ?? []).map { ($0["check"] as? String ?? "", $0["path"] as? String ?? "") }
    }

    static func json(_ path: String) throws -> [String: Any] {
        try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as? [String: Any] ?? [:]
    }

    @Test("the bundle SBOM names every image, model and file with the hash sha256sum gives; referrers found by skopeo")
    func builtAndRead() throws {
        let built = try Built()
        defer { built.remove() }
        let (root, manifest) = try built.extract("read")
        let path = try #require(manifest.sbom)
        #expect(path == "sbom/bundle.cdx.json")
        let validated = try TestCommand.run(["\(TestRun.repositoryRoot)/scripts/validate-cyclonedx", "\(root)/\(path)"])
        #expect(validated.status == 0, "\(validated.stderr)")
        let bom = try Self.json("\(root)/\(path)")
        let components = bom["components"] as? [[String: Any]] ?? []
        func hash(_ component: [String: Any]) -> String? {
            (component["hashes"] as? [[String: String]])?.first { $0["alg"] == "SHA-256" }?["content"]
        }
        let images = components.filter { $0["type"] as? String == "container" }
        #expect(images.compactMap(hash) == manifest.images.compactMap { $0.manifestDigest?.dropFirst(7).description })
        let models = components.filter { $0["type"] as? String == "machine-learning-model" }
        #expect(models.compactMap { $0["name"] as? String } == manifest.models.map(\.name))
        let files = components.filter { $0["type"] as? String == "file" }
        let names = files.compactMap { $0["name"] as? String }
        for expected in ["docker-compose.yml", "bin/frostbyte-bundle", "images/index.json"] + manifest.images.compactMap(\.sbom) {
            #expect(names.contains(expected), "\(expected) is a file component")
        }
        #expect(!names.contains { $0.hasPrefix("images/blobs/") || $0.hasPrefix("provenance/") || $0 == path })
        // Independent hashes: sha256sum of each extracted file.
        let sums = try TestCommand.check(["sha256sum"] + (files + models).compactMap { component -> String? in
            let properties = component["properties"] as? [[String: String]] ?? []
            let file = properties.first { $0["name"] == "frostbyte-bundle:path" }?["value"] ?? component["name"] as? String
            return file.map { "\(root)/\($0)" }
        })
        #expect(sums.split(separator: "\n").map { String($0.prefix(64)) } == (files + models).compactMap(hash))

        // The referrers, found by skopeo through their index.json entries.
        let index = try Self.json(root + "/images/index.json")
        let entries = (index["manifests"] as? [[String: Any]] ?? []).filter {
            $0["artifactType"] as? String == "application/vnd.cyclonedx+json"
        }
        #expect(entries.count == manifest.images.count)
        for image in manifest.images {
            let entry = try #require(entries.first { $0["digest"] as? String == image.sbomReferrer }, "\(image.name)")
            let name = try #require((entry["annotations"] as? [String: String])?["org.opencontainers.image.ref.name"])
            let raw = try TestCommand.check(["skopeo", "inspect", "--raw", "oci:\(root)/images:\(name)"])
            let artifact = try JSONSerialization.jsonObject(with: Data(raw.utf8)) as? [String: Any] ?? [:]
            #expect(artifact["artifactType"] as? String == "application/vnd.cyclonedx+json")
            #expect((artifact["config"] as? [String: Any])?["mediaType"] as? String == "application/vnd.oci.empty.v1+json")
            #expect((artifact["subject"] as? [String: Any])?["digest"] as? String == image.manifestDigest)
            let copied = "\(built.folder)/artifact-\(image.name.split(separator: "/").last!)"
            try TestCommand.check(["skopeo", "copy", "--quiet", "oci:\(root)/images:\(name)", "dir:\(copied)"])
            let layer = try #require(((artifact["layers"] as? [[String: Any]])?.first?["digest"] as? String)?.dropFirst(7))
            #expect(try TestCommand.check(["cmp", "\(copied)/\(layer)", "\(root)/\(image.sbom!)"]).isEmpty,
                    "\(image.name): the referrer's layer is the image's SBOM file")
            // umoci still unpacks the image itself.
            try TestCommand.check(["umoci", "unpack", "--rootless", "--image", "\(root)/images:docker.io/\(image.name)",
                                   "\(built.folder)/unpack-\(image.name.split(separator: "/").last!)"])
        }
        let verified = try built.verify(built.bundle)
        #expect(verified.status == 0 && Self.problems(verified.report).isEmpty, "\(verified.report)")
        let inspected = try TestCommand.tool(["inspect", built.bundle, "--sbom"])
        #expect(inspected.stdout.hasPrefix("bundle: \(manifest.images.count) images, 1 model, "), "\(inspected.stdout)")
    }

    @Test("a changed bundle SBOM is refused by its hash; re-signed, by --rederive-sbom only")
    func changedBundleSBOM() throws {
        let built = try Built()
        defer { built.remove() }
        let (root, manifest) = try built.extract("changed")
        let path = "\(root)/\(manifest.sbom!)"
        let untouched = try built.verify(root)
        let counted = untouched.report["sbom_rederived"] as? [String: Any]
        #expect(untouched.status == 0 && counted?["images_identical"] as? Int == manifest.images.count
                && counted?["bundle_identical"] as? Bool == true, "\(untouched.report)")
        let forged = try String(contentsOfFile: path, encoding: .utf8).replacingOccurrences(of: "\"demo-embed\"", with: "\"demo-embex\"")
        try forged.write(toFile: path, atomically: true, encoding: .utf8)
        // Same length: the size check cannot catch it, only the hash.
        let tampered = try built.verify(root)
        #expect(tampered.status == 1)
        #expect(Self.problems(tampered.report).contains { $0.check == "sha256" && $0.path == manifest.sbom! },
                "\(Self.problems(tampered.report))")

        try built.resign(root)
        let signed = try built.verify(root, rederive: false)
        #expect(signed.status == 0, "negative control: the re-signed bundle passes without --rederive-sbom: \(signed.report)")
        let rederived = try built.verify(root)
        #expect(rederived.status == 1)
        let found = Self.problems(rederived.report)
        #expect(found.count == 1 && found.first?.check == "sbom-rederived" && found.first?.path == manifest.sbom!, "\(found)")
        #expect((rederived.report["sbom_rederived"] as? [String: Any])?["bundle_identical"] as? Bool == false)
        #expect(signed.report["sbom_rederived"] == nil, "absent without --rederive-sbom")
    }

    @Test("a referrer re-pointed at another image's manifest, re-signed, is refused as sbom-referrer")
    func wrongSubject() throws {
        let built = try Built()
        defer { built.remove() }
        let (root, manifest) = try built.extract("subject")
        #expect(manifest.images.count >= 2)
        try ReferrerForgery.run(root, in: built.folder, ["subject", "0", "1"])
        try built.resign(root)
        let refused = try built.verify(root, rederive: false)
        #expect(refused.status == 1)
        let found = Self.problems(refused.report)
        #expect(!found.isEmpty && found.allSatisfy { $0.check == "sbom-referrer" }, "\(found)")
        let message = (refused.report["problems"] as? [[String: Any]])?.first?["message"] as? String ?? ""
        #expect(message.contains("refers to another manifest than the image's"), "\(message)")
    }
}
