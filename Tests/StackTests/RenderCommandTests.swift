import Foundation
import TestSupport
import Testing
@testable import Stack

/// The real `render` command, run as a subprocess.
@Suite("render command")
struct RenderCommandTests {
    private func render(_ arguments: [String]) throws -> CommandOutput {
        try TestCommand.tool(["render"] + arguments)
    }

    @Test func printsTheHardenedComposeAndWarnsOnStderr() throws {
        let fixture = try Fixture()
        defer { fixture.cleanup() }
        let result = try render([fixture.specPath])
        #expect(result.status == 0)
        #expect(result.stdout == String(decoding: try fixture.render().composeYAML, as: UTF8.self))
        #expect(result.stderr.contains("warning: \(fixture.composePath):"))
        #expect(result.stderr.contains("service 'gateway': ports [8080:8080] removed"))
        #expect(!result.stdout.contains("warning"))
    }

    @Test func writesTheOutputFileAtomically() throws {
        let fixture = try Fixture()
        defer { fixture.cleanup() }
        let output = "\(fixture.folder)/docker-compose.yml"
        let result = try render([fixture.specPath, "-o", output])
        #expect(result.status == 0)
        #expect(result.stdout.isEmpty)
        #expect(try [UInt8](Data(contentsOf: URL(fileURLWithPath: output))) == fixture.render().composeYAML)
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: fixture.folder).filter { $0.contains(".tmp-") }
        #expect(leftovers.isEmpty)
    }

    @Test func jsonCarriesComposeAndWarnings() throws {
        let fixture = try Fixture()
        defer { fixture.cleanup() }
        let result = try render([fixture.specPath, "--json"])
        #expect(result.status == 0)
        let json = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        #expect(json["compose"] as? String == String(decoding: try fixture.render().composeYAML, as: UTF8.self))
        let warnings = try #require(json["warnings"] as? [[String: Any]])
        #expect(warnings.contains { ($0["service"] as? String) == "gateway" && ($0["message"] as? String)?.hasPrefix("ports") == true })
        #expect(json["project"] as? String == "frostbyte-demo")
        #expect(result.stderr.isEmpty)
    }

    @Test func refusalExitsTwoAndLeavesNoOutputFile() throws {
        let fixture = try Fixture(compose: Fixture.composeWithBadService("privileged: true"))
        defer { fixture.cleanup() }
        let output = "\(fixture.folder)/docker-compose.yml"
        let result = try render([fixture.specPath, "-o", output])
        #expect(result.status == 2)
        #expect(result.stderr.contains("compose.yaml:\(Fixture.badBodyLine):5: service 'bad': 'privileged: true' is refused"), "\(result.stderr)")
        #expect(!FileManager.default.fileExists(atPath: output))
        #expect(result.stdout.isEmpty)
    }

    @Test func specErrorExitsTwo() throws {
        let fixture = try Fixture(spec: Fixture.baseSpec.replacingOccurrences(of: "network:", with: "netwrok:"))
        defer { fixture.cleanup() }
        let result = try render([fixture.specPath])
        #expect(result.status == 2)
        #expect(result.stderr.contains("spec.yaml:5:1: unknown key 'netwrok' at the top level; did you mean 'network'?"), "\(result.stderr)")
    }
}
