import FrostbyteCore
import BundleFormat
import Foundation
import Stack
import TestSupport
import FrostbyteCrypto

/// A scratch folder with a minimal valid spec (`demo` 1.1.0, one image) and its
/// compose file, for the Builder unit tests; `remove()` deletes it.
struct BuilderFixture {
    let folder: String

    init() throws {
        folder = try TestRun.scratchFolder("fbbuilder")
        try write("compose.yaml", """
            services:
              app:
                image: frostbyte-demo/app:1.0

            """)
        try write("spec.yaml", """
            name: demo
            version: 1.1.0
            project: frostbyte-demo
            compose: compose.yaml
            network:
              name: demo-internal
              subnet: 172.29.0.0/16
            gateway:
              service: app
              ipv4_address: 172.29.0.10
              port: 8080
            images:
              - ref: frostbyte-demo/app:1.0

            """)
    }

    func remove() { try? FileManager.default.removeItem(atPath: folder) }

    /// Writes `text` to `<folder>/<name>` and returns the path.
    @discardableResult
    func write(_ name: String, _ text: String) throws -> String {
        let path = "\(folder)/\(name)"
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent,
                                                withIntermediateDirectories: true)
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        return path
    }

    func spec() throws -> BundleSpec { try BundleSpec.load(path: "\(folder)/spec.yaml") }

    /// Writes a base release's MANIFEST.json (`name` `version`, format v2, `files`)
    /// and returns its path.
    func baseManifest(name: String = "demo", version: String = "1.0.0", files: [Manifest.File]) throws -> String {
        let manifest = Manifest(
            name: name, version: version, bundleId: "\(name)-\(version)-0123456789ab", createdAt: "2026-01-01T00:00:00Z",
            builder: .init(name: "frostbyte-bundle", version: "test"),
            compose: .init(file: "docker-compose.yml", sha256: SHA256Hasher.hash(Data("x".utf8)), project: "demo",
                           networks: [.init(name: "demo-internal", subnet: "172.29.0.0/16", internal: true)]),
            images: [], files: files, format: Manifest.formatV2)
        let path = "\(folder)/base-\(version)/MANIFEST.json"
        try FileManager.default.createDirectory(atPath: "\(folder)/base-\(version)", withIntermediateDirectories: true)
        try DeterministicJSON.encode(manifest).write(to: URL(fileURLWithPath: path))
        return path
    }
}
