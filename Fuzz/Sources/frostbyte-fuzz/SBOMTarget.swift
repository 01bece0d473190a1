@testable import SBOM

/// The SBOM layer scanner (layer tars come from the images a bundle carries) and
/// what reads its kept files: dpkg/apk/rpm databases, Python and npm metadata, Go
/// build info. Oracle: the scan does not depend on how the bytes are split into
/// chunks (whole, and 1/7/4093-byte chunks give the same scan).
enum SBOMTarget {
    static let layer = FuzzTarget(
        name: "sbom-layer", summary: "layer tars (LayerScanner, ImageCatalogue, CycloneDXWriter), chunking-independent",
        run: { bytes in
            let whole = scan(bytes, chunk: max(bytes.count, 1))
            for chunk in [1, 7, 4093] where chunk < bytes.count {
                precondition(scan(bytes, chunk: chunk) == whole, "the scan depends on the chunk size \(chunk)")
            }
            let catalogue = ImageCatalogue(layers: [("sha256:a", whole), ("sha256:b", whole)])
            _ = try? CycloneDXWriter.document(
                catalogue, image: .init(reference: "x/y:1", manifestDigest: "sha256:00", configDigest: "sha256:00"),
                timestamp: "2026-01-01T00:00:00Z", tool: ("frostbyte-fuzz", "0"))
            _ = RPMHeader.package(bytes)
            _ = GoBuildInfo.parse(bytes)
        })

    private static func scan(_ bytes: [UInt8], chunk: Int) -> LayerScan? {
        let scanner = LayerScanner()
        bytes.withUnsafeBytes { buffer in
            var offset = 0
            while offset < buffer.count {
                let end = min(offset + chunk, buffer.count)
                scanner.consume(UnsafeRawBufferPointer(rebasing: buffer[offset..<end]))
                offset = end
            }
        }
        return scanner.scan
    }
}
