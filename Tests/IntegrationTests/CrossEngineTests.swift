import Foundation
import TestSupport
import Testing

/// A bundle built on one engine installs on another: built on the containerd image
/// store (Engine 28.5, its save an OCI layout; the manifest records manifest digests)
/// it installs on the host's Engine 20.10, and built on 20.10 (legacy archives) it
/// installs on the containerd store. The images carry this run's own names, so both
/// installs really load them. Runs from the host's namespace and drives the second
/// engine through `scripts/engine` (docs/ENGINES.md); it needs FROSTBYTE_CROSS_ENGINE
/// (the engine's name, set by scripts/test-engines), and under CI=true it fails
/// rather than skip when that engine is not up.
@Suite("Cross-engine: build on one engine, install on another", .serialized,
       .enabled(if: CrossEngine.enabled, "needs FROSTBYTE_CROSS_ENGINE (scripts/test-engines)"), .requiresDocker)
struct CrossEngineTests {
    init() throws {
        guard let engine = CrossEngine.name else {
            throw TestFailure("FROSTBYTE_CROSS_ENGINE is not set: run scripts/test-engines")
        }
        let socket = try CrossEngine.socket(engine)
        try #require(FileManager.default.fileExists(atPath: socket), "engine \(engine) is not up (no \(socket))")
    }

    @Test func containerdBuildInstallsOnHostEngine() throws {
        let engine = try #require(CrossEngine.name)
        let tag = "\(InstallHarness.projectPrefix)\(TestRun.id)-xc"
        let scratch = try TestRun.scratchFolder("fbinst-xc")
        let project = InstallHarness.project("xc")
        let prefix = InstallHarness.prefix("xc")
        defer {
            InstallHarness.cleanup(project: project, prefix: prefix)
            CrossEngine.removeTags(tag, engine: engine)
            try? FileManager.default.removeItem(atPath: scratch)
        }
        let spec = try CrossEngine.demoSpec(repository: tag, in: scratch)
        try CrossEngine.tagDemoImages(as: tag, engine: engine)
        let bundle = scratch + "/demo.tar.zst"
        let build = try TestCommand.run([FrostbyteBinary.path, "build", spec, "-o", bundle, "--json"],
                                       environment: ["DOCKER_HOST": "unix://\(try CrossEngine.socket(engine))"])
        #expect(build.status == 0, "\(build.stderr)")
        let images = InstallHarness.json(try TestCommand.tool(["inspect", bundle, "--json"]))["images"] as? [[String: Any]] ?? []
        #expect(images.count == 4 && images.allSatisfy { $0["manifest_digest"] is String && ($0["diff_ids"] ?? $0["layers"]) is [String] },
                "a containerd-store build records manifest digests and layers (v1 diff_ids, v2 layers): \(images)")
        #expect(try TestCommand.tool(["verify-bundle", bundle]).status == 0)

        // Its own project, subnet and published port: another stack (a demo left running) may hold the defaults.
        let install = try TestCommand.tool(["install", bundle, "--allow-unsigned", "--prefix", prefix, "--project", project,
                                           "--subnet", try DockerTestSupport.freeSubnet(in: "10.217"),
                                           "--publish", "\(Int.random(in: 19_000...19_999))", "--json"])
        #expect(install.status == 0, "\(install.stderr)")
        #expect((InstallHarness.json(install)["images_loaded"] as? [String] ?? []).count == 4)
        #expect(InstallHarness.json(try TestCommand.tool(["status", "--prefix", prefix, "--json"]))["healthy"] as? Bool == true)
    }

    @Test func hostBuildInstallsOnContainerdEngine() throws {
        let engine = try #require(CrossEngine.name)
        let tag = "\(InstallHarness.projectPrefix)\(TestRun.id)-xh"
        let scratch = try TestRun.scratchFolder("fbinst-xh")
        let project = InstallHarness.project("xh")
        let prefix = InstallHarness.prefix("xh")
        defer {
            _ = try? CrossEngine.run(engine, [FrostbyteBinary.path, "uninstall", "--prefix", prefix, "--purge-data"])
            try? FileManager.default.removeItem(atPath: prefix)
            CrossEngine.removeTags(tag, engine: nil)
            try? FileManager.default.removeItem(atPath: scratch)
        }
        let spec = try CrossEngine.demoSpec(repository: tag, in: scratch)
        try CrossEngine.tagDemoImages(as: tag, engine: nil)
        let bundle = scratch + "/demo.tar.zst"
        let build = try TestCommand.tool(["build", spec, "-o", bundle])
        #expect(build.status == 0, "\(build.stderr)")

        let install = try CrossEngine.run(engine, [FrostbyteBinary.path, "install", bundle, "--allow-unsigned", "--prefix", prefix,
                                                   "--project", project, "--subnet", "10.218.7.0/24",
                                                   "--publish", "\(Int.random(in: 19_000...19_999))", "--json"])
        #expect(install.status == 0, "\(install.stderr)")
        #expect((InstallHarness.json(install)["images_loaded"] as? [String] ?? []).count == 4)
        let status = try CrossEngine.run(engine, [FrostbyteBinary.path, "status", "--prefix", prefix, "--json"])
        #expect(InstallHarness.json(status)["healthy"] as? Bool == true, "\(status.stdout)")
        // The same bundle again: every image is found present on the containerd store.
        let again = try CrossEngine.run(engine, [FrostbyteBinary.path, "install", bundle, "--allow-unsigned", "--prefix", prefix, "--json"])
        #expect(again.status == 0, "\(again.stderr)")
        #expect((InstallHarness.json(again)["images_loaded"] as? [String] ?? []).isEmpty)
    }
}

/// The second engine of the cross-engine tests.
enum CrossEngine {
    static let name = ProcessInfo.processInfo.environment["FROSTBYTE_CROSS_ENGINE"].flatMap { $0.isEmpty ? nil : $0 }
    static let enabled = name != nil || TestRun.isCI
    static let script = "\(TestRun.repositoryRoot)/scripts/engine"

    /// The engine's docker socket (`scripts/engine env`).
    static func socket(_ engine: String) throws -> String {
        let env = try TestCommand.check([script, "env", engine])
        guard let line = env.split(separator: "\n").first(where: { $0.contains("DOCKER_HOST=") }),
              let range = line.range(of: "unix://") else { throw TestFailure("no DOCKER_HOST in: \(env)") }
        return String(line[range.upperBound...]).trimmingCharacters(in: CharacterSet(charactersIn: "\"' "))
    }

    /// Runs `arguments` as an operator of `engine`'s host (its network namespace, its DOCKER_HOST).
    static func run(_ engine: String, _ arguments: [String]) throws -> CommandOutput {
        try TestCommand.run([script, "run", engine, "--"] + arguments)
    }

    /// Runs a docker command on `engine` (nil: the host's engine).
    @discardableResult
    static func docker(_ engine: String?, _ arguments: [String]) throws -> CommandOutput {
        guard let engine else { return try TestCommand.run(["docker"] + arguments) }
        return try run(engine, ["docker"] + arguments)
    }

    /// Tags the four demo images as `<repository>/<name>:1.0` on `engine`, loading
    /// them from out/images first when that engine lacks them.
    static func tagDemoImages(as repository: String, engine: String?) throws {
        for name in ["postgres", "redis", "worker", "gateway"] {
            if try docker(engine, ["image", "inspect", "frostbyte-demo/\(name):1.0"]).status != 0 {
                let loaded = try docker(engine, ["load", "-q", "-i", "\(Docker.demoImagesFolder)/\(name).tar"])
                guard loaded.status == 0 else { throw TestFailure("docker load \(name): \(loaded.stderr)") }
            }
            let tagged = try docker(engine, ["tag", "frostbyte-demo/\(name):1.0", "\(repository)/\(name):1.0"])
            guard tagged.status == 0 else { throw TestFailure("docker tag \(name): \(tagged.stderr)") }
        }
    }

    static func removeTags(_ repository: String, engine: String?) {
        for name in ["postgres", "redis", "worker", "gateway"] {
            _ = try? docker(engine, ["rmi", "\(repository)/\(name):1.0"])
        }
    }

    /// A copy of manifests/demo.yaml and its compose file whose images are
    /// `<repository>/<name>:1.0`; returns the spec's path.
    static func demoSpec(repository: String, in folder: String) throws -> String {
        let root = TestRun.repositoryRoot
        for sub in ["manifests", "compose"] {
            try FileManager.default.createDirectory(atPath: "\(folder)/\(sub)", withIntermediateDirectories: true)
        }
        let compose = try String(contentsOfFile: "\(root)/compose/demo.yaml", encoding: .utf8)
            .replacingOccurrences(of: "frostbyte-demo/", with: "\(repository)/")
        try compose.write(toFile: "\(folder)/compose/demo.yaml", atomically: true, encoding: .utf8)
        let spec = try String(contentsOfFile: "\(root)/manifests/demo.yaml", encoding: .utf8)
            .replacingOccurrences(of: "ref: frostbyte-demo/", with: "ref: \(repository)/")
            .replacingOccurrences(of: "../out/", with: "\(root)/out/")
            .replacingOccurrences(of: "../bundle-template", with: "\(root)/bundle-template")
            .replacingOccurrences(of: "../migrations/", with: "\(root)/migrations/")
        try spec.write(toFile: "\(folder)/manifests/demo.yaml", atomically: true, encoding: .utf8)
        return "\(folder)/manifests/demo.yaml"
    }
}
