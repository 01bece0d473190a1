import Foundation
import TestSupport
import Testing

/// `init` through the real binary over the corpus in Tests/Fixtures/init-corpus (compose
/// stacks of our own in the shapes real stacks take): for each, `init` then `render`;
/// each either renders valid with the unedited spec (Compose schema, `docker compose
/// config -q`) or `init` names every obstacle the stack's `expect` file lists and exits 2.
/// `expect`: first line `ok [init arguments]` or `refused`, then one line per obstacle.
@Suite("init: a spec render accepts, or every obstacle named", .serialized)
struct InitCommandTests {
    static let corpus = TestRun.repositoryRoot + "/Tests/Fixtures/init-corpus"
    static let stacks: [String] = ((try? FileManager.default.contentsOfDirectory(atPath: corpus)) ?? []).sorted()

    /// A copy of one corpus stack in a scratch folder (init writes beside the compose file).
    struct Stack {
        let folder: String
        let expectation: [String]

        init(_ name: String) throws {
            folder = NSTemporaryDirectory() + "fbtest-init-\(UUID().uuidString)/\(name)"
            try FileManager.default.createDirectory(atPath: PathOf.parent(folder), withIntermediateDirectories: true)
            try FileManager.default.copyItem(atPath: InitCommandTests.corpus + "/" + name, toPath: folder)
            expectation = try String(contentsOfFile: folder + "/expect", encoding: .utf8).split(separator: "\n").map(String.init)
        }

        var spec: String { folder + "/bundle-spec.yaml" }
        var initArguments: [String] { expectation[0].split(separator: " ").dropFirst().map(String.init) }
        func remove() { try? FileManager.default.removeItem(atPath: PathOf.parent(folder)) }
        func read(_ name: String) throws -> String { try String(contentsOfFile: folder + "/" + name, encoding: .utf8) }
    }

    static func tool(_ arguments: [String], in folder: String? = nil, environment: [String: String] = [:]) throws -> CommandOutput {
        try TestCommand.tool(arguments, environment: environment, in: folder)
    }

    /// Compose's JSON schema (reference/compose-spec.json) over YAML text, with python3-jsonschema.
    static func schemaCheck(_ yaml: String) throws -> CommandOutput {
        let script = """
            import json, sys, yaml, jsonschema
            schema = json.load(open(sys.argv[1]))
            try:
                jsonschema.validate(json.loads(json.dumps(yaml.safe_load(sys.stdin))), schema)
            except jsonschema.ValidationError as error:
                print(error.message); sys.exit(1)
            """
        return try TestCommand.run(["python3", "-c", script, TestRun.repositoryRoot + "/reference/compose-spec.json"], stdin: Data(yaml.utf8))
    }

    @Test("the corpus holds every shape the issue lists, 30+ services in one", arguments: [0])
    func corpusShape(_: Int) throws {
        #expect(Set(["build-only", "untagged-latest", "several-publishers", "no-publisher", "healthchecks", "files", "anchors-merges",
                     "variables", "variables-unset", "profiles", "reverse-proxy", "refused", "large", "not-yaml"]).isSubset(of: Set(Self.stacks)))
        let large = try String(contentsOfFile: Self.corpus + "/large/compose.yaml", encoding: .utf8)
        #expect(large.split(separator: "\n").filter { $0.hasPrefix("  ") && !$0.hasPrefix("   ") && $0.hasSuffix(":") }.count >= 30 + 6)
    }

    @Test("init then render: valid and accepted by docker compose, or every obstacle named with exit 2",
          .requiresDocker, arguments: stacks)
    func initThenRender(_ name: String) throws {
        let stack = try Stack(name)
        defer { stack.remove() }
        let drafted = try Self.tool(["init", "compose.yaml"] + stack.initArguments, in: stack.folder)
        if stack.expectation[0].hasPrefix("refused") {
            #expect(drafted.status == 2, "\(drafted.stderr)")
            #expect(!FileManager.default.fileExists(atPath: stack.spec), "nothing is written when init exits 2")
            let obstacles = drafted.stderr.split(separator: "\n").filter { $0.hasPrefix("frostbyte-bundle: \(stack.folder)/compose.yaml:") }
            for expected in stack.expectation.dropFirst() {
                #expect(obstacles.contains { $0.contains(expected) }, "missing obstacle '\(expected)' in:\n\(drafted.stderr)")
            }
            #expect(obstacles.count == stack.expectation.count - 1, "every obstacle, and only those:\n\(drafted.stderr)")
            return
        }
        #expect(drafted.status == 0, "\(drafted.stderr)")
        let rendered = try Self.tool(["render", "bundle-spec.yaml", "-o", "rendered.yml"], in: stack.folder)
        let specText = try stack.read("bundle-spec.yaml")
        #expect(rendered.status == 0, "render refused the unedited spec:\n\(rendered.stderr)\n\(specText)")
        let schema = try Self.schemaCheck(try stack.read("rendered.yml"))
        #expect(schema.status == 0, "\(schema.stdout)\(schema.stderr)")
        // Beside the stack's own files (env_file, configs, secrets), as in the bundle.
        let config = try TestCommand.run(["docker", "compose", "--project-directory", stack.folder, "-f", stack.folder + "/rendered.yml", "config", "-q"])
        #expect(config.status == 0, "\(config.stderr)")
    }

    @Test("negative controls: the checks above fail on a schema-invalid file and on a spec missing what init wrote",
          .requiresDocker)
    func negativeControls() throws {
        let stack = try Stack("variables")
        defer { stack.remove() }
        #expect(try Self.tool(["init", "compose.yaml"], in: stack.folder).status == 0)
        #expect(try Self.tool(["render", "bundle-spec.yaml", "-o", "rendered.yml"], in: stack.folder).status == 0)
        let bad = try stack.read("rendered.yml").replacingOccurrences(of: "pull_policy: never", with: "pull_policy: never\n    bogus_key: 1")
        #expect(try Self.schemaCheck(bad).status != 0)
        try Data(bad.replacingOccurrences(of: "bogus_key: 1", with: "depends_on: [nowhere]").utf8).write(to: URL(fileURLWithPath: stack.folder + "/bad.yml"))
        #expect(try TestCommand.run(["docker", "compose", "-f", stack.folder + "/bad.yml", "config", "-q"]).status != 0)
        // Without the spec's `written:`, render refuses the interpolated image as before.
        let spec = try stack.read("bundle-spec.yaml").split(separator: "\n").filter { !$0.contains("written:") }.joined(separator: "\n")
        try Data(spec.utf8).write(to: URL(fileURLWithPath: stack.spec))
        let refused = try Self.tool(["render", "bundle-spec.yaml"], in: stack.folder)
        #expect(refused.status == 2)
        #expect(refused.stderr.contains("compose.yaml:5:12: service 'server': image 'ghcr.io/acme/server:${APP_VERSION:-release}' with interpolation is refused"), "\(refused.stderr)")
    }
}

/// Path helpers without Foundation's NSString bridging.
enum PathOf {
    static func parent(_ path: String) -> String { URL(fileURLWithPath: path).deletingLastPathComponent().path }
}
