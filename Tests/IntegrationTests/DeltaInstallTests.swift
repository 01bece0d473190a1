import BundleFormat
import FrostbyteCrypto
import Foundation
import TestSupport
import Testing

/// Delta bundles (format v2 with `base`) on a real dockerd: installed over their base
/// release they load only the blobs they carry, take the rest from the engine and the
/// base folder, and keep the data; anywhere else they are refused before anything
/// changes (exit 2, one sentence naming the base).
@Suite("Install delta bundles (real dockerd)", .serialized,
       .enabled(if: Docker.demoImagesPresent, "needs scripts/make-demo-images"), .requiresDocker)
struct DeltaInstallTests {
    static var repository: String { "\(InstallHarness.repository)-delta" }

    /// demo 1.0.0 (full) and 1.1.0: the gateway gets one more layer (a new image,
    /// tagged 1.1) and a migration is added; the four images are otherwise unchanged.
    static func base() throws -> (path: String, manifestData: Data) {
        try V2Bundles.write("delta-base") { V2DemoBundle(repository: repository) }
    }

    static func next(delta: Bool) throws -> (path: String, manifestData: Data) {
        let base = try base()
        return try V2Bundles.write(delta ? "delta-next" : "delta-next-full") {
            V2DemoBundle(version: "1.1.0", repository: repository, extraLayers: ["gateway": "delta \(TestRun.id)"],
                         extraMigrations: [("004_notes.sql", "CREATE TABLE notes (id serial PRIMARY KEY, body text NOT NULL);\n")],
                         base: delta ? base.manifestData : nil)
        }
    }

    /// The fixture is what the contract says a delta is: the same SHA256SUMS and
    /// bundle_id as the full bundle, far fewer bytes, every left-out entry `in_base`.
    @Test func deltaFixtureMatchesTheFullBundle() throws {
        let delta = try ManifestCoding.decodeManifest(try Self.next(delta: true).manifestData)
        let full = try ManifestCoding.decodeManifest(try Self.next(delta: false).manifestData)
        #expect(delta.bundleId == full.bundleId)
        #expect(delta.files.map(\.path) == full.files.map(\.path))
        #expect(delta.base?.bundleId == (try ManifestCoding.decodeManifest(try Self.base().manifestData)).bundleId)
        let leftOut = delta.files.filter { $0.inBase == true }.map(\.path)
        #expect(leftOut.contains(".env.example") && leftOut.contains("migrations/001_audit_log.sql"))
        #expect(!leftOut.contains("migrations/004_notes.sql") && !leftOut.contains("docker-compose.yml"))
        let size = { (path: String) in (try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0 }
        #expect(try size(Self.next(delta: true).path) * 20 < size(Self.next(delta: false).path))
    }

    @Test func deltaInstallsOverItsBaseAndKeepsTheData() throws {
        let project = InstallHarness.project("delta"), prefix = InstallHarness.prefix("delta")
        defer { InstallHarness.cleanup(project: project, prefix: prefix) }
        let base = try Self.base(), delta = try Self.next(delta: true)
        let baseManifest = try ManifestCoding.decodeManifest(base.manifestData)
        let deltaManifest = try ManifestCoding.decodeManifest(delta.manifestData)
        let port = Int.random(in: 17_000...17_999)
        func install(_ bundle: String) throws -> CommandOutput {
            try TestCommand.tool(["install", bundle, "--allow-unsigned", "--prefix", prefix, "--project", project,
                                 "--subnet", "10.214.65.0/24", "--publish", "\(port)", "--timeout", "180", "--json"])
        }
        let first = try install(base.path)
        #expect(first.status == 0, "\(first.stderr)")
        _ = try InstallHarness.psql(project, "INSERT INTO items (sku, name) VALUES ('base-row', 'written under 1.0.0')")

        // Negative control of the engine check: another image under the base gateway's
        // name (a lookalike) does not count; refused, nothing changed; then put back.
        let gateway = baseManifest.images.first { $0.name.contains("/gateway:") }!
        let gatewayID = try TestCommand.check(["docker", "image", "inspect", "--format", "{{.Id}}", gateway.name])
        let redis = baseManifest.images.first { $0.name.contains("/redis:") }!
        try TestCommand.check(["docker", "tag", redis.name, gateway.name])
        let listing = InstallHarness.listing(prefix)
        let refused = try install(delta.path)
        try TestCommand.check(["docker", "tag", gatewayID, gateway.name])
        #expect(refused.status == 2, "\(refused.stderr)")
        #expect(refused.stderr.contains(baseManifest.bundleId) && refused.stderr.contains("layer"), "\(refused.stderr)")
        #expect(InstallHarness.listing(prefix) == listing)

        let upgrade = try install(delta.path)
        #expect(upgrade.status == 0, "\(upgrade.stderr)")
        let json = InstallHarness.json(upgrade)
        #expect(json["action"] as? String == "upgraded")
        #expect(json["bundle_id"] as? String == deltaManifest.bundleId)
        #expect(json["migrations_applied"] as? [String] == ["004_notes.sql"])
        #expect(json["images_loaded"] as? [String] == [deltaManifest.images.first { $0.name.contains("/gateway:") }!.name])
        #expect(try InstallHarness.psql(project, "SELECT name FROM items WHERE sku = 'base-row'") == "written under 1.0.0")
        try V2Bundles.expectImagesPresent(deltaManifest)
        let services = json["services"] as? [[String: Any]] ?? []
        #expect(services.count == 4 && services.allSatisfy { $0["health"] as? String == "healthy" }, "\(services)")

        // The release folder is whole (the files left to the base copied, with their
        // digests), and neither release keeps image bytes.
        let release = "\(prefix)/releases/\(deltaManifest.bundleId)"
        for file in deltaManifest.files where file.sha256 != nil && !file.path.hasPrefix("images/") {
            let hashed = try SHA256Hasher.hash(fileAt: "\(release)/\(file.path)")
            #expect(hashed.digest == file.sha256 && hashed.size == file.size, "\(file.path)")
        }
        #expect(!FileManager.default.fileExists(atPath: "\(release)/images"))
        #expect(!FileManager.default.fileExists(atPath: "\(prefix)/releases/\(baseManifest.bundleId)/images"))
        print("prefix size after base + delta: \(try V2Bundles.diskUsage(prefix))")

        // Installing the delta again is the quick no-op.
        let again = try install(delta.path)
        #expect(again.status == 0 && InstallHarness.json(again)["action"] as? String == "unchanged", "\(again.stderr)")
        let status = try TestCommand.tool(["status", "--prefix", prefix, "--json"])
        #expect(status.status == 0 && InstallHarness.json(status)["healthy"] as? Bool == true, "\(status.stdout)")
    }

    /// On a prefix without the base, or with a base folder whose MANIFEST.json is not
    /// the one the delta names: exit 2, one sentence naming the base and what to do,
    /// nothing written (no prefix content, no state), the engine untouched.
    @Test func deltaWithoutItsBaseIsRefused() throws {
        let project = InstallHarness.project("deltano"), prefix = InstallHarness.prefix("deltano")
        defer { InstallHarness.cleanup(project: project, prefix: prefix) }
        let delta = try Self.next(delta: true)
        let deltaManifest = try ManifestCoding.decodeManifest(delta.manifestData)
        let base = try #require(deltaManifest.base)
        let arguments = ["install", delta.path, "--allow-unsigned", "--prefix", prefix, "--project", project,
                         "--subnet", "10.214.66.0/24", "--publish", "\(Int.random(in: 17_000...17_999))", "--timeout", "180"]
        let images = try InstallHarness.imageListing()

        let refused = try TestCommand.tool(arguments)
        #expect(refused.status == 2, "\(refused.stderr)")
        let message = refused.stderr.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(message.contains(base.bundleId) && message.contains("demo 1.0.0") && message.contains("full bundle"), "\(message)")
        #expect(message.contains("is not installed under \(prefix)"), "\(message)")
        #expect(!message.contains("\n"), "one sentence: \(message)")
        #expect(!FileManager.default.fileExists(atPath: prefix))
        #expect(try InstallHarness.imageListing() == images)

        // A base folder that is not the base (its MANIFEST.json changed by one byte).
        let folder = "\(prefix)/releases/\(base.bundleId)"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        var changed = try Self.base().manifestData
        changed[changed.count / 2] ^= 0x01
        try changed.write(to: URL(fileURLWithPath: "\(folder)/MANIFEST.json"))
        let listing = InstallHarness.listing(prefix)
        let mismatch = try TestCommand.tool(arguments)
        #expect(mismatch.status == 2, "\(mismatch.stderr)")
        #expect(mismatch.stderr.contains("not the manifest the delta was built on"), "\(mismatch.stderr)")
        #expect(InstallHarness.listing(prefix) == listing)
        #expect(!FileManager.default.fileExists(atPath: "\(prefix)/state"))
        #expect(try InstallHarness.imageListing() == images)
    }
}
