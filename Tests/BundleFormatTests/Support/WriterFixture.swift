import BundleFormat
import FrostbyteCrypto
import Foundation
import Testing

/// BundleWriter inputs (the code behind `build`) shared by the writer interop tests: a
/// compose file running demo/app:1.0, that image as a docker-save archive, whatever
/// entries a test adds, and the draft manifest that describes them.
enum WriterFixture {
    /// The compose file: one service `app` on image demo/app:1.0.
    static let compose = Data("services:\n  app:\n    image: demo/app:1.0\n".utf8)

    /// Writes a legacy image archive to `folder`/app.tar and returns the entries
    /// docker-compose.yml, images/app.tar and `extra`, hashed, with the image ID.
    static func entries(in folder: TemporaryFolder, extra: [BundleEntry] = []) throws
        -> (entries: [BundleEntry], imageDigest: String) {
        let image = try FixtureImage.legacy(in: folder.path)
        let imagePath = folder.file("app.tar")
        try image.archive.write(to: URL(fileURLWithPath: imagePath))
        let entries = [
            BundleEntry(path: "docker-compose.yml", source: .data(compose)),
            BundleEntry(path: "images/app.tar", source: .file(imagePath)),
        ] + extra
        return (try BundleWriter.hash(entries), image.digest)
    }

    /// The draft manifest (no bundle_id, no files: the writer fills them in) of bundle
    /// `demo` `version` holding `entries` from `entries(in:extra:)`.
    static func draft(version: String, entries: [BundleEntry], imageDigest: String,
                      scripts: [String] = []) throws -> Manifest {
        let imageEntry = try #require(entries.first { $0.path == "images/app.tar" })
        return Manifest(
            name: "demo", version: version, bundleId: "", createdAt: "2026-01-01T00:00:00Z",
            builder: .init(name: "frostbyte-bundle", version: "test"),
            compose: .init(file: "docker-compose.yml", sha256: SHA256Hasher.hash(compose), project: "demo",
                           networks: [.init(name: "demo-internal", subnet: "172.29.0.0/16", internal: true)]),
            images: [.init(name: "demo/app:1.0", file: "images/app.tar", sha256: try #require(imageEntry.digest),
                           digest: imageDigest, size: try #require(imageEntry.size))],
            scripts: scripts, files: [])
    }
}
