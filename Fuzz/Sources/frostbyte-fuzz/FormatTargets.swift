import FrostbyteCore
import BundleFormat
import FrostbyteArchive
import FoundationEssentials

/// JSON in: MANIFEST.json, SHA256SUMS, `.parts.json`, the OCI layout documents and
/// a nested `docker save` archive.
enum FormatTargets {
    static let manifest = FuzzTarget(
        name: "manifest", summary: "MANIFEST.json (ManifestCoding.decodeManifest, re-encoded) and SHA256SUMS",
        run: { bytes in
            let data = Data(bytes)
            _ = SHA256Sums.parse(data)
            guard let manifest = try? ManifestCoding.decodeManifest(data) else { return }
            // What was read must survive being written and read again unchanged.
            guard let encoded = try? DeterministicJSON.encode(manifest),
                  let again = try? ManifestCoding.decodeManifest(encoded) else {
                fatalError("a decoded manifest does not encode and decode again")
            }
            precondition(again == manifest, "a decoded manifest changes when encoded and decoded again")
        })

    static let parts = FuzzTarget(
        name: "parts", summary: ".parts.json of a split bundle (SplitPartsIndex.decode)",
        run: { bytes in
            _ = try? SplitPartsIndex.decode(Data(bytes), path: "fuzz.tar.zst.parts.json")
        })

    static let oci = FuzzTarget(
        name: "oci", summary: "OCI index.json, image manifest and image config (OCILayout.parse*)",
        run: { bytes in
            let data = Data(bytes)
            _ = OCILayout.parseIndex(data)
            _ = OCILayout.parseManifest(data)
            _ = OCILayout.parseDiffIDs(config: data)
            _ = OCILayout.digest(ofBlobPath: String(decoding: bytes, as: UTF8.self))
        })

    static let imageArchive = FuzzTarget(
        name: "image-archive", summary: "a docker save tar (legacy and OCI layout) through libarchive (ImageArchiveInspector)",
        run: { bytes in
            _ = ImageArchiveInspector.inspect(MemoryByteSource(bytes))
        })
}

/// The whole input as one block (a copy it owns), then the end.
final class MemoryByteSource: ArchiveByteSource {
    private let buffer: UnsafeMutableRawBufferPointer
    private var done = false

    init(_ bytes: [UInt8]) {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: max(bytes.count, 1), alignment: 16)
        bytes.withUnsafeBytes { buffer.copyMemory(from: $0) }
        self.buffer = buffer
        done = bytes.isEmpty
        count = bytes.count
    }

    private let count: Int

    deinit { buffer.deallocate() }

    func nextBlock() throws -> UnsafeRawBufferPointer {
        if done { return UnsafeRawBufferPointer(start: nil, count: 0) }
        done = true
        return UnsafeRawBufferPointer(rebasing: buffer[0..<count])
    }
}
