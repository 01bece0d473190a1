import Foundation
import Testing
@testable import Stack

@Suite("Bundle spec parsing and validation")
struct BundleSpecTests {
    private func messageOf(_ body: () throws -> Void) -> String? {
        do { try body() } catch let error as SpecError { return error.message } catch let error as YAMLError { return error.message } catch { return "\(error)" }
        return nil
    }

    private func specMessage(_ spec: String) throws -> String? {
        let fixture = try Fixture(spec: spec)
        defer { fixture.cleanup() }
        return messageOf { _ = try fixture.spec() }
    }

    @Test func loadsTheBaseSpecWithAbsolutePathsAndDefaults() throws {
        let fixture = try Fixture(spec: Fixture.baseSpec + "models:\n  - name: embed\n    path: ../models/embed.bin\ntemplate: tpl\n")
        defer { fixture.cleanup() }
        let spec = try fixture.spec()
        #expect(spec.name == "demo")
        #expect(spec.bundleStem == "demo-1.0.0")
        #expect(spec.composePath == fixture.composePath)
        #expect(spec.network.subnet == IPv4Network("172.29.0.0/16"))
        #expect(spec.gateway.ipv4Address == IPv4Address("172.29.0.10"))
        #expect(spec.gateway.healthPath == "/health")
        #expect(spec.images.map(\.reference.text) == ["frostbyte-demo/postgres:1.0", "frostbyte-demo/gateway:1.0"])
        let parent = (fixture.folder as NSString).deletingLastPathComponent
        #expect(spec.models.first?.path == "\(parent)/models/embed.bin")
        #expect(spec.templatePath == "\(fixture.folder)/tpl")
        // Build-time inputs are checked separately, and named with their line.
        let missing = messageOf { try spec.checkInputFiles() }
        #expect(missing?.contains("spec.yaml:17:11") == true, "\(missing ?? "nil")")
    }

    @Test func unknownTopLevelKeySuggestsTheNearestKey() throws {
        let message = try specMessage(Fixture.baseSpec.replacingOccurrences(of: "project:", with: "projcet:"))
        #expect(message?.contains("spec.yaml:3:1: unknown key 'projcet' at the top level; did you mean 'project'?") == true, "\(message ?? "nil")")
    }

    @Test func unknownNestedKeySuggestsTheNearestKey() throws {
        let message = try specMessage(Fixture.baseSpec.replacingOccurrences(of: "ipv4_address:", with: "ipv4_adress:"))
        #expect(message?.contains("spec.yaml:10:3: unknown key 'ipv4_adress' in 'gateway'; did you mean 'ipv4_address'?") == true, "\(message ?? "nil")")
    }

    @Test func unrelatedUnknownKeyListsTheValidKeys() throws {
        let message = try specMessage(Fixture.baseSpec + "colour: blue\n")
        #expect(message?.contains("unknown key 'colour' at the top level; valid keys: name, version") == true, "\(message ?? "nil")")
    }

    @Test func yamlSyntaxErrorNamesLineAndColumn() throws {
        let message = try specMessage("name: demo\nversion: [1.0\nproject: x\n")
        #expect(message?.contains("spec.yaml:3:") == true, "\(message ?? "nil")")
        #expect(message?.contains("YAML syntax error") == true)
        let tab = try specMessage("name: demo\n\tversion: 1\n")
        #expect(tab?.contains("spec.yaml:2:1: YAML syntax error: found a tab character that violates indentation") == true, "\(tab ?? "nil")")
    }

    @Test func missingComposeFileIsAClearError() throws {
        let fixture = try Fixture(compose: nil)
        defer { fixture.cleanup() }
        let message = messageOf { _ = try fixture.spec() }
        #expect(message?.contains("spec.yaml:4:10: 'compose' points at \(fixture.composePath), which is not a regular file") == true, "\(message ?? "nil")")
    }

    @Test func missingSpecFileIsAClearError() {
        let message = messageOf { _ = try BundleSpec.load(path: "/nonexistent/spec.yaml") }
        #expect(message == "cannot read bundle spec /nonexistent/spec.yaml: no such file.")
    }

    @Test(arguments: [
        ("8.8.8.0/24", "is not private (RFC 1918)"),
        ("100.64.0.0/16", "is not private (RFC 1918)"),
        ("172.0.0.0/8", "reaches outside the private block 172.16.0.0/12"),
        ("192.168.0.0/15", "reaches outside the private block 192.168.0.0/16"),
        ("10.0.0.0/7", "reaches outside the private block 10.0.0.0/8"),
        ("172.29.0.1/16", "has host bits set; the network is 172.29.0.0/16"),
        ("172.29.0.0/33", "is not an IPv4 CIDR"),
        ("172.29.0/16", "is not an IPv4 CIDR"),
        ("172.029.0.0/16", "is not an IPv4 CIDR"),
        ("fd00::/64", "is not an IPv4 CIDR"),
        ("10.1.2.0/30", "is too small"),
    ])
    func badSubnetsAreRefused(_ subnet: String, _ reason: String) throws {
        let message = try specMessage(Fixture.baseSpec.replacingOccurrences(of: "172.29.0.0/16", with: subnet))
        #expect(message?.contains("spec.yaml:7:11: 'network.subnet' value '\(subnet)' \(reason)") == true, "\(message ?? "nil")")
    }

    @Test(arguments: ["10.0.0.0/8", "172.16.0.0/12", "172.31.255.248/29", "192.168.7.0/24"])
    func privateSubnetsAreAccepted(_ subnet: String) throws {
        let network = try #require(IPv4Network(subnet))
        let gateway = network.address(atOffset: 5)
        let spec = Fixture.baseSpec
            .replacingOccurrences(of: "172.29.0.0/16", with: subnet)
            .replacingOccurrences(of: "172.29.0.10", with: gateway.description)
        #expect(try specMessage(spec) == nil)
    }

    @Test(arguments: [
        ("172.30.0.10", "is outside the subnet 172.29.0.0/16"),
        ("172.29.0.0", "is the network address"),
        ("172.29.0.1", "which Docker gives the bridge itself"),
        ("172.29.255.255", "is the broadcast address"),
        ("172.29.0.300", "is not an IPv4 address"),
    ])
    func badGatewayAddressesAreRefused(_ address: String, _ reason: String) throws {
        let message = try specMessage(Fixture.baseSpec.replacingOccurrences(of: "172.29.0.10", with: address))
        #expect(message?.contains("spec.yaml:10:17: 'gateway.ipv4_address' value '\(address)' ") == true, "\(message ?? "nil")")
        #expect(message?.contains(reason) == true, "\(message ?? "nil")")
    }

    @Test(arguments: [
        ("frostbyte-demo/postgres:1.0", "frostbyte-demo/postgres", "has no tag or digest"),
        ("frostbyte-demo/postgres:1.0", "Frostbyte/Postgres:1", "is not a valid image reference"),
        ("frostbyte-demo/gateway:1.0", "frostbyte-demo/postgres:1.0", "repeats 'frostbyte-demo/postgres:1.0' (first at line 13)"),
    ])
    func badImagesAreRefused(_ original: String, _ replacement: String, _ reason: String) throws {
        let message = try specMessage(Fixture.baseSpec.replacingOccurrences(of: original, with: replacement))
        #expect(message?.contains(reason) == true, "\(message ?? "nil")")
    }

    @Test func digestPinnedImagesAreAccepted() throws {
        let digest = "@sha256:" + String(repeating: "ab", count: 32)
        let reference = try #require(ImageReference("frostbyte-demo/postgres" + digest))
        #expect(reference.isPinned)
        #expect(ImageReference("postgres")?.isPinned == false)
        #expect(ImageReference("postgres:16")?.normalized == "docker.io/library/postgres:16")
        #expect(ImageReference("localhost:5000/a/b:1")?.host == "localhost:5000")
    }

    @Test(arguments: [
        ("name: demo", "name: Demo", "'name' value 'Demo' must match"),
        ("project: frostbyte-demo", "project: -x", "'project' value '-x' must match"),
        ("version: 1.0.0", "version: 1 0", "'version' value '1 0' must match"),
        ("port: 8080", "port: 80800", "'gateway.port' value '80800' must be between 1 and 65535"),
        ("  port: 8080\n", "", "missing required key 'gateway.port'"),
        ("version: 1.0.0\n", "", "missing required key 'version'"),
    ])
    func badNamesAndMissingKeysAreRefused(_ original: String, _ replacement: String, _ reason: String) throws {
        let message = try specMessage(Fixture.baseSpec.replacingOccurrences(of: original, with: replacement))
        #expect(message?.contains(reason) == true, "\(message ?? "nil")")
    }

    @Test func suggestionsUseEditDistance() {
        #expect(KeySuggestion.editDistance("kitten", "sitting") == 3)
        #expect(KeySuggestion.editDistance("ab", "ba") == 1)
        #expect(KeySuggestion.nearest(to: "verison", in: BundleSpec.topLevelKeys) == "version")
        #expect(KeySuggestion.nearest(to: "zzzzzz", in: BundleSpec.topLevelKeys) == nil)
    }

    @Test func gatewayFollowsASubnetOverride() throws {
        let fixture = try Fixture()
        defer { fixture.cleanup() }
        let spec = try fixture.spec()
        #expect(try spec.gatewayAddress(in: #require(IPv4Network("10.9.0.0/24"))) == IPv4Address("10.9.0.10"))
        #expect(throws: SpecError.self) { try spec.gatewayAddress(in: #require(IPv4Network("10.9.0.0/29"))) }
    }
}
