import Foundation
@testable import Stack
import TestSupport

/// A temporary folder holding a spec and a compose file; removed by `cleanup()`.
struct Fixture {
    let folder: String

    static let servicesBlock = """
        x-common: &common
          restart: unless-stopped
          environment:
            TZ: UTC
        services:
          postgres:
            <<: *common
            image: frostbyte-demo/postgres:1.0
            volumes:
              - pgdata:/var/lib/postgresql/data
            healthcheck:
              test: ["CMD-SHELL", "pg_isready -U frostbyte"]
              interval: 5s
          gateway:
            <<: *common
            image: frostbyte-demo/gateway:1.0
            ports:
              - "8080:8080"
            depends_on:
              postgres:
                condition: service_healthy
            networks: [backend]

        """

    static let baseCompose = servicesBlock + """
        networks:
          backend: {}
        volumes:
          pgdata:

        """

    static let baseSpec = """
        name: demo
        version: 1.0.0
        project: frostbyte-demo
        compose: compose.yaml
        network:
          name: demo-internal
          subnet: 172.29.0.0/16
        gateway:
          service: gateway
          ipv4_address: 172.29.0.10
          port: 8080
        images:
          - ref: frostbyte-demo/postgres:1.0
          - ref: frostbyte-demo/gateway:1.0

        """

    init(spec: String = Fixture.baseSpec, compose: String? = Fixture.baseCompose) throws {
        folder = FileManager.default.temporaryDirectory
            .appendingPathComponent("stacktests-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        try write("spec.yaml", spec)
        if let compose { try write("compose.yaml", compose) }
    }

    func write(_ name: String, _ text: String) throws {
        try Data(text.utf8).write(to: URL(fileURLWithPath: "\(folder)/\(name)"))
    }

    var specPath: String { "\(folder)/spec.yaml" }
    var composePath: String { "\(folder)/compose.yaml" }

    func spec() throws -> BundleSpec { try BundleSpec.load(path: specPath) }

    func render() throws -> RenderedStack { try ComposeHardener(spec: try spec()).render() }

    func cleanup() { try? FileManager.default.removeItem(atPath: folder) }

    /// The base services plus a service `bad` (image and then `body`, indented
    /// as service keys), then the volumes section.
    static func composeWithBadService(_ body: String) -> String {
        let indented = body.split(separator: "\n").map { "    \($0)" }.joined(separator: "\n")
        return servicesBlock + "  bad:\n    image: frostbyte-demo/postgres:1.0\n" + indented + "\nvolumes:\n  pgdata:\n"
    }

    /// 1-based line of the first `body` line in `composeWithBadService` output.
    static var badBodyLine: Int {
        servicesBlock.split(separator: "\n", omittingEmptySubsequences: false).count - 1 + 3
    }
}

/// Runs a program without the FROSTBYTE_* environment; its exit status and what it
/// printed (stdout, then stderr).
func run(_ arguments: [String], input: [UInt8]? = nil, in folder: String? = nil) throws -> (status: Int32, output: String) {
    let result = try TestCommand.run(arguments, removing: ["FROSTBYTE_*"], stdin: Data(input ?? []), in: folder)
    return (result.status, result.combined)
}
