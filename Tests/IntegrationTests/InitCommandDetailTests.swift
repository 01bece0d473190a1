import Foundation
import TestSupport
import Testing

/// What `init` writes, stack by stack, and how it treats bad input; then the demo:
/// the spec `init` drafts from compose/demo.yaml, with only name, version and subnet
/// set to the demo's, builds the bundle manifests/demo.yaml builds.
@Suite("init: what the drafted spec says", .serialized)
struct InitCommandDetailTests {
    typealias Stack = InitCommandTests.Stack

    /// `key: value` in YAML text, the value plain or double-quoted.
    static func has(_ text: String, _ key: String, _ value: String) -> Bool {
        text.contains("\(key): \(value)") || text.contains("\(key): \"\(value)\"")
    }

    private func initAndRender(_ name: String, _ extra: [String] = []) throws -> (Stack, spec: String, rendered: String) {
        let stack = try Stack(name)
        let drafted = try InitCommandTests.tool(["init", "compose.yaml"] + stack.initArguments + extra, in: stack.folder)
        #expect(drafted.status == 0, "\(drafted.stderr)")
        let rendered = try InitCommandTests.tool(["render", "bundle-spec.yaml"], in: stack.folder)
        #expect(rendered.status == 0, "\(rendered.stderr)")
        return (stack, try stack.read("bundle-spec.yaml"), rendered.stdout)
    }

    @Test("variables resolve as Compose resolves them: environment, then .env, then the default; the spec keeps them")
    func variables() throws {
        let (stack, spec, rendered) = try initAndRender("variables")
        defer { stack.remove() }
        #expect(spec.contains("project: acme"))
        #expect(Self.has(spec, "- ref", "ghcr.io/acme/server:2.3.1"), "\(spec)")
        #expect(spec.contains("written: \"ghcr.io/acme/server:${APP_VERSION:-release}\""), "\(spec)")
        #expect(spec.contains("APP_VERSION=2.3.1 from .env"))
        for image in ["ghcr.io/acme/server:2.3.1", "ghcr.io/acme/worker:2.3.1", "docker.io/library/nginx:1.27.2", "getsentry/snuba:24.9.0"] {
            #expect(Self.has(rendered, "image", image), "\(image) in:\n\(rendered)")
        }
        // Render needs no environment: the same spec renders the same with APP_VERSION set otherwise.
        let again = try InitCommandTests.tool(["render", "bundle-spec.yaml"], in: stack.folder, environment: ["APP_VERSION": "9.9"])
        #expect(again.stdout == rendered)
        // The environment wins over .env when init reads it, as in Compose.
        let other = try InitCommandTests.tool(["init", "compose.yaml", "--force", "--json"], in: stack.folder, environment: ["APP_VERSION": "2.4.0"])
        #expect(other.status == 0, "\(other.stderr)")
        #expect(other.stdout.contains("ghcr.io/acme/server:2.4.0") && other.stdout.contains("APP_VERSION=2.4.0 from the environment"))
    }

    @Test("profiles: inactive services are left out unless --profile names them; build-only services get Compose's image name")
    func profilesAndBuildOnly() throws {
        let (plain, plainSpec, plainRendered) = try initAndRender("profiles")
        defer { plain.remove() }
        #expect(!plainSpec.contains("toolbox") && !plainRendered.contains("debug-shell:"))
        let (debug, debugSpec, debugRendered) = try initAndRender("profiles-debug")
        defer { debug.remove() }
        #expect(debugSpec.contains("profiles: [debug]") && debugSpec.contains("example/toolbox:1.0") && debugSpec.contains("prom/prometheus:v2.54.1"))
        #expect(debugRendered.contains("debug-shell:") && !debugRendered.contains("profiles:"))
        let (build, buildSpec, buildRendered) = try initAndRender("build-only")
        defer { build.remove() }
        #expect(Self.has(buildSpec, "- ref", "build-only-web:latest") && buildSpec.contains("built_by: web"), "\(buildSpec)")
        #expect(Self.has(buildRendered, "image", "build-only-web:latest") && !buildRendered.contains("build:"), "\(buildRendered)")
    }

    @Test("gateway: port and health path from ports and an HTTP healthcheck; the front of several publishers; --gateway")
    func gateway() throws {
        let (checks, spec, _) = try initAndRender("healthchecks")
        defer { checks.remove() }
        #expect(spec.contains("service: front") && spec.contains("port: 8080") && spec.contains("health_path: \"/healthz?full=1\""), "\(spec)")
        let (proxy, proxySpec, _) = try initAndRender("reverse-proxy")
        defer { proxy.remove() }
        #expect(proxySpec.contains("service: proxy") && proxySpec.contains("port: 80") && proxySpec.contains("health_path: /"), "\(proxySpec)")
        let (chosen, chosenSpec, _) = try initAndRender("gateway-chosen")
        defer { chosen.remove() }
        #expect(chosenSpec.contains("service: admin") && chosenSpec.contains("port: 9000"))
        let (large, largeSpec, _) = try initAndRender("large")
        defer { large.remove() }
        #expect(largeSpec.contains("service: edge") && largeSpec.contains("port: 8443") && largeSpec.contains("health_path: /_edge/health"))
        #expect(largeSpec.components(separatedBy: "- ref: ").count - 1 == 31, "32 services, one shared image: \(largeSpec)")
    }

    @Test("files the compose file refers to are listed with where they belong")
    func files() throws {
        let (stack, spec, _) = try initAndRender("files")
        defer { stack.remove() }
        for expected in ["env_file app.env", "env_file ./optional.env", "env_file worker.env", "bind mount ./config", "configs ./config/app.toml",
                         "secrets ./db_password.txt"] {
            #expect(spec.contains("#   \(expected)"), "\(expected) in:\n\(spec)")
        }
        #expect(spec.contains("#   bind mount ./models (service app): looks like model or data files: list each file under the spec's models:"))
    }

    @Test("the frostbyte-etl stack: five publishers, two fronts, so --gateway; then the images of manifests/frostbyte-etl.yaml")
    func etl() throws {
        let folder = NSTemporaryDirectory() + "fbtest-init-etl-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try FileManager.default.copyItem(atPath: TestRun.repositoryRoot + "/compose/frostbyte-etl.yaml", toPath: folder + "/compose.yaml")
        let unclear = try InitCommandTests.tool(["init", "compose.yaml"], in: folder)
        #expect(unclear.status == 2 && unclear.stderr.contains("several services publish ports (postgres (5432), minio (9000), qdrant (6333), intake-gateway (8080), serving (8000))"), "\(unclear.stderr)")
        let chosen = try InitCommandTests.tool(["init", "compose.yaml", "--gateway", "intake-gateway"], in: folder)
        #expect(chosen.status == 0, "\(chosen.stderr)")
        #expect(try InitCommandTests.tool(["render", "bundle-spec.yaml"], in: folder).status == 0)
        func refs(_ path: String) throws -> [String] {
            try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n")
                .filter { $0.hasPrefix("  - ref: ") }.map { $0.split(separator: " ")[2].replacingOccurrences(of: "\"", with: "") }
        }
        #expect(try refs(folder + "/bundle-spec.yaml") == refs(TestRun.repositoryRoot + "/manifests/frostbyte-etl.yaml"))
    }

    @Test("bad input: a missing file, a folder without a compose file, an existing spec (kept unless --force), a bad --name")
    func badInput() throws {
        let stack = try Stack("anchors-merges")
        defer { stack.remove() }
        let missing = try InitCommandTests.tool(["init", "nothere.yaml"], in: stack.folder)
        #expect(missing.status == 2 && missing.stderr.contains("compose file nothere.yaml does not exist"), "\(missing.stderr)")
        let empty = try InitCommandTests.tool(["init", "/proc/self"], in: stack.folder)
        #expect(empty.status == 2 && empty.stderr.contains("holds none of compose.yaml"), "\(empty.stderr)")
        #expect(try InitCommandTests.tool(["init", "."], in: stack.folder).status == 0, "a folder holding compose.yaml")
        let before = try stack.read("bundle-spec.yaml")
        let again = try InitCommandTests.tool(["init", "compose.yaml", "--version", "2.0.0"], in: stack.folder)
        #expect(again.status == 2 && again.stderr.contains("already exists; pass --force"))
        #expect(try stack.read("bundle-spec.yaml") == before)
        let forced = try InitCommandTests.tool(["init", "compose.yaml", "--version", "2.0.0", "--force"], in: stack.folder)
        let replaced = try stack.read("bundle-spec.yaml")
        #expect(forced.status == 0 && Self.has(replaced, "version", "2.0.0"))
        let badName = try InitCommandTests.tool(["init", "compose.yaml", "--force", "--name", "Bad Name"], in: stack.folder)
        #expect(badName.status == 2 && badName.stderr.contains("--name 'Bad Name' must match"))
        let json = try InitCommandTests.tool(["init", "compose.yaml", "-o", "other.yaml", "--json"], in: stack.folder)
        let document = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        #expect(document["written"] as? Bool == true && (document["gateway"] as? [String: Any])?["service"] as? String == "web")
        #expect((document["obstacles"] as? [Any])?.isEmpty == true && FileManager.default.fileExists(atPath: stack.folder + "/other.yaml"))
    }

    @Test("build carries the images a compose file names through variables, resolved from the spec alone",
          .requiresDocker)
    func buildWithVariables() throws {
        let folder = NSTemporaryDirectory() + "fbtest-init-vars-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let compose = """
            services:
              gateway:
                image: frostbyte-demo/gateway:${GATEWAY_TAG:-1.0}
                ports: ["8080:8080"]
              redis:
                image: "$REDIS_IMAGE"
            """
        try Data(compose.utf8).write(to: URL(fileURLWithPath: folder + "/compose.yaml"))
        try Data("REDIS_IMAGE=frostbyte-demo/redis:1.0\n".utf8).write(to: URL(fileURLWithPath: folder + "/.env"))
        #expect(try InitCommandTests.tool(["init", "compose.yaml"], in: folder).status == 0)
        // The .env is gone and the environment says otherwise: build uses the spec's resolution.
        try FileManager.default.removeItem(atPath: folder + "/.env")
        let built = try InitCommandTests.tool(["build", "bundle-spec.yaml", "-o", "b.tar.zst", "--json"], in: folder,
                                              environment: ["GATEWAY_TAG": "9.9", "SOURCE_DATE_EPOCH": "0"])
        #expect(built.status == 0, "\(built.stderr)")
        let listing = try TestCommand.run(["sh", "-c", "tar --zstd -xOf \"$0\" --wildcards '*/docker-compose.yml'", folder + "/b.tar.zst"])
        #expect(Self.has(listing.stdout, "image", "frostbyte-demo/gateway:1.0") && Self.has(listing.stdout, "image", "frostbyte-demo/redis:1.0"), "\(listing.stdout)")
        #expect(built.stdout.contains("frostbyte-demo/redis:1.0") && built.stdout.contains("frostbyte-demo/gateway:1.0"))
    }

    @Test("the demo: init's spec with the demo's name, version and subnet renders and builds what manifests/demo.yaml does",
          .requiresDocker)
    func demo() throws {
        let root = TestRun.repositoryRoot
        let folder = NSTemporaryDirectory() + "fbtest-init-demo-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: folder + "/compose", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try FileManager.default.copyItem(atPath: root + "/compose/demo.yaml", toPath: folder + "/compose/demo.yaml")
        let drafted = try InitCommandTests.tool(["init", "compose/demo.yaml", "-o", "init.yaml"], in: folder)
        #expect(drafted.status == 0, "\(drafted.stderr)")
        let initSpec = try String(contentsOfFile: folder + "/init.yaml", encoding: .utf8)
        let edited = initSpec.split(separator: "\n", omittingEmptySubsequences: false).map { line -> String in
            if line.hasPrefix("name: ") { return "name: demo" }
            if line.hasPrefix("version: ") { return "version: 1.0.0" }
            if line.hasPrefix("  subnet: ") { return "  subnet: 172.29.0.0/16" }
            return String(line)
        }.joined(separator: "\n")
        try Data(edited.utf8).write(to: URL(fileURLWithPath: folder + "/edited.yaml"))
        // The demo spec without what no compose file names (models, template, migrations, exports).
        let demo = try String(contentsOfFile: root + "/manifests/demo.yaml", encoding: .utf8)
        let stripped = demo.components(separatedBy: "\nmodels:")[0].replacingOccurrences(of: "compose: ../compose/demo.yaml", with: "compose: compose/demo.yaml")
        try Data(stripped.utf8).write(to: URL(fileURLWithPath: folder + "/demo.yaml"))

        // render: byte-identical to the real demo spec's compose file.
        let fromInit = try InitCommandTests.tool(["render", "edited.yaml"], in: folder)
        let fromDemo = try InitCommandTests.tool(["render", root + "/manifests/demo.yaml"], in: folder)
        #expect(fromInit.status == 0 && fromInit.stdout == fromDemo.stdout && !fromInit.stdout.isEmpty)
        let unedited = try InitCommandTests.tool(["render", "init.yaml"], in: folder)
        #expect(unedited.status == 0 && unedited.stdout != fromDemo.stdout, "negative control: init's own name and subnet differ")

        // build: the same bytes, with SOURCE_DATE_EPOCH fixed.
        let env = ["SOURCE_DATE_EPOCH": "1767225600"]
        for (spec, out) in [("edited.yaml", "a"), ("demo.yaml", "b"), ("init.yaml", "c")] {
            let built = try InitCommandTests.tool(["build", spec, "-o", "\(out).tar.zst"], in: folder, environment: env)
            #expect(built.status == 0, "\(built.stderr)")
        }
        let a = try Data(contentsOf: URL(fileURLWithPath: folder + "/a.tar.zst"))
        let b = try Data(contentsOf: URL(fileURLWithPath: folder + "/b.tar.zst"))
        let c = try Data(contentsOf: URL(fileURLWithPath: folder + "/c.tar.zst"))
        #expect(a == b, "init's spec (name, version, subnet set) builds the demo's bundle byte for byte")
        #expect(a != c, "negative control: init's unedited spec builds another bundle")
    }
}
