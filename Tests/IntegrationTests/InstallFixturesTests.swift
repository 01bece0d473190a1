import BundleFormat
import FrostbyteCrypto
import Foundation
import Synchronization
import Testing

/// Shared plumbing of the install integration tests: the binary, docker, shell.
enum InstallEnv {
    /// The repository root.
    static let repoRoot = DockerTestSupport.repoRoot

    /// The binary under test: FROSTBYTE_BIN, else the newest debug build found.
    static let binary: String = {
        if let bin = ProcessInfo.processInfo.environment["FROSTBYTE_BIN"] { return bin }
        let candidates = [".build/debug", ".build-install/debug"].map { "\(repoRoot)/\($0)/frostbyte-bundle" }
            .filter { FileManager.default.isExecutableFile(atPath: $0) }
        return candidates.max { DockerTestSupport.modified($0) < DockerTestSupport.modified($1) }
            ?? "\(repoRoot)/.build/debug/frostbyte-bundle"
    }()

    /// A short id unique to this test run (FROSTBYTE_TEST_RUN, else random).
    static let runID: String = {
        let raw = ProcessInfo.processInfo.environment["FROSTBYTE_TEST_RUN"] ?? String(UInt32.random(in: 0...UInt32.max), radix: 16)
        return String(raw.lowercased().filter { $0.isLetter || $0.isNumber }.prefix(8))
    }()

    /// True when `docker info` answers.
    static let dockerAvailable: Bool = (try? run(["docker", "info", "--format", "{{.ServerVersion}}"]).status) == 0

    /// Docker tests run when docker answers, and also under CI=true (where they then fail).
    static let dockerTestsEnabled: Bool = dockerAvailable || ProcessInfo.processInfo.environment["CI"] == "true"

    /// Records a failure when docker is missing (only reachable under CI=true).
    static func requireDocker() throws {
        if !dockerAvailable {
            Issue.record("docker is not available but CI=true: the install integration tests need a running dockerd")
            throw CancellationError()
        }
    }

    /// The demo images' archives from scripts/make-demo-images.
    static let demoImagesFolder = "\(repoRoot)/out/images"
    static let demoImagesPresent: Bool = ["postgres", "redis", "worker", "gateway"].allSatisfy {
        FileManager.default.fileExists(atPath: "\(demoImagesFolder)/\($0).tar")
    }

    typealias Output = DockerTestSupport.Output

    /// Runs a program (no shell) and collects its output; waits for it however long it takes.
    @discardableResult
    static func run(_ arguments: [String], environment: [String: String] = [:], stdin: String? = nil) throws -> Output {
        try DockerTestSupport.run(arguments, environment: environment, stdin: stdin, timeout: nil)
    }

    /// Runs the binary under test.
    @discardableResult
    static func tool(_ arguments: [String]) throws -> Output {
        try run([binary] + arguments)
    }

    /// Runs a command and returns trimmed stdout, failing the test on a non-zero exit;
    /// waits for it however long it takes.
    @discardableResult
    static func check(_ arguments: [String]) throws -> String {
        try DockerTestSupport.check(arguments, timeout: nil)
    }

    /// Sorted `docker images` listing (ID and tags), for "unchanged" checks.
    static func imageListing() throws -> [String] {
        try check(["docker", "images", "-a", "--no-trunc", "--format", "{{.ID}} {{.Repository}}:{{.Tag}}"])
            .split(separator: "\n").map(String.init).sorted()
    }

    /// A scratch folder; remove it in `defer`.
    static func temporaryFolder(_ tag: String) throws -> String {
        var template = Array((NSTemporaryDirectory() + "fbinst-\(tag)-XXXXXX").utf8CString)
        guard let made = mkdtemp(&template) else { throw FixtureFailure("mkdtemp failed") }
        return String(cString: made)
    }
}

/// The install fixtures' failures are the shared test failure.
typealias FixtureFailure = TestFailure

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

    var root: String { "demo-\(version)" }

    /// Writes `<folder>/demo-<version>.tar.zst` and returns its path.
    func write(in folder: String) throws -> String {
        let top = "\(folder)/build-\(version)-\(UUID().uuidString.prefix(8))"
        let base = "\(top)/\(root)"
        defer { try? FileManager.default.removeItem(atPath: top) }
        let fileManager = FileManager.default
        try fileManager.createDirectory(atPath: "\(base)/migrations", withIntermediateDirectories: true)
        try fileManager.createDirectory(atPath: "\(base)/images", withIntermediateDirectories: true)

        var compose = try InstallEnv.check([InstallEnv.binary, "render", "\(InstallEnv.repoRoot)/manifests/demo.yaml"])
        compose = compose.replacingOccurrences(of: "io.frostbyte.bundle: demo-1.0.0", with: "io.frostbyte.bundle: demo-\(version)")
        compose = compose.replacingOccurrences(of: "image: frostbyte-demo/", with: "image: \(repository)/")
        if failingGatewayHealth {
            compose = compose.replacingOccurrences(of: "http://127.0.0.1:8080/health", with: "http://127.0.0.1:8080/no-such-page")
        }
        try Data((compose + "\n").utf8).write(to: URL(fileURLWithPath: "\(base)/docker-compose.yml"))
        try fileManager.copyItem(atPath: "\(InstallEnv.repoRoot)/bundle-template/.env.example", toPath: "\(base)/.env.example")
        let migrationSource = "\(InstallEnv.repoRoot)/migrations/demo"
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
            let source = "\(InstallEnv.demoImagesFolder)/\(name).tar"
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
        let sums = SHA256Sums.render(files)
        manifest.bundleId = SHA256Sums.bundleId(name: "demo", version: version, sums: sums)
        let manifestData = try ManifestCoding.encode(manifest)
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
        try InstallEnv.check(["tar", "--zstd", "-cf", output, "-C", top, "--no-recursion", "--format=pax",
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
        let names = try InstallEnv.check(["tar", "-tf", source]).split(separator: "\n").map(String.init)
        try InstallEnv.check(["tar", "-xf", source, "-C", folder])
        let manifestURL = URL(fileURLWithPath: "\(folder)/manifest.json")
        guard var array = try JSONSerialization.jsonObject(with: Data(contentsOf: manifestURL)) as? [[String: Any]],
              !array.isEmpty else { throw FixtureFailure("\(source): no manifest.json") }
        array[0]["RepoTags"] = [tag]
        try JSONSerialization.data(withJSONObject: array, options: [.sortedKeys]).write(to: manifestURL)
        try? FileManager.default.removeItem(atPath: "\(folder)/repositories")
        try InstallEnv.check(["tar", "-cf", target, "-C", folder, "--no-recursion", "--owner=0", "--group=0",
                              "--numeric-owner", "--mtime=@1767225600"] + names.filter { $0 != "repositories" })
    }

    /// The image ID (`sha256:` + config digest) recorded in a `docker save` archive.
    static func imageID(ofArchive path: String) throws -> String {
        let manifestText = try InstallEnv.check(["tar", "-xOf", path, "manifest.json"])
        guard let array = try JSONSerialization.jsonObject(with: Data(manifestText.utf8)) as? [[String: Any]],
              let config = array.first?["Config"] as? String else {
            throw FixtureFailure("\(path) has no readable manifest.json")
        }
        let hex = (config as NSString).lastPathComponent.replacingOccurrences(of: ".json", with: "")
        return "sha256:\(hex)"
    }
}

@Suite("Install fixtures", .serialized)
struct InstallFixturesTests {
    /// The fixture builder itself must produce a bundle the real verifier accepts, and
    /// a tampered one it refuses (negative control), or every install test is moot.
    @Test(.enabled(if: InstallEnv.demoImagesPresent, "needs scripts/make-demo-images"))
    func demoBundleVerifies() throws {
        let folder = try InstallEnv.temporaryFolder("fixture")
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

/// Per-run names, bundle cache, cleanup and sweeping for the install integration tests.
/// Projects are `fbtest-i<run>-<tag>`, images `fbtest-i<run>-demo/*`, subnets 10.214.x.0/24.
enum InstallHarness {
    static let projectPrefix = "fbtest-i"
    static func project(_ tag: String) -> String {
        touchHeartbeat()
        return "\(projectPrefix)\(InstallEnv.runID)-\(tag)"
    }
    static var repository: String { "\(projectPrefix)\(InstallEnv.runID)-demo" }

    private static let cache = Mutex<[String: String]>([:])
    /// A bundles folder kept for the whole run (removed by the sweep of a later run).
    static let bundleFolder = NSTemporaryDirectory() + "fbinst-bundles-\(InstallEnv.runID)"

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
            spec.repository = "\(projectPrefix)\(InstallEnv.runID)-\(suite)"
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
        if let prefix { _ = try? InstallEnv.tool(["uninstall", "--prefix", prefix, "--purge-data"]) }
        removeDockerObjects { $0 == project }
        if let prefix {
            _ = try? InstallEnv.run(["umount", prefix])
            try? FileManager.default.removeItem(atPath: prefix)
        }
    }

    /// Removes containers, networks and volumes whose compose project matches.
    static func removeDockerObjects(where matches: (String) -> Bool) {
        let key = "com.docker.compose.project"
        let listings: [(list: [String], remove: [String])] = [
            (["docker", "ps", "-a", "--filter", "label=\(key)", "--format", "{{.ID}} {{.Label \"\(key)\"}}"], ["docker", "rm", "-f", "-v"]),
            (["docker", "network", "ls", "--filter", "label=\(key)", "--format", "{{.ID}} {{.Label \"\(key)\"}}"], ["docker", "network", "rm"]),
            (["docker", "volume", "ls", "--filter", "label=\(key)", "--format", "{{.Name}} {{.Label \"\(key)\"}}"], ["docker", "volume", "rm", "-f"]),
        ]
        for listing in listings {
            let lines = ((try? InstallEnv.check(listing.list)) ?? "").split(separator: "\n")
            let ids = lines.compactMap { line -> String? in
                let parts = line.split(separator: " ", maxSplits: 1).map(String.init)
                return parts.count == 2 && matches(parts[1]) ? parts[0] : nil
            }
            if !ids.isEmpty { _ = try? InstallEnv.run(listing.remove + ids) }
        }
    }

    private static let swept = Mutex(false)
    /// `/tmp/fbinst-run-<run>`: touched whenever a run names a project or prefix, so
    /// runs going on at the same time on one machine never sweep each other.
    static func heartbeat(_ run: String) -> String { NSTemporaryDirectory() + "fbinst-run-\(run)" }

    static func touchHeartbeat() {
        let path = heartbeat(InstallEnv.runID)
        if !FileManager.default.createFile(atPath: path, contents: nil) { utimes(path, nil) }
    }

    /// True when run `run` is not this one and has shown no sign of life for
    /// `DockerTestSupport.staleAge` (its heartbeat is old or gone).
    static func isStale(run: String) -> Bool {
        guard run != InstallEnv.runID else { return false }
        return DockerTestSupport.modified(heartbeat(run)) < Date().addingTimeInterval(-DockerTestSupport.staleAge)
    }

    /// The run id in `fbtest-i<run>-...`, `fbinst-bundles-<run>`, ...
    static func run(in name: String, after prefix: String) -> String {
        String(name.dropFirst(prefix.count).prefix { $0 != "-" && $0 != "/" && $0 != ":" })
    }

    /// Once per run: removes what earlier runs of these tests left (projects, images,
    /// bundle folders named fbtest-i*/fbinst-bundles-*): never this run's, and never
    /// those of a run that is still going on (its heartbeat is recent).
    static func sweepStale() {
        let first = swept.withLock { done -> Bool in
            defer { done = true }
            return !done
        }
        guard first else { return }
        touchHeartbeat()
        func stale(_ name: String) -> Bool {
            name.hasPrefix(projectPrefix) && isStale(run: run(in: name, after: projectPrefix))
        }
        removeDockerObjects(where: stale)
        let images = ((try? InstallEnv.check(["docker", "images", "--format", "{{.Repository}}:{{.Tag}}"])) ?? "")
            .split(separator: "\n").map(String.init).filter(stale)
        if !images.isEmpty { _ = try? InstallEnv.run(["docker", "rmi"] + images) }
        let temporary = NSTemporaryDirectory()
        for name in (try? FileManager.default.contentsOfDirectory(atPath: temporary)) ?? []
        where name.hasPrefix("fbinst-bundles-") && isStale(run: run(in: name, after: "fbinst-bundles-")) {
            try? FileManager.default.removeItem(atPath: temporary + name)
        }
    }

    /// A fresh prefix path (not created).
    static func prefix(_ tag: String) -> String {
        touchHeartbeat()
        return NSTemporaryDirectory() + "fbinst-prefix-\(InstallEnv.runID)-\(tag)-\(UInt16.random(in: 0...UInt16.max))"
    }

    /// The parsed `--json` document of a tool run.
    static func json(_ output: InstallEnv.Output) -> [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(output.stdout.utf8))) as? [String: Any] ?? [:]
    }

    /// psql in the project's postgres container; trimmed tuples-only output.
    static func psql(_ project: String, _ sql: String) throws -> String {
        try InstallEnv.check(["docker", "compose", "-p", project, "exec", "-T", "postgres",
                              "psql", "-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1", "-U", "frostbyte", "-d", "frostbyte", "-c", sql])
    }

    /// Files below a folder (relative), for "nothing changed" checks; empty when absent.
    static func listing(_ folder: String) -> [String] {
        (FileManager.default.subpaths(atPath: folder) ?? []).sorted()
    }
}
