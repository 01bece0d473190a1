import BundleFormat
@testable import Builder
import Foundation
import FrostbyteCrypto
import TestSupport
import Testing

/// `verify-bundle --rederive-sbom`'s observer against what `build` does: a layer tar
/// made by GNU tar, scanned once as build scans it (`LayerScanCollector`) and once as
/// the verifier hands it over (`SBOMRederivation`), must give the same SBOM bytes;
/// a changed SBOM is refused with its first differing line.
@Suite("Builder: SBOMs written again from the layers")
struct SBOMRederivationTests {
    /// A layer with a Debian os-release and a dpkg status (GNU tar, a real writer).
    static func layer() throws -> Data {
        let folder = try TestRun.scratchFolder("fbrederive")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let root = folder + "/root"
        try FileManager.default.createDirectory(atPath: root + "/etc", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: root + "/var/lib/dpkg", withIntermediateDirectories: true)
        try Data("ID=debian\nVERSION_ID=\"12\"\n".utf8).write(to: URL(fileURLWithPath: root + "/etc/os-release"))
        try Data("Package: libssl3\nStatus: install ok installed\nArchitecture: amd64\nVersion: 3.0.17-1~deb12u2\n\n".utf8)
            .write(to: URL(fileURLWithPath: root + "/var/lib/dpkg/status"))
        try TestCommand.check(["tar", "--sort=name", "--mtime=@0", "--owner=0", "--group=0", "-C", root,
                               "-cf", folder + "/layer.tar", "etc", "var"])
        return try Data(contentsOf: URL(fileURLWithPath: folder + "/layer.tar"))
    }

    static func manifest(layer: Data, inBase: Bool = false) -> Manifest {
        let digest = SHA256Hasher.hash(layer).prefixed
        var image = Manifest.Image(name: "fbtest/app:1", digest: "sha256:" + String(repeating: "c", count: 64),
                                   manifestDigest: "sha256:" + String(repeating: "a", count: 64), layers: [digest])
        image.sbom = ImageSBOMs.path(image.name)
        return Manifest(name: "fbtest", version: "1", bundleId: "", createdAt: "2026-01-01T00:00:00Z",
                        builder: .init(name: "frostbyte-bundle", version: "9.9"), images: [image],
                        files: [Manifest.File(path: OCILayout.blobPath(digest), sha256: SHA256Hasher.hash(layer),
                                              size: Int64(layer.count), mode: "0644", inBase: inBase ? true : nil)],
                        format: Manifest.formatV2)
    }

    /// Feeds `bytes` as the file at `path` in 1000-byte chunks; false when not wanted.
    @discardableResult
    static func feed(_ observer: SBOMRederivation, _ path: String, _ bytes: Data) -> Bool {
        guard observer.entryBegins(path: path, size: Int64(bytes.count)) else { return false }
        bytes.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                let end = min(offset + 1000, raw.count)
                observer.entryData(UnsafeRawBufferPointer(rebasing: raw[offset..<end]))
                offset = end
            }
        }
        observer.entryEnds(path: path, digest: SHA256Hasher.hash(bytes).prefixed)
        return true
    }

    /// The SBOM `build` writes for the manifest's image from `layer`.
    static func built(_ manifest: Manifest, layer: Data) throws -> Data {
        let collector = LayerScanCollector()
        collector.entryBegins(path: "layer", size: Int64(layer.count))
        layer.withUnsafeBytes { collector.entryData($0) }
        collector.entryEnds(digest: SHA256Hasher.hash(layer).prefixed)
        return try ImageSBOMs.document(for: manifest.images[0], scans: collector.scans, timestamp: manifest.createdAt,
                                       builder: manifest.builder)
    }

    @Test("the SBOM build wrote is written again byte for byte; a changed one is refused with its first differing line")
    func rederives() throws {
        let layer = try Self.layer()
        let manifest = Self.manifest(layer: layer)
        let shipped = try Self.built(manifest, layer: layer)
        #expect(String(decoding: shipped, as: UTF8.self).contains("pkg:deb/debian/libssl3@3.0.17-1~deb12u2"))

        let good = SBOMRederivation()
        good.manifestAccepted(manifest)
        #expect(!Self.feed(good, "docker-compose.yml", Data("x".utf8)), "only layers and SBOMs are read")
        #expect(Self.feed(good, OCILayout.blobPath(manifest.images[0].layers![0]), layer))
        #expect(Self.feed(good, manifest.images[0].sbom!, shipped))
        let outcome = good.conclude()
        #expect(outcome.problems.isEmpty && outcome.identical == 1, "\(outcome.problems)")

        let changed = Data(String(decoding: shipped, as: UTF8.self).replacingOccurrences(of: "3.0.17-1~deb12u2", with: "3.0.18").utf8)
        let bad = SBOMRederivation()
        bad.manifestAccepted(manifest)
        Self.feed(bad, OCILayout.blobPath(manifest.images[0].layers![0]), layer)
        Self.feed(bad, manifest.images[0].sbom!, changed)
        let refused = bad.conclude()
        #expect(refused.identical == 0)
        let problem = try #require(refused.problems.first)
        #expect(problem.check == .sbomRederived && problem.path == manifest.images[0].sbom)
        #expect(problem.expected == SHA256Hasher.hash(shipped).prefixed && problem.actual == SHA256Hasher.hash(changed).prefixed)
        #expect(problem.message.contains("first difference at line") && problem.message.contains("3.0.18"), "\(problem.message)")

        // Negative control: without the layer's bytes (a delta's in_base layer) it cannot be rederived: a warning.
        let delta = Self.manifest(layer: layer, inBase: true)
        let partial = SBOMRederivation()
        partial.manifestAccepted(delta)
        Self.feed(partial, delta.images[0].sbom!, changed)
        let skipped = partial.conclude()
        #expect(skipped.problems.isEmpty && skipped.identical == 0)
        #expect(skipped.warnings.first?.contains("in the base bundle") == true)
    }

    @Test("the compose file's uri in the provenance is relative to the spec's folder: no machine path")
    func relativeURI() {
        #expect(BundleBuilder.relative("/a/b/compose/demo.yaml", from: "/a/b/manifests/demo.yaml") == "../compose/demo.yaml")
        #expect(BundleBuilder.relative("/a/b/manifests/c.yaml", from: "/a/b/manifests/demo.yaml") == "c.yaml")
        #expect(BundleBuilder.relative("/a/b/manifests/x/c.yaml", from: "/a/b/manifests/demo.yaml") == "x/c.yaml")
        #expect(BundleBuilder.relative("/c.yaml", from: "/a/b/demo.yaml") == "../../c.yaml")
    }
}
