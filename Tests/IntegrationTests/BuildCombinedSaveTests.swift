import BundleFormat
import Foundation
import TestSupport
import Testing

/// Several images from a graphdriver engine leave it in one `docker save` (each shared
/// layer once, issue 25), in the engine's order, while the bundle keeps its own: per
/// image, in the spec's order, manifest, config, layers. The bytes must be those of
/// the same images taken from docker-archives, whatever the spec's order and with an
/// archive image between two engine images.
@Suite("build: one docker save of every engine image, bundle bytes unchanged", .serialized)
struct BuildCombinedSaveTests {
    /// The two-image fixture (gateway and worker share a base layer) plus an `extra`
    /// image that always comes from a docker-archive; `order` is the spec's image order.
    static func fixture(repository: String) throws -> BuildFixture {
        let fixture = try BuildV2Tests.twoImageFixture(repository: repository)
        // Layers above ImageBlobExtractor's 4 MiB in-memory limit, so they are staged on
        // disk, and, when two wait at once, one of them compressed.
        let bigBase = try fixture.layer("big-base", files: ["lib/libbig.so": Self.text(seed: 1, count: 6 << 20)])
        for name in ["gateway", "worker"] {
            let app = try fixture.layer("big-\(name)", files: ["srv/\(name).bin": Self.text(seed: name.count, count: 5 << 20)])
            try fixture.writeLayeredArchive("\(name).tar", reference: "\(repository)/\(name):1", layers: [bigBase, app])
        }
        let base = try fixture.layer("extra-base", files: ["lib/libextra.so": String(repeating: "extra runtime\n", count: 20_000)])
        let app = try fixture.layer("extra-app", files: ["srv/extra": "extra 1\n"])
        try fixture.writeLayeredArchive("extra.tar", reference: "\(repository)/extra:1", layers: [base, app])
        var compose = try String(contentsOfFile: fixture.folder + "/compose.yaml", encoding: .utf8)
        compose += "  extra:\n    image: \(repository)/extra:1\n    command: [\"/bin/busybox\", \"sleep\", \"3600\"]\n"
        try fixture.write("compose.yaml", compose)
        return fixture
    }

    /// `count` letters, partly random (so zstd has work to do), the same for a seed.
    static func text(seed: Int, count: Int) -> String {
        var state = UInt64(seed) &* 0x9E3779B97F4A7C15 | 1
        var bytes = [UInt8](repeating: 0, count: count)
        for index in bytes.indices {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            bytes[index] = index % 2 == 0 ? 97 + UInt8(truncatingIfNeeded: state >> 59) : 97 + UInt8(index % 7)
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// The spec's images in `order` (names among gateway, worker, extra); those in
    /// `fromEngine` without `archive:`.
    static func setImages(_ fixture: BuildFixture, repository: String, order: [String], fromEngine: Set<String>) throws {
        var spec = try String(contentsOfFile: fixture.spec, encoding: .utf8)
        let start = try #require(spec.range(of: "images:\n"))
        let end = try #require(spec.range(of: "models:\n"))
        let images = order.map { name in
            "  - ref: \(repository)/\(name):1" + (fromEngine.contains(name) ? "" : "\n    archive: \(name).tar")
        }
        spec.replaceSubrange(start.upperBound..<end.lowerBound, with: images.joined(separator: "\n") + "\n")
        try fixture.write("spec.yaml", spec)
    }

    @Test("engine images saved together give the bytes of the same images from archives, in any spec order",
          .requiresDockerAndTestImage)
    func sameBytesAsArchives() throws {
        let repository = "fbtest-combined-\(TestRun.id)"
        let fixture = try Self.fixture(repository: repository)
        defer { fixture.remove() }
        for name in ["gateway", "worker"] {
            try TestCommand.check(["docker", "load", "-q", "-i", fixture.folder + "/\(name).tar"])
        }
        defer { for name in ["gateway", "worker"] { _ = try? TestCommand.run(["docker", "rmi", "\(repository)/\(name):1"]) } }

        var bundles: [[String]: String] = [:]
        for order in [["gateway", "extra", "worker"], ["worker", "gateway", "extra"]] {
            try Self.setImages(fixture, repository: repository, order: order, fromEngine: [])
            let tag = order.joined(separator: "-")
            let fromArchives = try BuildV2Tests.build(fixture, name: "archives-\(tag).tar.zst")
            #expect(fromArchives.result.status == 0, "\(fromArchives.result.stderr)")
            try Self.setImages(fixture, repository: repository, order: order, fromEngine: ["gateway", "worker"])
            let bundle = fixture.out + "/engine-\(tag).tar.zst"
            let fromEngine = try TestCommand.tool(["build", fixture.spec, "-o", bundle])
            #expect(fromEngine.status == 0, "\(fromEngine.stderr)")
            // One save of both engine images (the progress line names them together).
            let both = order.filter { $0 != "extra" }.map { "\(repository)/\($0):1" }.joined(separator: " ")
            #expect(fromEngine.stderr.contains("saving \(both)"), "\(fromEngine.stderr)")
            #expect(FileManager.default.contentsEqual(atPath: fromArchives.bundle, andPath: bundle),
                    "order \(order): saved together and taken from archives give the same bytes")
            let manifest = try BundleHead.manifest(at: bundle).manifest
            #expect(manifest.images.map(\.name) == order.map { "\(repository)/\($0):1" })
            bundles[order] = bundle
        }
        // Control: the comparison tells orders apart (the same images in another order differ).
        let orders = Array(bundles.values)
        #expect(!FileManager.default.contentsEqual(atPath: orders[0], andPath: orders[1]))
    }
}
