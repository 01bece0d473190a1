import Testing
@testable import Stack

/// What `render` does with the spec keys `init` writes: `written:` resolves an
/// interpolated image, `built_by:` gives a build-only service its image,
/// `profiles:` picks the services; each with the refusal when it is missing.
@Suite("render: images written with variables, build-only services, profiles")
struct InitRenderTests {
    static let compose = """
        services:
          gateway:
            image: frostbyte-demo/gateway:${TAG:-1.0}
            ports: ["8080:8080"]
          web:
            build: ./web
            depends_on: [gateway]
          shell:
            image: busybox:1.36
            profiles: [debug]
        """

    static func spec(images: String, extra: String = "") -> String {
        """
        name: demo
        version: 1.0.0
        project: shop
        compose: compose.yaml
        network: {subnet: 10.9.0.0/24}
        gateway: {service: gateway, port: 8080}
        \(extra)
        images:
        \(images)
        """
    }

    static let images = """
          - ref: frostbyte-demo/gateway:1.0
            written: "frostbyte-demo/gateway:${TAG:-1.0}"
          - ref: shop-web:latest
            built_by: web
        """

    func render(_ spec: String) throws -> RenderedStack {
        let fixture = try Fixture(spec: spec, compose: Self.compose)
        defer { fixture.cleanup() }
        return try fixture.render()
    }

    @Test("the spec's resolution goes into the hardened file; services of inactive profiles are left out")
    func resolves() throws {
        let rendered = try render(Self.spec(images: Self.images))
        let tree = try YAMLNode.parse(rendered.composeYAML, file: "out.yaml")
        #expect(tree["services"]?["gateway"]?["image"]?.scalarValue == "frostbyte-demo/gateway:1.0")
        #expect(tree["services"]?["web"]?["image"]?.scalarValue == "shop-web:latest" && tree["services"]?["web"]?["build"] == nil)
        #expect(tree["services"]?["shell"] == nil && rendered.services == ["gateway", "web"])
        #expect(rendered.warnings.contains { $0.service == "shell" && $0.message.hasPrefix("left out") })
        let debug = try render(Self.spec(images: Self.images + "\n  - ref: busybox:1.36", extra: "profiles: [debug]"))
        let shell = try YAMLNode.parse(debug.composeYAML, file: "out.yaml")["services"]?["shell"]
        #expect(shell != nil && shell?["profiles"] == nil, "kept, and started without --profile")
    }

    @Test("negative controls: no written:, another written:, no built_by:, a dependency on a left-out service")
    func refusals() throws {
        let gateway = "  - ref: frostbyte-demo/gateway:1.0\n"
        let web = "  - ref: shop-web:latest\n    built_by: web\n"
        #expect(throws: ComposeError.self) { try render(Self.spec(images: gateway + web)) }
        #expect(throws: ComposeError.self) { try render(Self.spec(images: gateway + "    written: \"frostbyte-demo/gateway:${TAG}\"\n" + web)) }
        #expect(throws: ComposeError.self) { try render(Self.spec(images: Self.images.replacingOccurrences(of: "built_by: web", with: "built_by: other"))) }
        let dependent = Self.compose.replacingOccurrences(of: "depends_on: [gateway]", with: "depends_on: [shell]")
        let fixture = try Fixture(spec: Self.spec(images: Self.images), compose: dependent)
        defer { fixture.cleanup() }
        do {
            _ = try fixture.render()
            Issue.record("a dependency on a left-out service must be refused")
        } catch let error as ComposeError {
            #expect(error.message.contains("compose.yaml:7:18: service 'web': depends_on 'shell' is refused: 'shell' runs only with profile debug"), "\(error.message)")
        }
    }
}
