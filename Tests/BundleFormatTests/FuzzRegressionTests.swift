import FrostbyteCore
import BundleFormat
import Foundation
import Testing

/// Inputs found while fuzzing (docs/FUZZING.md, scripts/fuzz), kept as they crashed:
/// each must now be refused with a clear error, never trap.
@Suite("Fuzz regressions: BundleFormat")
struct FuzzRegressionTests {
    /// The parts index of the `parts` target's finding: two parts of Int64.max bytes
    /// each, whose sum overflowed (an arithmetic-overflow trap in SplitPartsIndex.check).
    static let overflowingParts = Data("""
        {"schema":"frostbyte-bundle-parts/1","bundle":"demo-1.0.0.tar","bundle_id":"demo-1.0.0-1b1e7332cd4b",\
        "name":"demo","version":"1.0.0","part_size":9223372036854775807,"size":1,\
        "sha256":"445d88fe800642dfee2dd8a04bcac88718af48688f791e38a3c654de9d530c68","parts":[\
        {"file":"demo-1.0.0.tar.part001","index":1,"sha256":"445d88fe800642dfee2dd8a04bcac88718af48688f791e38a3c654de9d530c68","size":9223372036854775807},\
        {"file":"demo-1.0.0.tar.part002","index":2,"sha256":"445d88fe800642dfee2dd8a04bcac88718af48688f791e38a3c654de9d530c68","size":9223372036854775807}]}
        """.utf8)

    @Test("a parts index whose part sizes overflow Int64 is refused, naming the sum")
    func overflowingPartSizes() throws {
        let error = try #require(throws: SplitIndexError.self) {
            try SplitPartsIndex.decode(Self.overflowingParts, path: "demo-1.0.0.tar.parts.json")
        }
        #expect(error.message.contains("demo-1.0.0.tar.parts.json is not a usable parts index"))
        #expect(error.message.contains("add up to more than 9223372036854775807 bytes"))
        #expect(error.exitStatus == .badInput)
        // Negative control: the same index with sizes that add up decodes.
        let sane = String(decoding: Self.overflowingParts, as: UTF8.self)
            .replacingOccurrences(of: "9223372036854775807", with: "4096")
            .replacingOccurrences(of: "\"size\":1,", with: "\"size\":8192,")
        #expect(try SplitPartsIndex.decode(Data(sane.utf8), path: "x.parts.json").size == 8192)
    }

    /// The v2 bundle of the `verify` finding: a delta (MANIFEST.json names a base)
    /// whose two in_base files claim Int64.max bytes each. Totalling the in_base
    /// bytes overflowed: verify-bundle and inspect trapped instead of reporting.
    static func overflowingDelta(in temp: TemporaryFolder, size: Int64 = .max) throws -> String {
        try V2Fixture.standard().writeTampered(in: temp) { entries in
            try entries.map { entry in
                guard entry.pathString.hasSuffix("/MANIFEST.json") else { return entry }
                var manifest = try #require(try JSONSerialization.jsonObject(with: entry.data) as? [String: Any])
                manifest["base"] = ["bundle_id": "demo-0.9.0-000000000000", "name": "demo", "version": "0.9.0",
                                    "manifest_sha256": String(repeating: "0", count: 64)]
                var files = try #require(manifest["files"] as? [[String: Any]])
                var marked = 0
                for index in files.indices where marked < 2 && (files[index]["path"] as? String ?? "").hasPrefix("images/blobs/") {
                    files[index]["in_base"] = true
                    files[index]["size"] = NSNumber(value: size)
                    marked += 1
                }
                manifest["files"] = files
                var edited = entry
                edited.data = try JSONSerialization.data(withJSONObject: manifest, options: [.sortedKeys])
                return edited
            }
        }
    }

    @Test("a delta whose in_base sizes overflow is a failed check naming the size, not a trap")
    func overflowingDeltaSizes() throws {
        let temp = try TemporaryFolder()
        defer { temp.remove() }
        let path = try Self.overflowingDelta(in: temp)
        let report = try BundleVerifier.verify(path: path)
        #expect(!report.verified)
        let problem = try #require(report.problems.first { $0.check == .manifestInvalid })
        #expect(problem.message.contains("files["))
        #expect(problem.message.contains("9223372036854775807 bytes; a size must be 0 to 17592186044416 (16 TiB)"))

        let error = try #require(throws: ManifestError.self) { try BundleVerifier.inspect(path: path) }
        #expect(error.message.contains("a size must be 0 to 17592186044416"))

        // Negative control: the same edit with sizes in range is no size problem.
        let sane = try Self.overflowingDelta(in: temp, size: 1000)
        let saneReport = try BundleVerifier.verify(path: sane)
        #expect(!saneReport.problems.contains { $0.message.contains("a size must be") })
        #expect(try BundleVerifier.inspect(path: sane).base != nil)
    }

    @Test("MANIFEST.json sizes must lie in 0...16 TiB")
    func manifestSizeRange() throws {
        let temp = try TemporaryFolder()
        defer { temp.remove() }
        let written = try V2Fixture.standard().write(to: temp.file("demo-1.0.0.tar"), compression: .none)
        let good = try ManifestCoding.decodeManifest(written.manifestData)
        #expect(good == written.manifest)
        for (field, value) in [("blobs", Int64(-1)), ("files", Manifest.maximumSize + 1)] {
            var manifest = written.manifest
            if field == "blobs" { manifest.blobs![0].size = value } else { manifest.files[1].size = value }
            let error = try #require(throws: ManifestError.self) {
                try ManifestCoding.decodeManifest(try DeterministicJSON.encode(manifest))
            }
            #expect(error == .sizeOutOfRange(field: field == "blobs" ? "blobs[0].size" : "files[1].size", value: value))
        }
        var edge = written.manifest
        edge.files[1].size = Manifest.maximumSize
        #expect(try ManifestCoding.decodeManifest(try DeterministicJSON.encode(edge)).files[1].size == Manifest.maximumSize)
    }
}
