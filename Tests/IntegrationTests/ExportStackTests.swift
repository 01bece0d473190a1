import Foundation
import Testing
import TestSupport

/// The installed demo stack the export tests run against: the demo spec built and
/// installed by the real binary under a temporary prefix, as project
/// `fbtest-<run>-<tag>` on a free 10.215.x.0/24. `tearDown()` uninstalls it with its
/// data and removes whatever the test created (restore container, network, files).
final class ExportStack {
    /// Held by each docker test of the export and guide suites, so their
    /// installations never overlap (an install's cross-project isolation probes
    /// must not race another test's teardown).
    static let dockerLock = NSLock()

    /// The demo images `build` saves must exist (scripts/make-demo-images).
    static let demoImagesPresent: Bool = ["postgres", "redis", "worker", "gateway"].allSatisfy {
        (try? TestCommand.run(["docker", "image", "inspect", "frostbyte-demo/\($0):1.0"]).status) == 0
    }

    let folder: String
    let prefix: String
    let project: String
    let subnet: String
    private(set) var bundleId = ""
    /// Extra docker objects to remove on tear down: (kind, name).
    var extraObjects: [(kind: String, name: String)] = []

    /// Builds the demo bundle and installs it.
    init(tag: String) throws {
        var template = Array((NSTemporaryDirectory() + "fbexport-\(tag)-XXXXXX").utf8CString)
        guard let made = mkdtemp(&template) else { throw TestFailure("mkdtemp failed") }
        folder = String(cString: made)
        prefix = "\(folder)/prefix"
        project = "fbtest-\(TestRun.id)-\(tag)"
        subnet = try DockerTestSupport.freeSubnet(in: "10.215")
        do {
            try install()
        } catch {
            tearDown()
            throw error
        }
    }

    private func install() throws {
        let built = try TestCommand.tool(["build", "\(TestRun.repositoryRoot)/manifests/demo.yaml", "-o", "\(folder)/", "--json"])
        guard built.status == 0 else { throw TestFailure("build failed (\(built.status)): \(built.stderr)") }
        let bundles = try FileManager.default.contentsOfDirectory(atPath: folder).filter { $0.hasSuffix(".tar.zst") }
        guard let bundle = bundles.first else { throw TestFailure("build wrote no .tar.zst into \(folder)") }
        let installed = try TestCommand.tool(["install", "\(folder)/\(bundle)", "--allow-unsigned", "--prefix", prefix,
                                       "--project", project, "--subnet", subnet, "--publish", "\(Int.random(in: 19_000...19_999))",
                                       "--timeout", "240", "--json"],
                                      timeout: 600)
        guard installed.status == 0 else { throw TestFailure("install failed (\(installed.status)): \(installed.stderr)") }
        let receipt = try JSONSerialization.jsonObject(
            with: Data(contentsOf: URL(fileURLWithPath: "\(prefix)/state/receipt.json"))) as? [String: Any]
        bundleId = receipt?["bundle_id"] as? String ?? ""
    }

    /// Uninstalls (with data) and removes everything the test made; never throws.
    func tearDown() {
        for object in extraObjects.reversed() {
            _ = try? TestCommand.run(object.kind == "container"
                ? ["docker", "rm", "-f", "-v", object.name] : ["docker", object.kind, "rm", object.name])
        }
        if FileManager.default.fileExists(atPath: "\(prefix)/state") {
            _ = try? TestCommand.tool(["uninstall", "--prefix", prefix, "--purge-data"], timeout: 300)
        }
        // Backstop: anything of the project that uninstall did not remove.
        let filter = "label=com.docker.compose.project=\(project)"
        if let ids = try? TestCommand.check(["docker", "ps", "-aq", "--filter", filter]), !ids.isEmpty {
            _ = try? TestCommand.run(["docker", "rm", "-f", "-v"] + ids.split(separator: "\n").map(String.init))
        }
        for kind in ["network", "volume"] {
            if let ids = try? TestCommand.check(["docker", kind, "ls", "-q", "--filter", filter]), !ids.isEmpty {
                _ = try? TestCommand.run(["docker", kind, "rm"] + ids.split(separator: "\n").map(String.init))
            }
        }
        try? FileManager.default.removeItem(atPath: folder)
    }

    /// SQL through psql in the project's postgres container; tuples only, unaligned.
    func psql(_ sql: String) throws -> String {
        try Self.psql(container: try container("postgres"), sql)
    }

    /// The running container of `service`.
    func container(_ service: String) throws -> String {
        let id = try TestCommand.check([
            "docker", "ps", "-q", "--filter", "label=com.docker.compose.project=\(project)",
            "--filter", "label=com.docker.compose.service=\(service)", "--filter", "status=running"])
        guard !id.isEmpty else { throw TestFailure("no running \(service) container in \(project)") }
        return String(id.split(separator: "\n")[0])
    }

    static func psql(container: String, _ sql: String) throws -> String {
        try TestCommand.check(["docker", "exec", container, "psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1",
                                     "-U", "frostbyte", "-d", "frostbyte", "-c", sql])
    }

    /// Extracts a .tar.zst with GNU tar into a new folder and returns the bundle's root.
    static func extract(_ archive: String, into target: String) throws -> String {
        try FileManager.default.createDirectory(atPath: target, withIntermediateDirectories: true)
        try TestCommand.check(["tar", "--zstd", "-xf", archive, "-C", target])
        let roots = try FileManager.default.contentsOfDirectory(atPath: target)
        guard roots.count == 1 else { throw TestFailure("\(archive) has \(roots.count) root folders") }
        return "\(target)/\(roots[0])"
    }

    /// Files (including hidden ones) directly in `folder`.
    static func listing(_ folder: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []).sorted()
    }
}
