import BundleFormat
import Foundation
import Testing
import TestSupport

/// Opt-in: writes a format v2 bundle with one large layer blob for measuring
/// `verify-bundle`'s peak memory (`/usr/bin/time -v frostbyte-bundle verify-bundle B`).
/// Set FROSTBYTE_V2_LARGE_BUNDLE to the folder to write `demo-1.0.0.tar.zst` into
/// (kept afterwards; remove it yourself) and optionally FROSTBYTE_V2_LARGE_MIB (1024).
@Suite("Verifier: a v2 bundle with a large layer (opt-in)")
struct V2LargeBundleTests {
    static let folder = ProcessInfo.processInfo.environment["FROSTBYTE_V2_LARGE_BUNDLE"]

    @Test("writes and verifies a v2 bundle whose layer is FROSTBYTE_V2_LARGE_MIB MiB",
          .enabled(if: folder != nil, "set FROSTBYTE_V2_LARGE_BUNDLE to a folder"))
    func largeLayer() throws {
        let folder = try #require(Self.folder)
        let mib = Int(ProcessInfo.processInfo.environment["FROSTBYTE_V2_LARGE_MIB"] ?? "") ?? 1024
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let layerPath = folder + "/layer.bin"
        let made = try TestCommand.run(["sh", "-c", "head -c \(mib)M /dev/urandom > '\(layerPath)'"])
        try #require(made.status == 0, "\(made.stderr)")
        defer { unlink(layerPath) }
        var fixture = try V2Fixture.standard()
        let big = try V2Blob(file: layerPath, mediaType: OCILayout.layerMediaType)
        let app = fixture.layout.images[0]
        fixture.layout.images[0] = try V2Image(name: app.name, fullReference: app.fullReference, tag: app.tag,
                                        layers: app.layers + [big])
        let path = folder + "/demo-1.0.0.tar.zst"
        try fixture.write(to: path)
        let report = try BundleVerifier.verify(path: path)
        #expect(report.problems == [])
        #expect(report.bytesHashed > Int64(mib) << 20)
    }
}
