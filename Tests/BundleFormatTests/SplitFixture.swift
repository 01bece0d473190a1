import BundleFormat
import FrostbyteCrypto
import Foundation
import Testing

/// A split bundle written in-process by BundleWriter (the code behind `build
/// --split`) into its own folder: compose file, a legacy image, ~400 KiB of
/// incompressible noise, so 64 KiB parts make seven of them.
struct SplitFixture {
    static let partSize: Int64 = 64 << 10
    static let bundleName = "demo-1.0.0.tar.zst"

    let folder: String
    let written: BundleWriteResult
    var bundle: String { folder + "/" + Self.bundleName }
    var index: String { bundle + ".parts.json" }
    var signature: String { index + ".sig" }
    var indexModel: SplitPartsIndex { get throws { try SplitPartsSet(indexPath: index).index } }

    /// Part `number` (1-based).
    func part(_ number: Int) -> String { bundle + ".part" + String(format: "%03d", number) }

    /// Writes the set into `temp`/`sub`; `seed` changes the noise (another build),
    /// `key` signs MANIFEST.json and the index.
    init(in temp: TemporaryFolder, sub: String = "set", seed: UInt64 = 1, key: SigningKey?,
         partSize: Int64 = SplitFixture.partSize) throws {
        folder = temp.file(sub)
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let noise = Data(Self.noise(count: 400 << 10, seed: seed))
        let (entries, imageDigest) = try WriterFixture.entries(
            in: temp, extra: [BundleEntry(path: "models/noise.bin", source: .data(noise))])
        let manifest = try WriterFixture.draft(version: "1.0.0", entries: entries, imageDigest: imageDigest)
        let destination = try SplitPartsWriter(bundlePath: folder + "/" + Self.bundleName, partSize: partSize)
        written = try BundleWriter(mtime: 1_767_225_600, signingKey: key).write(
            manifest: manifest, entries: entries, to: destination)
    }

    /// The same bundle as one file (`build` without --split), in `temp`/`sub`.
    static func single(in temp: TemporaryFolder, sub: String, seed: UInt64 = 1, key: SigningKey?) throws -> String {
        let folder = temp.file(sub)
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let noise = Data(noise(count: 400 << 10, seed: seed))
        let (entries, imageDigest) = try WriterFixture.entries(
            in: temp, extra: [BundleEntry(path: "models/noise.bin", source: .data(noise))])
        let manifest = try WriterFixture.draft(version: "1.0.0", entries: entries, imageDigest: imageDigest)
        let path = folder + "/" + bundleName
        _ = try BundleWriter(mtime: 1_767_225_600, signingKey: key).write(manifest: manifest, entries: entries, to: path)
        return path
    }

    static func noise(count: Int, seed: UInt64) -> [UInt8] {
        var state = seed &* 0x9E37_79B9_7F4A_7C15
        return (0..<count).map { _ in
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return UInt8(truncatingIfNeeded: state >> 56)
        }
    }

    /// Names in the set's folder, sorted.
    func listing() -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []).sorted()
    }

    /// Replaces the index with `edit` applied to its JSON object (keys sorted, like the writer).
    func editIndex(_ edit: (inout [String: Any]) -> Void) throws {
        var object = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: index))) as? [String: Any])
        edit(&object)
        try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .prettyPrinted])
            .write(to: URL(fileURLWithPath: index))
    }

    static func bytes(_ path: String) throws -> Data { try Data(contentsOf: URL(fileURLWithPath: path)) }
    static func write(_ data: Data, _ path: String) throws { try data.write(to: URL(fileURLWithPath: path)) }
}
