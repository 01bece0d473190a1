import BundleFormat
import Foundation
import TestSupport
import Testing

/// Format v2 on a real dockerd: images load from the bundle's blobs, streamed into
/// `docker load` (docker-archive on graphdriver engines, OCI layout on the containerd
/// store), each with the ID its store reports; afterwards the prefix holds no image
/// bytes (v1 and v2); a tampered blob never reaches the engine; a release whose images
/// were removed from the engine installs again.
@Suite("Install format v2 (real dockerd)", .serialized,
       .enabled(if: Docker.demoImagesPresent, "needs scripts/make-demo-images"), .requiresDocker)
struct InstallV2Tests {
    /// The repository this suite's images carry (uninstall removes them again).
    static var repository: String { "\(InstallHarness.repository)-v2" }

    /// The full v2 demo bundle; the gateway has one more layer, so it is an image no
    /// engine has yet whatever it holds of the demo images.
    static func fullBundle() throws -> String {
        try V2Bundles.write("v2-full") {
            V2DemoBundle(repository: repository, extraLayers: ["gateway": "v2 full \(TestRun.id)"])
        }.path
    }

    static func arguments(_ bundle: String, prefix: String, project: String, subnet: String) -> [String] {
        ["install", bundle, "--allow-unsigned", "--prefix", prefix, "--project", project, "--subnet", subnet,
         "--publish", "\(Int.random(in: 17_000...17_999))", "--timeout", "180", "--json"]
    }

    @Test func v2InstallsFromBlobsAndKeepsNoImageBytes() throws {
        let project = InstallHarness.project("v2full"), prefix = InstallHarness.prefix("v2full")
        defer { InstallHarness.cleanup(project: project, prefix: prefix) }
        let bundle = try Self.fullBundle()
        let manifest = try V2Bundles.manifest(of: bundle)

        let install = try TestCommand.tool(Self.arguments(bundle, prefix: prefix, project: project, subnet: "10.214.61.0/24"))
        #expect(install.status == 0, "\(install.stderr)")
        let json = InstallHarness.json(install)
        #expect(json["action"] as? String == "installed")
        let services = json["services"] as? [[String: Any]] ?? []
        #expect(services.count == 4 && services.allSatisfy { $0["health"] as? String == "healthy" }, "\(services)")
        #expect((json["images_loaded"] as? [String] ?? []).contains(manifest.images[0].name))
        try V2Bundles.expectImagesPresent(manifest)

        // The engine is the image store: no images/ under the release, no .tar or blob anywhere.
        let release = "\(prefix)/releases/\(manifest.bundleId)"
        #expect(FileManager.default.fileExists(atPath: "\(release)/MANIFEST.json"))
        #expect(!FileManager.default.fileExists(atPath: "\(release)/images"))
        #expect(InstallHarness.listing(prefix).allSatisfy { !$0.contains("blobs/") && !$0.hasSuffix(".tar") },
                "\(InstallHarness.listing(prefix))")
        print("prefix size after the v2 install: \(try V2Bundles.diskUsage(prefix))")
        // The installed release still verifies, images left to the engine (what the bundle's
        // scripts/verify.sh --files runs there); without --installed the absent image
        // files are problems (the control).
        let files = try TestCommand.tool(["verify-bundle", "\(prefix)/current", "--installed"])
        #expect(files.status == 0, "\(files.stdout)\(files.stderr)")
        #expect((files.stdout + files.stderr).contains("installed release:"), "\(files.stdout)\(files.stderr)")
        let plain = try TestCommand.tool(["verify-bundle", release, "--json"])
        #expect(plain.status == 1)
        let problems = InstallHarness.json(plain)["problems"] as? [[String: Any]] ?? []
        #expect(!problems.isEmpty && problems.allSatisfy {
            $0["check"] as? String == "missing-file" && ($0["path"] as? String ?? "").hasPrefix("images")
        }, "\(problems)")

        let status = try TestCommand.tool(["status", "--prefix", prefix, "--json"])
        #expect(status.status == 0 && InstallHarness.json(status)["healthy"] as? Bool == true, "\(status.stdout)")
        // The same bundle again: unchanged, nothing extracted or loaded.
        let again = try TestCommand.tool(["install", bundle, "--allow-unsigned", "--prefix", prefix, "--json"])
        #expect(again.status == 0, "\(again.stderr)")
        #expect(InstallHarness.json(again)["action"] as? String == "unchanged")
        #expect((InstallHarness.json(again)["images_loaded"] as? [String] ?? ["?"]).isEmpty)

        // Images removed from the engine (stack down first): install finds neither the
        // images nor their bytes under the prefix, extracts only images/ again and loads.
        try TestCommand.check(["docker", "compose", "-p", project, "down"])
        for image in manifest.images { _ = try? TestCommand.run(["docker", "rmi", image.name]) }
        let reloaded = try TestCommand.tool(["install", bundle, "--allow-unsigned", "--prefix", prefix, "--timeout", "180", "--json"])
        #expect(reloaded.status == 0, "\(reloaded.stderr)")
        #expect((InstallHarness.json(reloaded)["images_loaded"] as? [String] ?? []).count == manifest.images.count)
        try V2Bundles.expectImagesPresent(manifest)
        #expect(!FileManager.default.fileExists(atPath: "\(release)/images"))
        #expect(try TestCommand.tool(["status", "--prefix", prefix]).status == 0)
    }

    @Test func v1InstallKeepsNoImageBytes() throws {
        let project = InstallHarness.project("v2v1"), prefix = InstallHarness.prefix("v2v1")
        defer { InstallHarness.cleanup(project: project, prefix: prefix) }
        let bundle = try InstallHarness.v1(suite: "v2v1")
        let install = try TestCommand.tool(Self.arguments(bundle, prefix: prefix, project: project, subnet: "10.214.62.0/24"))
        #expect(install.status == 0, "\(install.stderr)")
        let bundleId = InstallHarness.json(install)["bundle_id"] as? String ?? "?"
        #expect(!FileManager.default.fileExists(atPath: "\(prefix)/releases/\(bundleId)/images"))
        #expect(InstallHarness.listing(prefix).allSatisfy { !$0.hasSuffix(".tar") }, "\(InstallHarness.listing(prefix))")
        print("prefix size after the v1 install: \(try V2Bundles.diskUsage(prefix))")
        #expect(try TestCommand.tool(["status", "--prefix", prefix]).status == 0)
    }

    /// Negative control: one flipped byte in a carried layer blob fails verification
    /// (exit 1) before anything is loaded: no image of the bundle's repository appears,
    /// no release and no staging folder stays.
    @Test func tamperedBlobNeverReachesTheEngine() throws {
        let project = InstallHarness.project("v2tamper"), prefix = InstallHarness.prefix("v2tamper")
        defer { InstallHarness.cleanup(project: project, prefix: prefix) }
        let repository = "\(Self.repository)-tampered"
        let bundle = try V2Bundles.write("v2-tampered") {
            V2DemoBundle(repository: repository, extraLayers: ["gateway": "tampered \(TestRun.id)"], tamperBlob: true)
        }.path
        let imagesBefore = try InstallHarness.imageListing()
        let install = try TestCommand.tool(Self.arguments(bundle, prefix: prefix, project: project, subnet: "10.214.63.0/24"))
        #expect(install.status == 1, "\(install.stderr)")
        #expect(install.stderr.contains("images/blobs/sha256/"), "\(install.stderr)")
        #expect(try InstallHarness.imageListing() == imagesBefore)
        #expect(!(try InstallHarness.imageListing()).contains { $0.contains(repository) })
        #expect(InstallHarness.listing("\(prefix)/releases").isEmpty, "\(InstallHarness.listing("\(prefix)/releases"))")
        #expect(!FileManager.default.fileExists(atPath: "\(prefix)/current"))
    }

    /// An image already under a bundle image's name with the same layers (here the same
    /// image loaded from a `docker save` archive: on the containerd store another
    /// manifest, so install loads the bundle's over it) is the host's: uninstall leaves
    /// the name. Negative control: the images install brought are removed.
    @Test func equivalentImageAlreadyThereOutlivesUninstall() throws {
        let project = InstallHarness.project("v2kept"), prefix = InstallHarness.prefix("v2kept")
        let repository = "\(Self.repository)-kept"
        let scratch = try TestRun.scratchFolder("fbinst-v2kept")
        var before = ""
        defer {
            InstallHarness.cleanup(project: project, prefix: prefix)
            _ = try? TestCommand.run(["docker", "rmi", "\(repository)/redis:1.0"])
            // The image loaded here, left untagged when install loaded over it (containerd store).
            if !before.isEmpty, (try? TestCommand.check(["docker", "image", "inspect", "--format", "{{len .RepoTags}}", before])) == "0" {
                _ = try? TestCommand.run(["docker", "rmi", before])
            }
            try? FileManager.default.removeItem(atPath: scratch)
        }
        try DemoBundle.retag("\(Docker.demoImagesFolder)/redis.tar", to: "\(repository)/redis:1.0",
                             writing: "\(scratch)/redis.tar", scratch: scratch)
        try TestCommand.check(["docker", "load", "-q", "-i", "\(scratch)/redis.tar"])
        before = try TestCommand.check(["docker", "image", "inspect", "--format", "{{.Id}}", "\(repository)/redis:1.0"])
        let bundle = try V2Bundles.write("v2-kept") { V2DemoBundle(repository: repository) }.path
        let install = try TestCommand.tool(Self.arguments(bundle, prefix: prefix, project: project, subnet: "10.214.70.0/24"))
        #expect(install.status == 0, "\(install.stderr)")
        try V2Bundles.expectImagesPresent(try V2Bundles.manifest(of: bundle))
        let uninstall = try TestCommand.tool(["uninstall", "--prefix", prefix, "--purge-data"])
        #expect(uninstall.status == 0, "\(uninstall.stderr)")
        #expect(try TestCommand.run(["docker", "image", "inspect", "\(repository)/redis:1.0"]).status == 0)
        #expect(try TestCommand.run(["docker", "image", "inspect", "\(repository)/gateway:1.0"]).status != 0)
    }

    /// Killed right as it starts loading from the blobs, the install resumes on a
    /// plain re-run and ends with no image bytes under the prefix.
    @Test func killedDuringTheStreamedLoadResumes() throws {
        let project = InstallHarness.project("v2kill"), prefix = InstallHarness.prefix("v2kill")
        let bundle = try V2Bundles.write("v2-kill") {
            V2DemoBundle(version: "1.0.2", repository: "\(Self.repository)-kill", extraLayers: ["gateway": "kill \(TestRun.id)"])
        }.path
        let names = try V2Bundles.manifest(of: bundle).images.map(\.name)
        defer {
            InstallHarness.cleanup(project: project, prefix: prefix)
            // Uninstall removed every image of the bundle, including the one whose load the kill interrupted.
            #expect(names.allSatisfy { (try? TestCommand.run(["docker", "image", "inspect", $0]).status) != 0 }, "\(names)")
            for name in names { _ = try? TestCommand.run(["docker", "rmi", name]) }
        }
        let arguments = Self.arguments(bundle, prefix: prefix, project: project, subnet: "10.214.64.0/24")
        let killed = try InstallCrashTests.killDuring(Array(arguments.dropLast()), trigger: "loading image", delay: 0.05)
        #expect(killed.triggered, "never reached 'loading image': \(killed.stderr)")
        #expect(!FileManager.default.fileExists(atPath: "\(prefix)/current"))
        let rerun = try TestCommand.tool(arguments)
        #expect(rerun.status == 0, "\(rerun.stderr)")
        #expect(InstallHarness.json(rerun)["resumed"] as? Bool == true)
        let manifest = try V2Bundles.manifest(of: bundle)
        try V2Bundles.expectImagesPresent(manifest)
        #expect(!FileManager.default.fileExists(atPath: "\(prefix)/releases/\(manifest.bundleId)/images"))
        #expect(InstallHarness.listing("\(prefix)/releases").allSatisfy { !$0.hasPrefix(".staging-") && !$0.hasPrefix(".trash-") })
    }
}

/// Building and checking v2 bundles for the install tests.
enum V2Bundles {
    /// The bundle of `variant`, written once per run into the harness's bundle folder
    /// (its MANIFEST.json beside it).
    static func write(_ variant: String, _ make: () throws -> V2DemoBundle) throws -> (path: String, manifestData: Data) {
        let folder = "\(InstallHarness.bundleFolder)/\(variant)"
        let marker = "\(folder)/written"
        if let path = try? String(contentsOfFile: marker, encoding: .utf8), FileManager.default.fileExists(atPath: path) {
            return (path, try manifestData(of: path))
        }
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let result = try make().write(in: folder)
        try result.manifestData.write(to: URL(fileURLWithPath: "\(folder)/MANIFEST.json"))
        try result.path.write(toFile: marker, atomically: true, encoding: .utf8)
        return (result.path, result.manifestData)
    }

    /// MANIFEST.json of a bundle `write` made, as written.
    static func manifestData(of bundle: String) throws -> Data {
        try Data(contentsOf: URL(fileURLWithPath: bundle).deletingLastPathComponent().appendingPathComponent("MANIFEST.json"))
    }

    static func manifest(of bundle: String) throws -> Manifest {
        try ManifestCoding.decodeManifest(try manifestData(of: bundle))
    }

    /// True when the engine has the containerd image store.
    static let containerdStore: Bool = {
        ((try? TestCommand.check(["docker", "info", "--format", "{{json .DriverStatus}}"])) ?? "")
            .contains("io.containerd.snapshotter.v1")
    }()

    /// Every image of `manifest` is in the engine under its name with the ID its store
    /// reports (config digest, or manifest digest on the containerd store) and its layers.
    static func expectImagesPresent(_ manifest: Manifest, sourceLocation: SourceLocation = #_sourceLocation) throws {
        for image in manifest.images {
            let inspected = try TestCommand.run(["docker", "image", "inspect", "--format", "{{.Id}} {{json .RootFS.Layers}}", image.name])
            #expect(inspected.status == 0, "\(image.name): \(inspected.stderr)", sourceLocation: sourceLocation)
            let parts = inspected.stdout.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: " ", maxSplits: 1)
            guard parts.count == 2 else { continue }
            let expectedID = containerdStore ? image.manifestDigest : image.digest
            #expect(String(parts[0]) == expectedID, "\(image.name)", sourceLocation: sourceLocation)
            let layers = try JSONDecoder().decode([String].self, from: Data(parts[1].utf8))
            #expect(layers == image.layers, "\(image.name)", sourceLocation: sourceLocation)
        }
    }

    /// `du -sh` of a folder.
    static func diskUsage(_ folder: String) throws -> String {
        try TestCommand.check(["du", "-sh", "--apparent-size", folder]).split(separator: "\t").first.map(String.init) ?? "?"
    }
}
