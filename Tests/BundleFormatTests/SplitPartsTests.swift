import BundleFormat
import FrostbyteCrypto
import FrostbyteArchive
import Foundation
import Testing
import TestSupport

/// `build --split` in-process: the parts joined are the bundle byte for byte, the
/// index and its signature check with the standard tools, verification and
/// extraction stream across the parts, and the writer leaves nothing on failure.
@Suite("Split media: writer, index, interop")
struct SplitPartsTests {
    @Test("the untouched set verifies across its parts; cat part[0-9]* is the single-file bundle byte for byte")
    func untouchedSetAndCatInterop() throws {
        let temp = try TemporaryFolder()
        defer { temp.remove() }
        let key = try SigningKey.generate()
        let set = try SplitFixture(in: temp, key: key)
        let index = try set.indexModel

        #expect(set.listing() == (1...7).map { URL(fileURLWithPath: set.part($0)).lastPathComponent }
            + ["demo-1.0.0.tar.zst.parts.json", "demo-1.0.0.tar.zst.parts.json.sig"])
        #expect(index.parts.count == 7)
        #expect(index.parts.dropLast().allSatisfy { $0.size == SplitFixture.partSize })
        #expect(index.schema == "frostbyte-bundle-parts/1")
        #expect(index.bundle == "demo-1.0.0.tar.zst" && index.name == "demo" && index.version == "1.0.0")
        #expect(index.bundleId == set.written.manifest.bundleId)
        #expect(index.sha256 == set.written.sha256 && index.size == set.written.size)
        #expect(set.written.sidecarPath == set.index)

        let trusted = try TrustedKey(key: try key.verifyingKey())
        let report = try BundleVerifier.verify(path: set.index, trust: [trusted])
        #expect(report.problems == [])
        #expect(report.signature.state == .trusted)
        #expect(report.parts?.count == 7)
        #expect(report.parts?.signature.state == .trusted)
        #expect(report.bundleId == index.bundleId)

        // Interop: the shell joins the parts into the very bundle a single-file build writes.
        let single = try SplitFixture.single(in: temp, sub: "single", key: key)
        let joined = temp.file("joined.tar.zst")
        #expect(try TestCommand.run(["sh", "-c", "cat demo-1.0.0.tar.zst.part[0-9]* > '\(joined)'"], in: set.folder).status == 0)
        #expect(try SplitFixture.bytes(joined) == (try SplitFixture.bytes(single)))
        let sum = try TestCommand.run(["sha256sum", joined]).stdout
        #expect(sum.hasPrefix(index.sha256.hex + " "))
        #expect(try BundleVerifier.verify(path: joined, trust: [trusted]).problems == [])
        // Each part checks with sha256sum against the index, the index signature with openssl.
        let lines = index.parts.map { "\($0.sha256.hex)  \($0.file)\n" }.joined()
        try SplitFixture.write(Data(lines.utf8), temp.file("parts.sha256"))
        #expect(try TestCommand.run(["sha256sum", "--strict", "-c", temp.file("parts.sha256")], in: set.folder).status == 0)
        try key.publicPEM().write(to: URL(fileURLWithPath: temp.file("key.pub")))
        let openssl = try TestCommand.run(["openssl", "pkeyutl", "-verify", "-pubin", "-inkey", temp.file("key.pub"),
                                           "-rawin", "-in", set.index, "-sigfile", set.signature])
        #expect(openssl.status == 0, "\(openssl.stderr)")

        // inspect reads the head of part 1 only and reports the index.
        let facts = try BundleVerifier.inspect(path: set.index, trust: [trusted])
        #expect(facts.bundleId == index.bundleId)
        #expect(facts.parts?.count == 7 && facts.parts?.signature.state == .trusted)
        // So does the head reader behind --base.
        #expect(try BundleHead.manifest(at: set.index).bytes == set.written.manifestData)
    }

    @Test("extracting across the parts writes the bundle; a damaged part leaves no staging folder")
    func extractionAcrossParts() throws {
        let temp = try TemporaryFolder()
        defer { temp.remove() }
        let set = try SplitFixture(in: temp, key: nil)
        let staging = temp.file("staging")
        let report = try BundleVerifier.verify(archiveAt: set.index, extractTo: staging)
        #expect(report.problems == [])
        let noise = try SplitFixture.bytes(staging + "/models/noise.bin")
        #expect(noise == Data(SplitFixture.noise(count: 400 << 10, seed: 1)))

        // Negative control: one flipped byte in part 5; nothing stays staged.
        var part = try SplitFixture.bytes(set.part(5))
        part[1000] ^= 0x20
        try SplitFixture.write(part, set.part(5))
        let again = temp.file("staging-2")
        let bad = try BundleVerifier.verify(archiveAt: set.index, extractTo: again)
        #expect(bad.problems.contains { $0.check == .part && $0.part == 5 })
        #expect(!FileManager.default.fileExists(atPath: again))
    }

    @Test("a failed split build leaves no part, index or signature; a rebuild removes stale extra parts")
    func writerAtomicity() throws {
        let temp = try TemporaryFolder()
        defer { temp.remove() }
        let out = temp.file("out")
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        let source = temp.file("model.bin"), later = temp.file("later.bin")
        try Data(SplitFixture.noise(count: 300 << 10, seed: 3)).write(to: URL(fileURLWithPath: source))
        try Data(SplitFixture.noise(count: 2_500 << 10, seed: 5)).write(to: URL(fileURLWithPath: temp.file("big.bin")))
        try Data(count: 100 << 10).write(to: URL(fileURLWithPath: later))
        let manifest = Manifest(name: "demo", version: "1.0.0", bundleId: "", createdAt: "2026-01-01T00:00:00Z",
                                builder: .init(name: "frostbyte-bundle", version: "test"), files: [])
        let failing = try BundleWriter.hash([BundleEntry(path: "models/a.bin", source: .file(temp.file("big.bin"))),
                                             BundleEntry(path: "models/b.bin", source: .file(later))])
        // models/b.bin changes after hashing: the writer refuses it after models/a.bin
        // (2.5 MiB, uncompressed) has filled several 256 KiB parts.
        try Data(count: 50 << 10).write(to: URL(fileURLWithPath: later))
        let writer = BundleWriter(compression: .none, mtime: 0, signingKey: try SigningKey.generate())
        #expect(throws: ArchiveWriteError.self) {
            try writer.write(manifest: manifest, entries: failing,
                             to: try SplitPartsWriter(bundlePath: out + "/demo.tar.zst", partSize: 256 << 10))
        }
        #expect(((try? FileManager.default.contentsOfDirectory(atPath: out)) ?? []) == [])

        // A longer set, then a shorter one under the same name: no stale part or signature stays.
        try Data(SplitFixture.noise(count: 300 << 10, seed: 3)).write(to: URL(fileURLWithPath: source))
        let long = try BundleWriter.hash([BundleEntry(path: "models/model.bin", source: .file(source))])
        _ = try writer.write(manifest: manifest, entries: long,
                             to: try SplitPartsWriter(bundlePath: out + "/demo.tar.zst", partSize: 64 << 10))
        let longCount = try SplitPartsSet(indexPath: out + "/demo.tar.zst.parts.json").index.parts.count
        try Data(SplitFixture.noise(count: 100 << 10, seed: 3)).write(to: URL(fileURLWithPath: source))
        let short = try BundleWriter.hash([BundleEntry(path: "models/model.bin", source: .file(source))])
        _ = try BundleWriter(mtime: 0).write(manifest: manifest, entries: short,
                                             to: try SplitPartsWriter(bundlePath: out + "/demo.tar.zst", partSize: 64 << 10))
        let shortCount = try SplitPartsSet(indexPath: out + "/demo.tar.zst.parts.json").index.parts.count
        #expect(longCount > shortCount)
        let names = try FileManager.default.contentsOfDirectory(atPath: out).sorted()
        #expect(names == (1...shortCount).map { String(format: "demo.tar.zst.part%03d", $0) } + ["demo.tar.zst.parts.json"])
        #expect(try BundleVerifier.verify(path: out + "/demo.tar.zst.parts.json").problems == [])
    }

    @Test("a single part given as a bundle fails and points at the index beside it")
    func partAlone() throws {
        let temp = try TemporaryFolder()
        defer { temp.remove() }
        let set = try SplitFixture(in: temp, key: nil)
        let first = try BundleVerifier.verify(path: set.part(1))
        #expect(!first.verified)
        #expect(first.warnings.contains { $0.contains("verify \(set.index)") })
        do {
            _ = try BundleVerifier.verify(path: set.part(2))
            Issue.record("part 2 alone was taken for a bundle")
        } catch let error as BundleInputError {
            #expect(error.message.contains("one part of a split bundle: verify \(set.index)"))
            #expect(error.exitStatus == .badInput)
        }
        // Control: no hint without an index beside the part.
        try FileManager.default.removeItem(atPath: set.index)
        #expect(try BundleVerifier.verify(path: set.part(1)).warnings.allSatisfy { !$0.contains("split bundle") })
    }

    @Test("part names sort in join order: three digits, more when the count needs them")
    func partNames() {
        #expect(SplitPartsIndex.partName(bundle: "b.tar.zst", index: 7, count: 12) == "b.tar.zst.part007")
        #expect(SplitPartsIndex.partName(bundle: "b.tar.zst", index: 7, count: 1000) == "b.tar.zst.part0007")
        let names = (1...1000).map { SplitPartsIndex.partName(bundle: "b", index: $0, count: 1000) }
        #expect(names.sorted() == names)
        #expect(SplitPartsIndex.isIndexPath("/x/b.tar.zst.parts.json") && !SplitPartsIndex.isIndexPath("/x/.parts.json"))
        #expect(!SplitPartsIndex.isIndexPath("/x/b.tar.zst"))
    }

    @Test("--split SIZE: bytes or K/M/G/T binary units, at least 1M; 0, garbage and small sizes refused")
    func sizes() throws {
        #expect(try SplitSize.parse("4G") == 4 << 30)
        #expect(try SplitSize.parse("4700M") == 4700 << 20)
        #expect(try SplitSize.parse("1m") == 1 << 20)
        #expect(try SplitSize.parse("1048576") == 1 << 20)
        #expect(try SplitSize.parse("2T") == 2 << 40)
        for bad in ["", "G", "abc", "4GB", "4 G", "-1", "1.5G", "0x10M", "99999999999999999999", "9999999999T"] {
            #expect(throws: SplitSizeError.notASize(bad)) { try SplitSize.parse(bad) }
        }
        for small in ["0", "512K", "1048575", "0G"] {
            #expect(throws: SplitSizeError.tooSmall(small)) { try SplitSize.parse(small) }
        }
        #expect(SplitSizeError.tooSmall("512K").exitStatus == .badInput)
    }
}
