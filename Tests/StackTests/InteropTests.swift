import Foundation
import TestSupport
import Testing
@testable import Stack

/// Paths of the repository and of tools the interop tests use.
enum Interop {
    /// The Compose JSON schema: `$COMPOSE_SPEC_SCHEMA`, else the official schema kept in
    /// the repository (`reference/compose-spec.json`), so a clone in any folder has it.
    static let schemaPath: String = ProcessInfo.processInfo.environment["COMPOSE_SPEC_SCHEMA"]
        ?? URL(fileURLWithPath: TestRun.repositoryRoot).appendingPathComponent("reference/compose-spec.json").path

    /// Validates YAML text against the Compose schema with python3 + jsonschema,
    /// after converting it to JSON. Returns (passed, output).
    static func validateAgainstSchema(_ yaml: [UInt8]) throws -> (Bool, String) {
        let script = """
            import json, sys, yaml, jsonschema
            schema = json.load(open(sys.argv[1]))
            document = json.loads(json.dumps(yaml.safe_load(sys.stdin)))
            try:
                jsonschema.validate(document, schema)
            except jsonschema.ValidationError as error:
                print(error.message); sys.exit(1)
            print("valid")
            """
        let result = try run(["python3", "-c", script, schemaPath], input: yaml)
        return (result.status == 0, result.output)
    }

    /// `docker compose -f FILE config -q` in a temp folder; returns (status, output).
    static func composeConfig(_ yaml: [UInt8], extraArguments: [String] = ["-q"], environment: [String: String] = [:]) throws -> (Int32, String) {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("compose-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try Data(yaml).write(to: URL(fileURLWithPath: "\(folder)/docker-compose.yml"))
        let env = environment.map { "\($0.key)=\($0.value)" }
        return try run(env + ["docker", "compose", "-f", "docker-compose.yml", "config"] + extraArguments, in: folder)
    }

    static var composeAvailable: Bool {
        (try? run(["docker", "compose", "version"]).status) == 0
    }
}

@Suite("Hardened output against docker compose and the Compose schema")
struct InteropTests {
    @Test(.enabled(if: Interop.composeAvailable, "docker compose v2 is not installed"))
    func baseStackPassesComposeConfig() throws {
        let fixture = try Fixture()
        defer { fixture.cleanup() }
        let yaml = try fixture.render().composeYAML
        let (status, output) = try Interop.composeConfig(yaml)
        #expect(status == 0, "\(output)")
        // Negative control: a service attached to an undeclared network fails.
        var tree = try YAMLNode.parse(yaml, file: "out.yaml")
        var services = try #require(tree["services"])
        var gateway = try #require(services["gateway"])
        gateway.set("networks", .sequence([.string("nowhere")]))
        services.set("gateway", gateway)
        tree.set("services", services)
        let (badStatus, badOutput) = try Interop.composeConfig(try tree.emitted())
        #expect(badStatus != 0)
        #expect(badOutput.contains("nowhere"), "\(badOutput)")
    }

    @Test func baseStackValidatesAgainstTheComposeSchema() throws {
        let fixture = try Fixture()
        defer { fixture.cleanup() }
        let yaml = try fixture.render().composeYAML
        let (valid, output) = try Interop.validateAgainstSchema(yaml)
        #expect(valid, "\(output)")
        // Negative control: an unknown service key is rejected by the schema.
        var tree = try YAMLNode.parse(yaml, file: "out.yaml")
        var services = try #require(tree["services"])
        var postgres = try #require(services["postgres"])
        postgres.set("bogus_key", .plain("1"))
        services.set("postgres", postgres)
        tree.set("services", services)
        let (badValid, badOutput) = try Interop.validateAgainstSchema(try tree.emitted())
        #expect(!badValid)
        #expect(badOutput.contains("bogus_key"), "\(badOutput)")
    }

    /// The install-time overrides resolve through Compose's own interpolation,
    /// and the defaults apply when the variables are unset.
    @Test(.enabled(if: Interop.composeAvailable, "docker compose v2 is not installed"))
    func installTimeOverridesResolve() throws {
        let fixture = try Fixture()
        defer { fixture.cleanup() }
        let yaml = try fixture.render().composeYAML
        func resolved(_ environment: [String: String]) throws -> [String: Any] {
            let (status, output) = try Interop.composeConfig(yaml, extraArguments: ["--format", "json"], environment: environment)
            #expect(status == 0, "\(output)")
            let json = String(output[output.firstIndex(of: "{")!...])
            return try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
        }
        func facts(_ config: [String: Any]) -> [String?] {
            let network = (config["networks"] as? [String: Any])?["demo-internal"] as? [String: Any]
            let subnet = (((network?["ipam"] as? [String: Any])?["config"] as? [[String: Any]])?.first?["subnet"]) as? String
            let gateway = ((((config["services"] as? [String: Any])?["gateway"] as? [String: Any])?["networks"] as? [String: Any])?["demo-internal"] as? [String: Any])?["ipv4_address"] as? String
            let label = (network?["labels"] as? [String: Any])?["io.frostbyte.project"] as? String
            return [config["name"] as? String, network?["name"] as? String, subnet, gateway, label, (network?["internal"] as? Bool).map { "\($0)" }]
        }
        #expect(facts(try resolved([:])) == [
            "frostbyte-demo", "frostbyte-demo_demo-internal", "172.29.0.0/16", "172.29.0.10", "frostbyte-demo", "true",
        ])
        #expect(facts(try resolved(["FROSTBYTE_PROJECT": "tenant-b", "FROSTBYTE_SUBNET": "10.44.0.0/24", "FROSTBYTE_GATEWAY_IP": "10.44.0.10"])) == [
            "tenant-b", "tenant-b_demo-internal", "10.44.0.0/24", "10.44.0.10", "tenant-b", "true",
        ])
        // The ingress side: publish address, ingress subnet and bridge names resolve too.
        func ingress(_ config: [String: Any]) -> [String?] {
            let network = (config["networks"] as? [String: Any])?["ingress"] as? [String: Any]
            let subnet = (((network?["ipam"] as? [String: Any])?["config"] as? [[String: Any]])?.first?["subnet"]) as? String
            let options = network?["driver_opts"] as? [String: Any]
            let port = (((config["services"] as? [String: Any])?["gateway"] as? [String: Any])?["ports"] as? [[String: Any]])?.first
            return [subnet, options?["com.docker.network.bridge.name"] as? String,
                    options?["com.docker.network.bridge.enable_ip_masquerade"] as? String,
                    // Compose leaves `internal: false` out of its output.
                    port?["host_ip"] as? String, port?["published"] as? String, "\((network?["internal"] as? Bool) ?? false)"]
        }
        #expect(ingress(try resolved([:])) == ["172.31.255.0/29", "", "false", "127.0.0.1", "8080", "false"])
        #expect(ingress(try resolved(["FROSTBYTE_PUBLISH": "0.0.0.0:8443", "FROSTBYTE_INGRESS_SUBNET": "10.45.0.0/29",
                                      "FROSTBYTE_INGRESS_BRIDGE": "fbabcdef0123i"]))
            == ["10.45.0.0/29", "fbabcdef0123i", "false", "0.0.0.0", "8443", "false"])
    }

    /// The demo stack: manifests/demo.yaml when it exists, else a spec of our own
    /// over compose/demo.yaml.
    @Test(.enabled(if: FileManager.default.fileExists(atPath: TestRun.repositoryRoot + "/compose/demo.yaml")))
    func demoStackRendersAndValidates() throws {
        let manifest = TestRun.repositoryRoot + "/manifests/demo.yaml"
        let spec: BundleSpec
        var cleanup: Fixture?
        if FileManager.default.fileExists(atPath: manifest) {
            spec = try BundleSpec.load(path: manifest)
        } else {
            let images = ["postgres", "redis", "worker", "gateway"].map { "  - ref: frostbyte-demo/\($0):1.0\n" }.joined()
            let text = Fixture.baseSpec
                .replacingOccurrences(of: "compose: compose.yaml", with: "compose: \(TestRun.repositoryRoot)/compose/demo.yaml")
                .replacingOccurrences(of: "  - ref: frostbyte-demo/postgres:1.0\n  - ref: frostbyte-demo/gateway:1.0\n", with: images)
            let fixture = try Fixture(spec: text, compose: nil)
            cleanup = fixture
            spec = try fixture.spec()
        }
        defer { cleanup?.cleanup() }
        try checkStack(spec)
    }

    @Test(.enabled(if: FileManager.default.fileExists(atPath: TestRun.repositoryRoot + "/manifests/frostbyte-etl.yaml")))
    func productionStackRendersAndValidates() throws {
        try checkStack(try BundleSpec.load(path: TestRun.repositoryRoot + "/manifests/frostbyte-etl.yaml"))
    }

    private func checkStack(_ spec: BundleSpec) throws {
        let rendered = try ComposeHardener(spec: spec).render()
        #expect(try ComposeHardener(spec: spec).render().composeYAML == rendered.composeYAML, "deterministic")
        let (valid, output) = try Interop.validateAgainstSchema(rendered.composeYAML)
        #expect(valid, "\(output)")
        if Interop.composeAvailable {
            let (status, config) = try Interop.composeConfig(rendered.composeYAML)
            #expect(status == 0, "\(config)")
        }
        let tree = try YAMLNode.parse(rendered.composeYAML, file: "out.yaml")
        for service in tree["services"]?.mappingPairs ?? [] {
            // Only the gateway is published (FROSTBYTE_PUBLISH) and joins the ingress network.
            let gateway = service.key.scalarValue == spec.gateway.service
            #expect((service.value["ports"] != nil) == gateway)
            #expect(service.value["networks"]?.mappingPairs?.map { $0.key.scalarValue }
                == (gateway ? [spec.network.name, "ingress"] : [spec.network.name]))
            #expect(service.value["pull_policy"]?.scalarValue == "never")
        }
        #expect(tree["networks"]?[spec.network.name]?["internal"]?.scalarValue == "true")
    }
}
