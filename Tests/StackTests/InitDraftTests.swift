import Foundation
import Testing
@testable import Stack

/// `SpecDrafter` with host facts given by the test: subnets, gateway, images,
/// profiles, and the spec keys `init` relies on (`written:`, `built_by:`,
/// `profiles:`, the default network name and gateway address).
@Suite("init: drafting a spec")
struct InitDraftTests {
    static func facts(taken: [String] = [], ids: [String: String] = [:], environment: [String: String] = [:]) -> InitHostFacts {
        InitHostFacts(environment: environment, takenSubnets: taken.map { .init(network: IPv4Network($0)!, owner: "test") },
                      engineReachable: true, imageID: { ids[$0] })
    }

    func draft(_ compose: String, env: String? = nil, facts: InitHostFacts = facts(), profiles: [String] = [],
               gateway: String? = nil) throws -> (SpecDraft, Fixture) {
        let fixture = try Fixture(spec: "", compose: compose)
        if let env { try fixture.write(".env", env) }
        let request = InitRequest(composePath: fixture.composePath, specPath: fixture.folder + "/bundle-spec.yaml",
                                  profiles: profiles, gateway: gateway)
        return (try SpecDrafter.draft(request, facts: facts), fixture)
    }

    @Test("the subnet overlaps no taken subnet; the default route does not count; the search is stable")
    func subnet() throws {
        let first = try #require(SubnetChoice.choose(prefixLength: 24, project: "shop", taken: []))
        #expect(first.privateBlock != nil && first.prefixLength == 24)
        #expect(SubnetChoice.choose(prefixLength: 24, project: "shop", taken: []) == first)
        let next = try #require(SubnetChoice.choose(prefixLength: 24, project: "shop", taken: [IPv4Network("0.0.0.0/0")!, first]))
        #expect(next != first && !next.overlaps(first))
        let outside10 = try #require(SubnetChoice.choose(prefixLength: 24, project: "shop", taken: [IPv4Network("10.0.0.0/8")!]))
        #expect(IPv4Network("172.16.0.0/12")!.contains(outside10) && !IPv4Network("172.31.255.0/24")!.overlaps(outside10))
        #expect(SubnetChoice.prefixLength(containers: 4) == 24 && SubnetChoice.prefixLength(containers: 300) == 22)
        let routes = HostRoutes.parse("""
            Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT
            eth0\t00000000\t010011AC\t0003\t0\t0\t0\t00000000\t0\t0\t0
            eth0\t000011AC\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0
            """)
        #expect(routes.map(\.network.description) == ["0.0.0.0/0", "172.17.0.0/16"])
    }

    @Test("a draft with no obstacles renders unedited; taken subnets and engine image IDs are used")
    func rendersUnedited() throws {
        let compose = """
            services:
              web:
                image: example/web:${TAG:-1.0}
                ports: ["8080:80"]
                healthcheck:
                  test: ["CMD", "wget", "-q", "http://localhost/ready"]
              db:
                image: postgres:16.4
            """
        let (draft, fixture) = try draft(compose, facts: Self.facts(ids: ["postgres:16.4": "sha256:abc"]))
        defer { fixture.cleanup() }
        #expect(draft.obstacles.isEmpty, "\(draft.obstacles)")
        #expect(draft.gateway?.service == "web" && draft.gateway?.port == 80 && draft.gateway?.healthPath == "/ready")
        #expect(draft.images.map(\.ref) == ["example/web:1.0", "postgres:16.4"] && draft.images[1].engineID == "sha256:abc")
        // The image the engine lacks gets a note at its own image: line (line 3), naming its service.
        let missing = draft.notes.filter { $0.message.contains("not in the local engine") }
        #expect(missing.map(\.service) == ["web"] && missing.first?.line == 3, "\(draft.notes)")
        try fixture.write("bundle-spec.yaml", draft.specText)
        let spec = try BundleSpec.load(path: fixture.folder + "/bundle-spec.yaml")
        #expect(spec.network.name == "\(draft.name)-internal" && spec.gateway.ipv4Address == draft.subnet.address(atOffset: 10))
        let rendered = String(decoding: try ComposeHardener(spec: spec).render().composeYAML, as: UTF8.self)
        #expect(rendered.contains("image: \"example/web:1.0\""))
        let (other, otherFixture) = try self.draft(compose, facts: Self.facts(taken: [draft.subnet.description]))
        defer { otherFixture.cleanup() }
        #expect(!other.subnet.overlaps(draft.subnet), "negative control: a taken subnet is skipped")
    }

    @Test("obstacles: an inactive dependency, no gateway, an untagged image with the engine's ID")
    func obstacles() throws {
        let compose = """
            services:
              app:
                image: example/app:1.0
                depends_on: [debug]
              debug:
                image: busybox
                profiles: [debug]
            """
        let (draft, fixture) = try draft(compose, facts: Self.facts(ids: ["busybox": "sha256:feed"]))
        defer { fixture.cleanup() }
        #expect(draft.obstacles.map(\.message).contains { $0.contains("depends_on 'debug' is refused") })
        #expect(draft.obstacles.map(\.message).contains { $0.hasPrefix("no service publishes a port") })
        let (withDebug, debugFixture) = try self.draft(compose, profiles: ["debug"], gateway: "app:8080")
        defer { debugFixture.cleanup() }
        #expect(withDebug.obstacles.count == 1 && withDebug.obstacles[0].message.contains("image 'busybox' has no tag"), "\(withDebug.obstacles)")
        let (engine, engineFixture) = try self.draft(compose, facts: Self.facts(ids: ["busybox": "sha256:feed"]), profiles: ["debug"], gateway: "app:8080")
        defer { engineFixture.cleanup() }
        #expect(engine.obstacles[0].message.contains("The local engine holds it as sha256:feed"))
    }

    @Test("COMPOSE_PROFILES and COMPOSE_PROJECT_NAME from .env count, as in Compose; --profile wins")
    func composeVariables() throws {
        let compose = """
            services:
              app:
                image: example/app:1.0
                ports: ["80:80"]
              tools:
                image: example/tools:1.0
                profiles: [ops]
            """
        let (fromEnv, fixture) = try draft(compose, env: "COMPOSE_PROFILES=ops\nCOMPOSE_PROJECT_NAME=My_Shop\n")
        defer { fixture.cleanup() }
        #expect(fromEnv.profiles == ["ops"] && fromEnv.images.count == 2 && fromEnv.project == "my_shop" && fromEnv.name == "my-shop")
        #expect(fromEnv.specText.contains("profiles: [ops]") && fromEnv.obstacles.isEmpty, "\(fromEnv.obstacles)")
        let (plain, plainFixture) = try draft(compose)
        defer { plainFixture.cleanup() }
        #expect(plain.profiles.isEmpty && plain.images.map(\.ref) == ["example/app:1.0"], "negative control: no profile, no tools")
        let (given, givenFixture) = try draft(compose, env: "COMPOSE_PROFILES=ops\n", profiles: ["other"])
        defer { givenFixture.cleanup() }
        #expect(given.profiles == ["other"] && given.images.count == 1)
    }

    @Test("spec keys: written needs a variable, built_by names a service, profiles, the defaults")
    func specKeys() throws {
        func load(_ extra: String, images: String = "  - ref: frostbyte-demo/gateway:1.0\n") throws -> BundleSpec {
            let text = InitRenderTests.spec(images: images, extra: extra)
            let fixture = try Fixture(spec: text)
            defer { fixture.cleanup() }
            return try fixture.spec()
        }
        let spec = try load("profiles: [debug, '*']")
        #expect(spec.network.name == "demo-internal" && spec.gateway.ipv4Address.description == "10.9.0.10" && spec.profiles == ["debug", "*"])
        #expect(throws: SpecError.self) { try load("", images: "  - ref: a/b:1.0\n    written: a/b:1.0\n") }
        #expect(try load("", images: "  - ref: a/b:1.0\n    written: a/b:${T}\n    built_by: web\n").images[0].builtBy == "web")
        #expect(throws: SpecError.self) { try load("profiles: [\"bad name\"]") }
    }
}
