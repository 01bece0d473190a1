import FrostbyteCore
import BundleFormat
import FrostbyteCrypto
import Foundation
import Synchronization
import TestSupport
import Testing

/// Builds demo bundles for the install tests the way `build` lays them out (format
/// v1: root folder, MANIFEST.json, signature, SHA256SUMS, small files sorted by path,
/// images last), from the rendered demo compose file and the demo image archives.
/// Variants change what the tests need: the version, a failing gateway healthcheck,
/// an extra migration, a tampered image.
struct DemoBundle {
    /// The demo stack's MANIFEST.json draft as the install fixtures make it (v1 here,
    /// v2 in `V2Bundles`): compose, networks, gateway and migrations of the demo.
    static func manifest(version: String, composeDigest: SHA256Digest, images: [Manifest.Image], migrations: [String],
                         files: [Manifest.File], format: String = Manifest.formatV1, blobs: [Manifest.Blob]? = nil,
                         base: Manifest.Base? = nil) -> Manifest {
        Manifest(
            name: "demo", version: version, bundleId: "", createdAt: "2026-01-01T00:00:00Z",
            builder: .init(name: "install-tests", version: "1"),
            compose: .init(file: "docker-compose.yml", sha256: composeDigest, project: "frostbyte-demo",
                           networks: [.init(name: "demo-internal", subnet: "172.29.0.0/16", internal: true),
                                      .init(name: "ingress", subnet: "172.31.255.0/29", internal: false)]),
            gateway: .init(service: "gateway", ipv4Address: "172.29.0.10", port: 8080, healthPath: "/health"),
            images: images, models: [], scripts: [],
            migrations: .init(service: "postgres", database: "frostbyte", user: "frostbyte",
                              files: migrations.map { "migrations/\($0)" }),
            files: files, format: format, blobs: blobs, base: base)
    }

    var version = "1.0.0"
    var failingGatewayHealth = false
    var extraMigrations: [(name: String, sql: String)] = []
    /// Flip one byte of images/gateway.tar after the manifest was computed.
    var tamperImage = false
    var signingKey: SigningKey?
    /// Images to carry (archive base names under out/images).
    var images = ["gateway", "postgres", "redis", "worker"]
    /// Repository the images are tagged with; anything but frostbyte-demo re-tags the
    /// archives (same image IDs), so tests load their own names and never touch the
    /// shared demo tags.
    var repository = "frostbyte-demo"
    /// The worker without its named volume: on a swarm it is then not pinned, and
    /// Swarm may run (and move) its tasks on any prepared node.
    var statelessWorker = false
    /// The manifest's export steps (none by default).
    var exports: [Manifest.ExportStep] = []

    var root: String { "demo-\(version)" }

    /// Writes `<folder>/demo-<version>.tar.zst` and returns its path.
    func write(in folder: String) throws -> String {
        let top = "\(folder)/build-\(version)-\(UUID().uuidString.prefix(8))"
        let base = "\(top)/\(root)"
        defer { try? FileManager.default.removeItem(atPath: top) }
        let fileManager = FileManager.default
        try fileManager.createDirectory(atPath: "\(base)/migrations", withIntermediateDirectories: true)
        try fileManager.createDirectory(atPath: "\(base)/images", withIntermediateDirectories: true)

        var compose = try TestCommand.check([FrostbyteBinary.path, "render", "\(TestRun.repositoryRoot)/manifests/demo.yaml"])
        compose = compose.replacingOccurrences(of: "io.frostbyte.bundle: demo-1.0.0", with: "io.frostbyte.bundle: demo-\(version)")
        compose = compose.replacingOccurrences(of: "image: frostbyte-demo/", with: "image: \(repository)/")
        if failingGatewayHealth {
            compose = compose.replacingOccurrences(of: "http://127.0.0.1:8080/health", with: "http://127.0.0.1:8080/no-such-page")
        }
        if statelessWorker {
            let volume = "    volumes:\n    - workerdata:/var/lib/worker\n"
            guard compose.contains(volume) else { throw TestFailure("the rendered demo no longer mounts workerdata as \(volume)") }
            compose = compose.replacingOccurrences(of: volume, with: "")
        }
        try Data((compose + "\n").utf8).write(to: URL(fileURLWithPath: "\(base)/docker-compose.yml"))
        try fileManager.copyItem(atPath: "\(TestRun.repositoryRoot)/bundle-template/.env.example", toPath: "\(base)/.env.example")
        let migrationSource = "\(TestRun.repositoryRoot)/migrations/demo"
        var migrations = try fileManager.contentsOfDirectory(atPath: migrationSource).filter { $0.hasSuffix(".sql") }.sorted()
        for name in migrations {
            try fileManager.copyItem(atPath: "\(migrationSource)/\(name)", toPath: "\(base)/migrations/\(name)")
        }
        for extra in extraMigrations {
            try Data(extra.sql.utf8).write(to: URL(fileURLWithPath: "\(base)/migrations/\(extra.name)"))
            migrations.append(extra.name)
        }
        var imageEntries: [Manifest.Image] = []
        for name in images {
            let source = "\(Docker.demoImagesFolder)/\(name).tar"
            let target = "\(base)/images/\(name).tar"
            if repository == "frostbyte-demo" {
                if link(source, target) != 0 { try fileManager.copyItem(atPath: source, toPath: target) }
            } else {
                try Self.retag(source, to: "\(repository)/\(name):1.0", writing: target, scratch: top)
            }
            let hashed = try SHA256Hasher.hash(fileAt: target)
            imageEntries.append(.init(name: "\(repository)/\(name):1.0", file: "images/\(name).tar", sha256: hashed.digest,
                                      digest: try Self.imageID(ofArchive: target), size: hashed.size))
        }

        // Entry order of format v1: small files sorted by path, then images/.
        var small = [".env.example", "docker-compose.yml", "migrations"] + migrations.map { "migrations/\($0)" }
        small.sort { $0.utf8.lexicographicallyPrecedes($1.utf8) }
        let payload = small + ["images"] + images.map { "images/\($0).tar" }
        var files: [Manifest.File] = []
        for path in payload {
            let full = "\(base)/\(path)"
            var isFolder: ObjCBool = false
            _ = fileManager.fileExists(atPath: full, isDirectory: &isFolder)
            if isFolder.boolValue {
                chmod(full, 0o755)
                files.append(.init(path: path, sha256: nil, size: 0, mode: "0755"))
            } else {
                chmod(full, 0o644)
                let hashed = try SHA256Hasher.hash(fileAt: full)
                files.append(.init(path: path, sha256: hashed.digest, size: hashed.size, mode: "0644"))
            }
        }
        let composeDigest = files.first { $0.path == "docker-compose.yml" }!.sha256!
        var manifest = Self.manifest(version: version, composeDigest: composeDigest, images: imageEntries,
                                     migrations: migrations, files: files)
        if !exports.isEmpty { manifest.exports = exports }
        let sums = SHA256Sums.render(files)
        manifest.bundleId = SHA256Sums.bundleId(name: "demo", version: version, sums: sums)
        let manifestData = try DeterministicJSON.encode(manifest)
        try manifestData.write(to: URL(fileURLWithPath: "\(base)/MANIFEST.json"))
        try sums.write(to: URL(fileURLWithPath: "\(base)/SHA256SUMS"))
        var head = ["MANIFEST.json"]
        if let signingKey {
            try signingKey.sign(manifestData).write(to: URL(fileURLWithPath: "\(base)/MANIFEST.json.sig"))
            head.append("MANIFEST.json.sig")
        }
        head.append("SHA256SUMS")
        for name in head { chmod("\(base)/\(name)", 0o644) }
        chmod(base, 0o755)

        if tamperImage {
            // Replace the hard link by a modified copy so out/images stays intact.
            let target = "\(base)/images/gateway.tar"
            var data = try Data(contentsOf: URL(fileURLWithPath: target))
            data[data.count / 2] ^= 0x01
            unlink(target)
            try data.write(to: URL(fileURLWithPath: target))
            chmod(target, 0o644)
        }

        let output = "\(folder)/\(root)\(tamperImage ? "-tampered" : "")\(failingGatewayHealth ? "-failing" : "").tar.zst"
        let entries = ["\(root)/"] + (head + payload).map { "\(root)/\($0)" }
        try TestCommand.check(["tar", "--zstd", "-cf", output, "-C", top, "--no-recursion", "--format=pax",
                              "--owner=0", "--group=0", "--numeric-owner", "--mtime=@1767225600",
                              "--pax-option=delete=atime,delete=ctime"] + entries)
        return output
    }

    /// Copies a legacy `docker save` archive with its RepoTags replaced by `tag`; the
    /// config (and so the image ID) is unchanged.
    static func retag(_ source: String, to tag: String, writing target: String, scratch: String) throws {
        let folder = "\(scratch)/retag-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let names = try TestCommand.check(["tar", "-tf", source]).split(separator: "\n").map(String.init)
        try TestCommand.check(["tar", "-xf", source, "-C", folder])
        let manifestURL = URL(fileURLWithPath: "\(folder)/manifest.json")
        guard var array = try JSONSerialization.jsonObject(with: Data(contentsOf: manifestURL)) as? [[String: Any]],
              !array.isEmpty else { throw TestFailure("\(source): no manifest.json") }
        array[0]["RepoTags"] = [tag]
        try JSONSerialization.data(withJSONObject: array, options: [.sortedKeys]).write(to: manifestURL)
        try? FileManager.default.removeItem(atPath: "\(folder)/repositories")
        try TestCommand.check(["tar", "-cf", target, "-C", folder, "--no-recursion", "--owner=0", "--group=0",
                              "--numeric-owner", "--mtime=@1767225600"] + names.filter { $0 != "repositories" })
    }

    /// The image ID (`sha256:` + config digest) recorded in a `docker save` archive.
    static func imageID(ofArchive path: String) throws -> String {
        let manifestText = try TestCommand.check(["tar", "-xOf", path, "manifest.json"])
        guard let array = try JSONSerialization.jsonObject(with: Data(manifestText.utf8)) as? [[String: Any]],
              let config = array.first?["Config"] as? String else {
            throw TestFailure("\(path) has no readable manifest.json")
        }
        let hex = (config as NSString).lastPathComponent.replacingOccurrences(of: ".json", with: "")
        return "sha256:\(hex)"
    }
}

@Suite("Install fixtures", .serialized)
struct InstallFixturesTests {
    /// The fixture builder itself must produce a bundle the real verifier accepts, and
    /// a tampered one it refuses (negative control), or every install test is moot.
    @Test(.enabled(if: Docker.demoImagesPresent, "needs scripts/make-demo-images"))
    func demoBundleVerifies() throws {
        let folder = try TestRun.scratchFolder("fbinst-fixture")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let good = try DemoBundle(images: ["gateway"]).write(in: folder)
        let goodReport = try BundleVerifier.verify(path: good)
        #expect(goodReport.verified, "\(goodReport.problems)")
        let bad = try DemoBundle(tamperImage: true, images: ["gateway"]).write(in: folder)
        let badReport = try BundleVerifier.verify(path: bad)
        #expect(!badReport.verified)
        #expect(badReport.problems.contains { $0.path == "images/gateway.tar" })
    }
}

extension InstallFixturesTests {
    /// Writes demo bundles into $FB_WRITE_DEMO_BUNDLES for manual runs (skipped otherwise).
    @Test(.enabled(if: ProcessInfo.processInfo.environment["FB_WRITE_DEMO_BUNDLES"] != nil))
    func writeDemoBundlesForManualUse() throws {
        let folder = ProcessInfo.processInfo.environment["FB_WRITE_DEMO_BUNDLES"]!
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        _ = try DemoBundle().write(in: folder)
        _ = try DemoBundle(version: "2.0.0", extraMigrations: [("004_notes.sql", "CREATE TABLE notes (id serial PRIMARY KEY, body text NOT NULL);\n")]).write(in: folder)
        _ = try DemoBundle(version: "3.0.0", failingGatewayHealth: true).write(in: folder)
    }
}

/// Per-run names, bundle cache and cleanup for the install integration tests (stale
/// runs are swept by TestSupport's `StaleRuns`).
/// Projects are `fbtest-i<run>-<tag>`, images `fbtest-i<run>-demo/*`, subnets 10.214.x.0/24.
enum InstallHarness {
    static let projectPrefix = StaleRuns.installPrefix
    static func project(_ tag: String) -> String {
        TestRun.touchHeartbeat()
        return "\(projectPrefix)\(TestRun.id)-\(tag)"
    }
    static var repository: String { "\(projectPrefix)\(TestRun.id)-demo" }

    private static let cache = Mutex<[String: String]>([:])
    /// A bundles folder kept for the whole run (removed by the sweep of a later run).
    static let bundleFolder = NSTemporaryDirectory() + "fbinst-bundles-\(TestRun.id)"

    /// The bundle of `variant`, built once per run; images are tagged with the run's
    /// repository unless `make` chose another non-default one.
    static func bundle(_ variant: String, _ make: () -> DemoBundle) throws -> String {
        if let path = cache.withLock({ $0[variant] }), FileManager.default.fileExists(atPath: path) { return path }
        try FileManager.default.createDirectory(atPath: "\(bundleFolder)/\(variant)", withIntermediateDirectories: true)
        var spec = make()
        if spec.repository == "frostbyte-demo" { spec.repository = repository }
        let path = try spec.write(in: "\(bundleFolder)/\(variant)")
        cache.withLock { $0[variant] = path }
        return path
    }

    /// The demo v1 bundle. Suites that install run in parallel unless `--no-parallel`;
    /// each passes its own `suite` so its images carry their own tags and one suite's
    /// uninstall never removes another's images.
    static func v1(suite: String = "demo") throws -> String {
        try bundle("v1-\(suite)") {
            var spec = DemoBundle()
            spec.repository = "\(projectPrefix)\(TestRun.id)-\(suite)"
            return spec
        }
    }
    static func v2() throws -> String {
        try bundle("v2") {
            DemoBundle(version: "2.0.0", extraMigrations: [("004_notes.sql", "CREATE TABLE notes (id serial PRIMARY KEY, body text NOT NULL);\n")])
        }
    }
    static func v3Failing() throws -> String { try bundle("v3") { DemoBundle(version: "3.0.0", failingGatewayHealth: true) } }

    /// Removes everything a project owns (containers, networks, volumes) and the prefix.
    static func cleanup(project: String, prefix: String?) {
        if let prefix { _ = try? TestCommand.tool(["uninstall", "--prefix", prefix, "--purge-data"]) }
        StaleRuns.removeComposeObjects { $0 == project }
        if let prefix {
            _ = try? TestCommand.run(["umount", prefix])
            try? FileManager.default.removeItem(atPath: prefix)
        }
    }

    /// Sorted `docker images` listing (ID and tags), for "unchanged" checks.
    static func imageListing() throws -> [String] {
        try TestCommand.check(["docker", "images", "-a", "--no-trunc", "--format", "{{.ID}} {{.Repository}}:{{.Tag}}"])
            .split(separator: "\n").map(String.init).sorted()
    }

    /// A fresh prefix path (not created).
    static func prefix(_ tag: String) -> String {
        TestRun.touchHeartbeat()
        return NSTemporaryDirectory() + "fbinst-prefix-\(TestRun.id)-\(tag)-\(UInt16.random(in: 0...UInt16.max))"
    }

    /// The parsed `--json` document of a tool run.
    static func json(_ output: CommandOutput) -> [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(output.stdout.utf8))) as? [String: Any] ?? [:]
    }

    /// psql in the project's postgres container; trimmed tuples-only output.
    static func psql(_ project: String, _ sql: String) throws -> String {
        try TestCommand.check(["docker", "compose", "-p", project, "exec", "-T", "postgres",
                              "psql", "-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1", "-U", "frostbyte", "-d", "frostbyte", "-c", sql])
    }

    /// Files below a folder (relative), for "nothing changed" checks; empty when absent.
    static func listing(_ folder: String) -> [String] {
        (FileManager.default.subpaths(atPath: folder) ?? []).sorted()
    }
}
