import BundleFormat
import FrostbyteCrypto
import Foundation
import Testing

/// Hostile and careless part sets: each is refused, and named by the part it concerns
/// (check `part` with the part number and file), the index signature
/// (`parts-signature`) or the index itself (exit 2). The untouched set is the control
/// (SplitPartsTests).
@Suite("Split media: hostile part sets")
struct SplitHostileTests {
    /// A fresh signed set in its own scratch folder.
    private func fixture(_ body: (SplitFixture, TemporaryFolder, TrustedKey) throws -> Void) throws {
        let temp = try TemporaryFolder()
        defer { temp.remove() }
        let key = try SigningKey.generate()
        let set = try SplitFixture(in: temp, key: key)
        try body(set, temp, try TrustedKey(key: try key.verifyingKey()))
    }

    /// The part problems of a verification, as (part number, file).
    private func partProblems(_ report: VerificationReport) -> [(Int?, String?)] {
        report.problems.filter { $0.check == .part }.map { ($0.part, $0.path) }
    }

    private func file(_ number: Int) -> String { String(format: "demo-1.0.0.tar.zst.part%03d", number) }

    @Test("missing part: named before any byte is read")
    func missingPart() throws {
        try fixture { set, _, trust in
            try FileManager.default.removeItem(atPath: set.part(4))
            let report = try BundleVerifier.verify(path: set.index, trust: [trust])
            #expect(!report.verified)
            #expect(partProblems(report).map(\.0) == [4])
            #expect(report.problems.first?.actual == "absent")
            #expect(report.problems.first?.message.contains("part 4 (\(file(4))) is missing") == true)
            #expect(report.bytesHashed == 0, "nothing was read")
        }
    }

    @Test("truncated part: its size is named before any byte is read")
    func truncatedPart() throws {
        try fixture { set, _, trust in
            let data = try SplitFixture.bytes(set.part(2))
            try SplitFixture.write(data.dropLast(10), set.part(2))
            let report = try BundleVerifier.verify(path: set.index, trust: [trust])
            #expect(partProblems(report).map(\.0) == [2])
            #expect(report.problems.first?.message.contains("truncated") == true)
            #expect(report.bytesHashed == 0)
        }
    }

    @Test("oversized part: named before any byte is read")
    func oversizedPart() throws {
        try fixture { set, _, trust in
            var data = try SplitFixture.bytes(set.part(7))
            data.append(contentsOf: [1, 2, 3])
            try SplitFixture.write(data, set.part(7))
            let report = try BundleVerifier.verify(path: set.index, trust: [trust])
            #expect(partProblems(report).map(\.0) == [7])
            #expect(report.problems.first?.message.contains("larger than the index says") == true)
        }
    }

    @Test("swapped parts 3 and 4: part 3 is named as holding part 4's bytes, before part 4 is read")
    func swappedParts() throws {
        try fixture { set, _, trust in
            let three = try SplitFixture.bytes(set.part(3)), four = try SplitFixture.bytes(set.part(4))
            try SplitFixture.write(four, set.part(3))
            try SplitFixture.write(three, set.part(4))
            let report = try BundleVerifier.verify(path: set.index, trust: [trust])
            #expect(partProblems(report).map(\.0) == [3], "the stream stops at part 3: \(report.problems)")
            let problem = try #require(report.problems.first { $0.check == .part })
            #expect(problem.path == file(3))
            #expect(problem.message.contains("holds the bytes of part 4"))
            #expect(report.bytesHashed < 4 * SplitFixture.partSize * 8, "part 4 and later were never streamed")
        }
    }

    @Test("swapped parts 1 and 2: a part problem (exit 1), not 'not a bundle'")
    func swappedFirstParts() throws {
        try fixture { set, _, trust in
            let one = try SplitFixture.bytes(set.part(1)), two = try SplitFixture.bytes(set.part(2))
            try SplitFixture.write(two, set.part(1))
            try SplitFixture.write(one, set.part(2))
            let report = try BundleVerifier.verify(path: set.index, trust: [trust])
            #expect(partProblems(report).map(\.0) == [1])
            #expect(report.problems.contains { $0.message.contains("holds the bytes of part 2") })
        }
    }

    @Test("duplicated part: part 5 replaced by a copy of part 2")
    func duplicatedPart() throws {
        try fixture { set, _, trust in
            try SplitFixture.write(try SplitFixture.bytes(set.part(2)), set.part(5))
            let report = try BundleVerifier.verify(path: set.index, trust: [trust])
            #expect(partProblems(report).map(\.0) == [5])
            #expect(report.problems.contains { $0.part == 5 && $0.message.contains("holds the bytes of part 2") })
        }
    }

    @Test("foreign part: part 3 from another bundle of the same size")
    func foreignPart() throws {
        try fixture { set, temp, trust in
            let other = try SplitFixture(in: temp, sub: "other", seed: 2, key: nil)
            try SplitFixture.write(try SplitFixture.bytes(other.part(3)), set.part(3))
            let report = try BundleVerifier.verify(path: set.index, trust: [trust])
            #expect(partProblems(report).map(\.0) == [3])
            #expect(report.problems.contains { $0.part == 3 && $0.message.contains("a part of another bundle") })
        }
    }

    @Test("stale index: the index (and signature) of an earlier build over a new build's parts")
    func staleIndex() throws {
        try fixture { set, temp, trust in
            let newer = try SplitFixture(in: temp, sub: "newer", seed: 9, key: nil)
            for name in [set.index, set.signature] {
                let target = newer.folder + "/" + URL(fileURLWithPath: name).lastPathComponent
                try SplitFixture.write(try SplitFixture.bytes(name), target)
            }
            let report = try BundleVerifier.verify(path: newer.index, trust: [trust])
            #expect(report.parts?.signature.state == .trusted, "the old index is validly signed")
            // The sizes of a build's parts depend on its content, so the stale index is
            // caught by a part's size before any byte is read, or else by part 1's digest.
            #expect(!report.verified)
            #expect(!partProblems(report).isEmpty && partProblems(report).allSatisfy { $0.0 != nil && $0.1 != nil },
                    "\(report.problems)")
            let first = try #require(report.problems.first)
            #expect(first.check == .part)
            #expect(first.message.contains("the index says") || first.message.contains("an index from another build"))
        }
    }

    @Test("a flipped byte in part 6 is named at the end of part 6, before part 7 is read")
    func flippedByte() throws {
        try fixture { set, _, trust in
            var data = try SplitFixture.bytes(set.part(6))
            data[data.count / 2] ^= 0x01
            try SplitFixture.write(data, set.part(6))
            let report = try BundleVerifier.verify(path: set.index, trust: [trust])
            #expect(partProblems(report).map(\.0) == [6], "\(report.problems)")
            let problem = try #require(report.problems.first { $0.check == .part })
            #expect(problem.expected == (try set.indexModel.parts[5].sha256.hex))
            #expect(problem.actual == SHA256Hasher.hash(data).hex)
        }
    }

    @Test("extra part beyond the index: named, before any byte is read")
    func extraPart() throws {
        try fixture { set, _, trust in
            try SplitFixture.write(try SplitFixture.bytes(set.part(7)), set.part(8))
            let report = try BundleVerifier.verify(path: set.index, trust: [trust])
            #expect(partProblems(report).map(\.0) == [8])
            #expect(partProblems(report).map(\.1) == [file(8)])
            #expect(report.bytesHashed == 0)
            // Another bundle's parts in the same folder are not extra parts of this one.
            try FileManager.default.removeItem(atPath: set.part(8))
            try SplitFixture.write(Data([1]), set.folder + "/other-2.0.0.tar.zst.part008")
            #expect(try BundleVerifier.verify(path: set.index, trust: [trust]).problems == [])
        }
    }

    @Test("index signature absent, by another key, or over other bytes: refused with --trust only")
    func indexSignature() throws {
        try fixture { set, _, trust in
            // Control: signed by the trusted key.
            #expect(try BundleVerifier.verify(path: set.index, trust: [trust]).problems == [])
            // By another key.
            let stranger = try SigningKey.generate()
            try SplitFixture.write(try stranger.sign(try SplitFixture.bytes(set.index)), set.signature)
            var report = try BundleVerifier.verify(path: set.index, trust: [trust])
            #expect(report.problems.map(\.check) == [.partsSignature])
            #expect(report.parts?.signature.state == .untrusted)
            #expect(report.bytesHashed == 0, "refused before any part is read")
            // Absent.
            try FileManager.default.removeItem(atPath: set.signature)
            report = try BundleVerifier.verify(path: set.index, trust: [trust])
            #expect(report.problems.map(\.check) == [.partsSignature])
            #expect(report.problems.first?.actual == "absent")
            // Without --trust an unsigned index is only reported, and the set verifies.
            report = try BundleVerifier.verify(path: set.index)
            #expect(report.problems == [])
            #expect(report.parts?.signature.state == .unsigned)
        }
    }

    @Test("an edited index (sizes kept consistent) fails its signature")
    func editedSignedIndex() throws {
        try fixture { set, _, trust in
            try set.editIndex { $0["version"] = "9.9.9" }
            let report = try BundleVerifier.verify(path: set.index, trust: [trust])
            #expect(report.problems.map(\.check) == [.partsSignature])
            // Without --trust the parts verify but the index names another bundle.
            let unchecked = try BundleVerifier.verify(path: set.index)
            #expect(unchecked.problems.map(\.check) == [.partsIndex])
        }
    }

    @Test("malformed index: not JSON, other schema, missing field, inconsistent sizes: exit 2, nothing read")
    func malformedIndex() throws {
        try fixture { set, _, _ in
            let original = try SplitFixture.bytes(set.index)
            try SplitFixture.write(Data("{not json".utf8), set.index)
            #expect(throws: SplitIndexError.self) { try BundleVerifier.verify(path: set.index) }
            for edit: (inout [String: Any]) -> Void in [
                { $0["schema"] = "frostbyte-bundle-parts/2" },
                { $0.removeValue(forKey: "sha256") },
                { $0["size"] = ($0["size"] as! Int) + 1 },
                { $0["parts"] = [] },
                { var parts = $0["parts"] as! [[String: Any]]; parts.swapAt(0, 1); $0["parts"] = parts },
                { var parts = $0["parts"] as! [[String: Any]]; parts[2]["file"] = "other.tar.zst.part003"; $0["parts"] = parts },
            ] {
                try SplitFixture.write(original, set.index)
                try set.editIndex(edit)
                do {
                    _ = try BundleVerifier.verify(path: set.index)
                    Issue.record("a malformed index was accepted: \(String(decoding: try SplitFixture.bytes(set.index), as: UTF8.self))")
                } catch let error as SplitIndexError {
                    #expect(error.exitStatus == .badInput)
                }
            }
            try SplitFixture.write(original, set.index)
            #expect(try BundleVerifier.verify(path: set.index).problems == [], "control")
        }
    }

    @Test("a part name pointing outside the folder (../x, a/b, /etc/passwd) is refused, exit 2")
    func partOutsideFolder() throws {
        try fixture { set, temp, _ in
            // A file the hostile index points at, right next to the set's folder.
            try SplitFixture.write(try SplitFixture.bytes(set.part(2)), temp.file("x"))
            for name in ["../x", "a/b", "/etc/passwd", "..", ""] {
                try set.editIndex { object in
                    var parts = object["parts"] as! [[String: Any]]
                    parts[1]["file"] = name
                    object["parts"] = parts
                }
                #expect(throws: SplitIndexError.outsideFolder(path: set.index, part: 2, file: name)) {
                    try BundleVerifier.verify(path: set.index)
                }
            }
            #expect(SplitIndexError.outsideFolder(path: "i", part: 2, file: "../x").exitStatus == .badInput)
        }
    }

    @Test("inspect and the archive reader refuse a set with a missing part, naming it (exit 1)")
    func readerPreflight() throws {
        try fixture { set, _, _ in
            try FileManager.default.removeItem(atPath: set.part(6))
            do {
                _ = try BundleVerifier.inspect(path: set.index)
                Issue.record("inspect accepted a set without part 6")
            } catch let error as SplitPartFailure {
                #expect(error.problem.part == 6)
                #expect(error.exitStatus == .checkFailed)
            }
        }
    }
}
