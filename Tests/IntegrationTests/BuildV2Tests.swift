import BundleFormat
import FrostbyteCrypto
import Foundation
import TestSupport
import Testing

/// Format v2 from `build`: shared layers stored once, delta bundles against a base.
/// The images come from docker-archives written here (two images sharing a base
/// layer), so no docker is needed.
@Suite("build: format v2 stores each blob once; --base writes a delta")
struct BuildV2Tests {
    /// A fixture with two images, `fbtest-v2/gateway:1` and `fbtest-v2/worker:<workerTag>`,
    /// whose archives share one base layer.
    static func twoImageFixture(version: String = "1.2.3", workerApp: String = "worker 1",
                                repository: String = "fbtest-v2") throws -> BuildFixture {
        let fixture = try BuildFixture(image: "\(repository)/gateway:1", archive: "gateway.tar")
        let base = try fixture.layer("base", files: ["lib/libbase.so": String(repeating: "shared runtime bytes\n", count: 40_000)])
        let gatewayApp = try fixture.layer("gateway-app", files: ["srv/gateway": "gateway 1\n"])
        let workerLayer = try fixture.layer("worker-app", files: ["srv/worker": workerApp + "\n"])
        try fixture.writeLayeredArchive("gateway.tar", reference: "\(repository)/gateway:1", layers: [base, gatewayApp])
        try fixture.writeLayeredArchive("worker.tar", reference: "\(repository)/worker:1", layers: [base, workerLayer])
        var spec = try String(contentsOfFile: fixture.spec, encoding: .utf8)
        spec = spec.replacingOccurrences(of: "version: 1.2.3", with: "version: \(version)")
        spec = spec.replacingOccurrences(of: "    archive: gateway.tar", with: "    archive: gateway.tar\n  - ref: \(repository)/worker:1\n    archive: worker.tar")
        try fixture.write("spec.yaml", spec)
        var compose = try String(contentsOfFile: fixture.folder + "/compose.yaml", encoding: .utf8)
        compose = compose.replacingOccurrences(of: "  worker:\n    image: \(repository)/gateway:1",
                                               with: "  worker:\n    image: \(repository)/worker:1")
        try fixture.write("compose.yaml", compose)
        return fixture
    }

    static func build(_ fixture: BuildFixture, _ extra: [String] = [], name: String = "fbtest-1.2.3.tar.zst") throws
        -> (result: CommandOutput, bundle: String)
    {
        let bundle = fixture.out + "/" + name
        let result = try BuildFixture.tool(["build", fixture.spec, "-o", bundle, "--json"] + extra,
                                           environment: ["PATH": "/nonexistent", "DOCKER": ""])
        return (result, bundle)
    }

    @Test("a layer two images share is stored once; the layout passes sha256sum and names blobs by their SHA-256")
    func sharedLayerOnce() throws {
        let fixture = try Self.twoImageFixture()
        defer { fixture.remove() }
        let (result, bundle) = try Self.build(fixture)
        #expect(result.status == 0, "\(result.stderr)")
        let summary = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        #expect(summary["format"] as? String == "frostbyte-bundle/2")
        // 2 manifests + 2 configs + 3 distinct layers; the SBOM referrers: the empty
        // config once, and per image its SBOM and its artifact manifest.
        #expect(summary["blobs"] as? Int == 7 + 1 + 2 * 2)
        let manifest = try BundleHead.manifest(at: bundle).manifest
        let layers = manifest.images.map { $0.layers ?? [] }
        #expect(layers.count == 2 && layers[0][0] == layers[1][0], "both images start with the same base layer")
        let baseSize = try #require(manifest.blobs?.first { $0.digest == layers[0][0] }?.size)
        #expect(summary["shared_blob_bytes_saved"] as? Int64 == baseSize
                    || summary["shared_blob_bytes_saved"] as? Int == Int(baseSize))
        let listing = try TestCommand.check(["sh", "-c", "zstd -dc '\(bundle)' | tar -tf - | grep -c '/images/blobs/sha256/.'"])
        #expect(listing == "12", "each blob is in the archive once")

        let extract = fixture.folder + "/x"
        try FileManager.default.createDirectory(atPath: extract, withIntermediateDirectories: true)
        try TestCommand.check(["tar", "--zstd", "-xf", bundle, "-C", extract])
        let root = extract + "/fbtest-1.2.3"
        #expect(try TestCommand.run(["sh", "-c", "cd '\(root)' && sha256sum --strict -c SHA256SUMS"]).status == 0)
        let layout = try #require(OCILayout.parseIndex(Data(contentsOf: URL(fileURLWithPath: root + "/images/index.json"))))
        // The images first; then their SBOM referrers (artifacts, FORMAT.md "SBOM referrers").
        let index = OCILayout.Index(manifests: layout.manifests.filter { $0.artifactType == nil })
        #expect(layout.manifests.filter { $0.artifactType != nil }.map(\.digest) == manifest.images.map(\.sbomReferrer))
        #expect(index.manifests.map(\.digest) == manifest.images.map(\.manifestDigest))
        #expect(index.manifests.map { $0.annotations?[OCILayout.nameAnnotation] }
                    == ["docker.io/fbtest-v2/gateway:1", "docker.io/fbtest-v2/worker:1"])
        #expect(index.manifests.map { $0.annotations?[OCILayout.refAnnotation] }
                    == ["docker.io/fbtest-v2/gateway:1", "docker.io/fbtest-v2/worker:1"])

        // Same inputs, same bytes.
        let again = try Self.build(fixture, name: "again.tar.zst")
        #expect(again.result.status == 0)
        #expect(FileManager.default.contentsEqual(atPath: bundle, andPath: again.bundle))
        // v1 of the same inputs stores each archive whole: bigger.
        let v1 = try Self.build(fixture, ["--format", "v1"], name: "v1.tar")
        #expect(v1.result.status == 0, "\(v1.result.stderr)")
        #expect(try BundleHead.manifest(at: v1.bundle).manifest.format == Manifest.formatV1)
    }

    @Test("--base leaves out what the base has, names it under the signature, and refuses a wrong base")
    func delta() throws {
        let baseFixture = try Self.twoImageFixture()
        defer { baseFixture.remove() }
        let base = try Self.build(baseFixture)
        #expect(base.result.status == 0, "\(base.result.stderr)")
        let next = try Self.twoImageFixture(version: "1.2.4", workerApp: "worker 2")
        defer { next.remove() }
        let full = try Self.build(next, name: "full.tar.zst")
        let delta = try Self.build(next, ["--base", base.bundle], name: "delta.tar.zst")
        #expect(full.result.status == 0 && delta.result.status == 0, "\(delta.result.stderr)")

        let baseHead = try BundleHead.manifest(at: base.bundle)
        let fullManifest = try BundleHead.manifest(at: full.bundle).manifest
        let deltaManifest = try BundleHead.manifest(at: delta.bundle).manifest
        #expect(deltaManifest.base == Manifest.Base(bundleId: baseHead.manifest.bundleId, name: "fbtest", version: "1.2.3",
                                                    manifestSha256: SHA256Hasher.hash(baseHead.bytes)))
        #expect(deltaManifest.bundleId == fullManifest.bundleId, "a delta describes the same release as the full bundle")
        let carried = Set(deltaManifest.files.filter { $0.isCarried && !$0.isDirectory }.map(\.path))
        let left = deltaManifest.files.filter { !$0.isCarried }.map(\.path)
        // The model, the binary, the base layer and the unchanged gateway image are left out;
        // the worker's new app layer, config and manifest travel.
        #expect(left.contains("models/embed.bin") && left.contains("bin/frostbyte-bundle"))
        let worker = try #require(deltaManifest.images.last)
        #expect(!carried.contains(OCILayout.blobPath(worker.layers![0])), "the shared base layer is the base's")
        #expect(carried.contains(OCILayout.blobPath(worker.layers![1])))
        #expect(carried.contains(OCILayout.blobPath(worker.manifestDigest!)))
        let listing = try TestCommand.check(["sh", "-c", "zstd -dc '\(delta.bundle)' | tar -tf - | grep -v '/$' | sed 's|^fbtest-1.2.4/||'"])
        #expect(Set(listing.split(separator: "\n").map(String.init))
                    == carried.union(["MANIFEST.json", "SHA256SUMS"]))
        let fullSize = try #require(try FileManager.default.attributesOfItem(atPath: full.bundle)[.size] as? Int)
        let deltaSize = try #require(try FileManager.default.attributesOfItem(atPath: delta.bundle)[.size] as? Int)
        #expect(deltaSize * 10 < fullSize, "delta \(deltaSize) bytes, full \(fullSize)")
        // The base given by its MANIFEST.json gives the same delta.
        try TestCommand.check(["sh", "-c", "zstd -dc '\(base.bundle)' | tar -xOf - fbtest-1.2.3/MANIFEST.json > '\(next.folder)/base-manifest.json'"])
        let byManifest = try Self.build(next, ["--base", next.folder + "/base-manifest.json"], name: "delta2.tar.zst")
        #expect(byManifest.result.status == 0)
        #expect(FileManager.default.contentsEqual(atPath: delta.bundle, andPath: byManifest.bundle))

        // Refusals: exit 2, one sentence, nothing written.
        for (arguments, mention) in [(["--base", next.folder + "/absent.tar.zst"], "absent.tar.zst"),
                                     (["--base", next.spec], "spec.yaml"),
                                     (["--base", full.bundle], "1.2.4"),
                                     (["--base", base.bundle, "--format", "v1"], "--format v1")] {
            let before = next.outputListing()
            let refused = try Self.build(next, arguments, name: "refused.tar.zst")
            #expect(refused.result.status == 2, "\(arguments): \(refused.result.stderr)")
            #expect(refused.result.stderr.contains(mention), "\(refused.result.stderr)")
            #expect(next.outputListing() == before)
        }
    }
}

extension BuildFixture {
    /// A layer tar of `files` (path → text) written with fixed metadata; returns its path.
    func layer(_ name: String, files: [String: String]) throws -> String {
        let work = folder + "/.layer-\(name)"
        for (path, text) in files {
            try FileManager.default.createDirectory(atPath: work + "/" + (path as NSString).deletingLastPathComponent,
                                                    withIntermediateDirectories: true)
            try Data(text.utf8).write(to: URL(fileURLWithPath: work + "/" + path))
        }
        let tar = folder + "/.layer-\(name).tar"
        try TestCommand.check(["tar", "-C", work, "--sort=name", "--mtime=@0", "--owner=0", "--group=0",
                                     "--numeric-owner", "-cf", tar, "."])
        try? FileManager.default.removeItem(atPath: work)
        return tar
    }

    /// A legacy `docker save` archive of `reference` holding `layers` (tar files).
    func writeLayeredArchive(_ relative: String, reference: String, layers: [String]) throws {
        let work = folder + "/.archive-\(relative)"
        defer { try? FileManager.default.removeItem(atPath: work) }
        var diffIDs: [String] = []
        var names: [String] = []
        for (index, layer) in layers.enumerated() {
            let digest = try TestCommand.check(["sh", "-c", "sha256sum '\(layer)' | cut -c1-64"])
            try FileManager.default.createDirectory(atPath: work + "/l\(index)", withIntermediateDirectories: true)
            try FileManager.default.copyItem(atPath: layer, toPath: work + "/l\(index)/layer.tar")
            diffIDs.append("\"sha256:\(digest)\"")
            names.append("\"l\(index)/layer.tar\"")
        }
        let config = #"{"architecture":"amd64","os":"linux","config":{"Labels":{"ref":"\#(reference)"}},"rootfs":{"type":"layers","diff_ids":[\#(diffIDs.joined(separator: ","))]}}"#
        let configPath = work + "/config.json"
        try Data(config.utf8).write(to: URL(fileURLWithPath: configPath))
        let digest = try TestCommand.check(["sh", "-c", "sha256sum '\(configPath)' | cut -c1-64"])
        try FileManager.default.moveItem(atPath: configPath, toPath: work + "/\(digest).json")
        try Data(#"[{"Config":"\#(digest).json","RepoTags":["\#(reference)"],"Layers":[\#(names.joined(separator: ","))]}]"#.utf8)
            .write(to: URL(fileURLWithPath: work + "/manifest.json"))
        try TestCommand.check(["sh", "-c", "cd '\(work)' && tar -cf '\(folder)/\(relative)' *"])
    }
}

/// The two ways v2 packs give the same bytes: images saved by the engine (packed while
/// saved) and the same images as archives on disk (packed at once).
@Suite("build: v2 bytes do not depend on where the images come from")
struct BuildV2SourceTests {
    @Test("the same images from the engine or from docker-archives give a byte-identical bundle",
          .requiresDockerAndTestImage)
    func engineOrArchive() throws {
        let repository = "fbtest-v2src-\(TestRun.id)"
        let fixture = try BuildV2Tests.twoImageFixture(repository: repository)
        defer { fixture.remove() }
        let fromArchives = try BuildV2Tests.build(fixture, name: "archives.tar.zst")
        #expect(fromArchives.result.status == 0, "\(fromArchives.result.stderr)")
        // The same images, loaded into the engine under this run's own names; the spec
        // without `archive:` makes build save them (packed while saved).
        var spec = try String(contentsOfFile: fixture.spec, encoding: .utf8)
        for name in ["gateway", "worker"] {
            try TestCommand.check(["docker", "load", "-q", "-i", fixture.folder + "/\(name).tar"])
            spec = spec.replacingOccurrences(of: "\n    archive: \(name).tar", with: "")
        }
        defer { for name in ["gateway", "worker"] { _ = try? TestCommand.run(["docker", "rmi", "\(repository)/\(name):1"]) } }
        try fixture.write("spec.yaml", spec)
        let fromEngine = try BundleBuilderRun.build(fixture, name: "engine.tar.zst")
        #expect(fromEngine.result.status == 0, "\(fromEngine.result.stderr)")
        #expect(FileManager.default.contentsEqual(atPath: fromArchives.bundle, andPath: fromEngine.bundle),
                "packed at once and packed while saving give the same bytes")
    }
}

/// `build` with docker on PATH (the engine's images).
enum BundleBuilderRun {
    static func build(_ fixture: BuildFixture, name: String) throws -> (result: CommandOutput, bundle: String) {
        let bundle = fixture.out + "/" + name
        return (try BuildFixture.tool(["build", fixture.spec, "-o", bundle, "--json"]), bundle)
    }
}
