import BundleFormat
import Foundation
import FrostbyteCrypto
import TestSupport
import Testing

/// `prepare` through the real binary against whichever engine DOCKER_HOST names: a
/// swarm node under `scripts/swarm run fbsw2 -- swift test --filter PrepareTests`
/// (docs/SWARM.md), the host's engine otherwise. A signed bundle is prepared only under
/// its key, every image then resolves to the manifest's identity and the node's record
/// says so; a bundle whose image fails verification, or a node holding another image
/// under a bundle's name, loads nothing (each with its control).
@Suite("prepare: a node's images from the bundle, verified (real dockerd)", .serialized,
       .enabled(if: Docker.demoImagesPresent, "needs scripts/make-demo-images"), .requiresDocker)
struct PrepareTests {
    /// The run's own image names for this suite: `fbtest-i<run>-prepare/<name>:1.0`.
    private static let repository = "\(InstallHarness.projectPrefix)\(TestRun.id)-prepare"
    private static let images = ["gateway", "redis"]

    private func engineID(_ reference: String) -> String? {
        try? TestCommand.check(["docker", "image", "inspect", "--format", "{{.Id}}", reference])
    }

    private func removeImages() {
        let names = Self.images.map { "\(Self.repository)/\($0):1.0" }
        _ = try? TestCommand.run(["docker", "rmi"] + names)
    }

    @Test func preparesOnlyVerifiedImagesWithTheirIdentity() throws {
        let folder = try TestRun.scratchFolder("fbinst-prepare")
        let prefix = InstallHarness.prefix("prepare")
        defer {
            removeImages()
            try? FileManager.default.removeItem(atPath: folder)
            try? FileManager.default.removeItem(atPath: prefix)
        }
        removeImages()
        let key = try SigningKey.generate(), other = try SigningKey.generate()
        try key.publicPEM().write(to: URL(fileURLWithPath: "\(folder)/release.pub"))
        try other.publicPEM().write(to: URL(fileURLWithPath: "\(folder)/other.pub"))
        var spec = DemoBundle(signingKey: key, images: Self.images)
        spec.repository = Self.repository
        let bundle = try spec.write(in: "\(folder)")
        let before = try InstallHarness.imageListing()

        // Signed by another key: exit 1, nothing loaded, nothing kept.
        let wrongKey = try TestCommand.tool(["prepare", bundle, "--trust", "\(folder)/other.pub", "--prefix", prefix, "--json"])
        #expect(wrongKey.status == 1, "\(wrongKey.stderr)")
        #expect(try InstallHarness.imageListing() == before)
        #expect(InstallHarness.listing("\(prefix)/releases").isEmpty)

        // An image that fails verification: exit 1, and no image of the bundle stays
        // (those loaded early are removed again).
        var tampered = spec
        tampered.tamperImage = true
        let tamperedFolder = "\(folder)/tampered"
        try FileManager.default.createDirectory(atPath: tamperedFolder, withIntermediateDirectories: true)
        let bad = try TestCommand.tool(["prepare", try tampered.write(in: tamperedFolder), "--trust", "\(folder)/release.pub",
                                       "--prefix", prefix, "--json"])
        #expect(bad.status == 1, "\(bad.stderr)")
        #expect(try InstallHarness.imageListing() == before)
        #expect(PrepareTests.receipts(prefix).isEmpty)

        // Under its key: exit 0, every image loaded, each name resolving to the ID the
        // result and the node's record give.
        let prepared = try TestCommand.tool(["prepare", bundle, "--trust", "\(folder)/release.pub", "--prefix", prefix, "--json"])
        #expect(prepared.status == 0, "\(prepared.stderr)")
        let result = InstallHarness.json(prepared)
        let ids = try #require(result["images"] as? [String: String], "\(prepared.stdout)")
        let names = Self.images.map { "\(Self.repository)/\($0):1.0" }
        #expect(Set(ids.keys) == Set(names))
        #expect(Set(result["images_loaded"] as? [String] ?? []) == Set(names))
        for name in names { #expect(engineID(name) == ids[name], "\(name)") }
        let bundleId = try #require(result["bundle_id"] as? String)
        let receiptPath = "\(prefix)/state/prepared/\(bundleId).json"
        #expect(result["receipt"] as? String == receiptPath)
        let receipt = try #require(
            try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: receiptPath))) as? [String: Any])
        #expect(receipt["images"] as? [String: String] == ids)
        #expect(receipt["bundle_id"] as? String == bundleId)
        #expect(FileManager.default.fileExists(atPath: "\(prefix)/releases/\(bundleId)/MANIFEST.json"))
        #expect(!FileManager.default.fileExists(atPath: "\(prefix)/releases/\(bundleId)/images"))

        // Again: verified again, nothing to load.
        let again = try TestCommand.tool(["prepare", bundle, "--trust", "\(folder)/release.pub", "--prefix", prefix, "--json"])
        #expect(again.status == 0, "\(again.stderr)")
        #expect((InstallHarness.json(again)["images_loaded"] as? [String]) == [])

        // Another image under the gateway's name: refused (2) naming it, nothing
        // loaded, the impostor left as it was; also under the prefix that loaded the
        // name before, since the engine's image is not the one it loaded.
        let gateway = names[0], redis = names[1]
        try TestCommand.check(["docker", "tag", redis, gateway])
        let impostor = try #require(engineID(gateway))
        let otherPrefix = InstallHarness.prefix("prepare-other")
        defer { try? FileManager.default.removeItem(atPath: otherPrefix) }
        for target in [otherPrefix, prefix] {
            let refused = try TestCommand.tool(["prepare", bundle, "--trust", "\(folder)/release.pub", "--prefix", target])
            #expect(refused.status == 2, "\(refused.stderr)")
            #expect(refused.stderr.contains("another image under \(gateway)"), "\(refused.stderr)")
            #expect(engineID(gateway) == impostor)
        }
        #expect(PrepareTests.receipts(otherPrefix).isEmpty)

        // Control: with the impostor's tag gone, the same bundle prepares there.
        try TestCommand.check(["docker", "rmi", gateway])
        let control = try TestCommand.tool(["prepare", bundle, "--trust", "\(folder)/release.pub", "--prefix", otherPrefix, "--json"])
        #expect(control.status == 0, "\(control.stderr)")
        #expect(engineID(gateway) == ids[gateway])
    }

    /// A delta (format v2 with `base`) prepares over its base prepared under the same
    /// prefix, loading only the image it changes; under a prefix without the base it is
    /// refused (2) before anything is loaded.
    @Test func deltaPreparesOverItsPreparedBase() throws {
        let repository = "\(Self.repository)-delta"
        let base = try V2Bundles.write("prepare-delta-base") { V2DemoBundle(repository: repository) }
        let delta = try V2Bundles.write("prepare-delta-next") {
            V2DemoBundle(version: "1.1.0", repository: repository, extraLayers: ["gateway": "prepare \(TestRun.id)"],
                         base: base.manifestData)
        }
        let prefix = InstallHarness.prefix("prepare-delta"), bare = InstallHarness.prefix("prepare-bare")
        let names = ["gateway:1.0", "gateway:1.1", "postgres:1.0", "redis:1.0", "worker:1.0"].map { "\(repository)/\($0)" }
        defer {
            _ = try? TestCommand.run(["docker", "rmi"] + names)
            for folder in [prefix, bare] { try? FileManager.default.removeItem(atPath: folder) }
        }
        let before = try InstallHarness.imageListing()
        let refused = try TestCommand.tool(["prepare", delta.path, "--allow-unsigned", "--prefix", bare])
        #expect(refused.status == 2, "\(refused.stderr)")
        #expect(refused.stderr.contains("delta"), "\(refused.stderr)")
        #expect(try InstallHarness.imageListing() == before)

        let prepared = try TestCommand.tool(["prepare", base.path, "--allow-unsigned", "--prefix", prefix, "--json"])
        #expect(prepared.status == 0, "\(prepared.stderr)")
        let next = try TestCommand.tool(["prepare", delta.path, "--allow-unsigned", "--prefix", prefix, "--json"])
        #expect(next.status == 0, "\(next.stderr)")
        #expect(InstallHarness.json(next)["images_loaded"] as? [String] == ["\(repository)/gateway:1.1"])
        let ids = InstallHarness.json(next)["images"] as? [String: String] ?? [:]
        #expect(ids.count == 4)
        for (name, id) in ids { #expect(engineID(name) == id, "\(name)") }
    }

    /// The records under `prefix/state/prepared`.
    static func receipts(_ prefix: String) -> [String] {
        InstallHarness.listing("\(prefix)/state/prepared")
    }
}
