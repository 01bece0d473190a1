import BundleFormat
@testable import Builder
import Foundation
import Stack
import TestSupport
import Testing
import FrostbyteCrypto

/// `build --base`: which base a delta may build on, and which of the new release's
/// entries it leaves out (the base has the same path with the same digest and size).
@Suite("Builder: delta base")
struct DeltaBaseTests {
    static let shared = Data("the same bytes in both releases\n".utf8)
    static let changed = Data("only in the new release\n".utf8)

    @Test("an entry the base has at the same path, digest and size is in_base; any difference keeps it in the archive")
    func marksOnlyIdenticalEntries() throws {
        let fixture = try BuilderFixture()
        defer { fixture.remove() }
        let sharedDigest = SHA256Hasher.hash(Self.shared)
        let base = try fixture.baseManifest(files: [
            .init(path: "config/same.txt", sha256: sharedDigest, size: Int64(Self.shared.count), mode: "0644"),
            .init(path: "config/changed.txt", sha256: sharedDigest, size: Int64(Self.shared.count), mode: "0644"),
            .init(path: "config/moved-from.txt", sha256: sharedDigest, size: Int64(Self.shared.count), mode: "0644"),
            .init(path: "config", sha256: nil, size: 0, mode: "0755"),
        ])
        let delta = try DeltaBase(path: base, spec: try fixture.spec(), format: Manifest.formatV2)
        let entries = try BundleWriter.hash([
            BundleEntry(path: "config/same.txt", source: .data(Self.shared)),
            BundleEntry(path: "config/changed.txt", source: .data(Self.changed)),
            BundleEntry(path: "config/moved-to.txt", source: .data(Self.shared)),
            BundleEntry(path: "config/new.txt", source: .data(Self.changed)),
        ])
        let marked = try DeltaBase(path: base, spec: try fixture.spec(), format: Manifest.formatV2).markingInBase(entries)
        #expect(marked.filter(\.inBase).map(\.path) == ["config/same.txt"])
        // Same digest claimed with another size: not the same file (negative control).
        var resized = entries[0]
        resized.size = (resized.size ?? 0) + 1
        #expect(delta.markingInBase([resized]).allSatisfy { !$0.inBase })
        // An entry not hashed yet is never left out.
        #expect(delta.markingInBase([BundleEntry(path: "config/same.txt", source: .data(Self.shared))]).allSatisfy { !$0.inBase })
        #expect(delta.record.name == "demo" && delta.record.version == "1.0.0")
        #expect(delta.record.bundleId == "demo-1.0.0-0123456789ab")
    }

    @Test("format v1, another bundle, the same version and a missing base are refused with exit status 2")
    func refusesUnusableBases() throws {
        let fixture = try BuilderFixture()
        defer { fixture.remove() }
        let spec = try fixture.spec()
        let good = try fixture.baseManifest(files: [])
        #expect(throws: DeltaBaseError.needsV2) { try DeltaBase(path: good, spec: spec, format: Manifest.formatV1) }
        let other = try fixture.baseManifest(name: "other", version: "0.9.0", files: [])
        #expect(throws: DeltaBaseError.otherBundle(path: other, base: "other", spec: "demo")) {
            try DeltaBase(path: other, spec: spec, format: Manifest.formatV2)
        }
        let same = try fixture.baseManifest(version: "1.1.0", files: [])
        #expect(throws: DeltaBaseError.sameVersion(path: same, version: "1.1.0")) {
            try DeltaBase(path: same, spec: spec, format: Manifest.formatV2)
        }
        let missing = "\(fixture.folder)/no-such-base.tar.zst"
        #expect(throws: BaseInputError.notFound(path: missing)) {
            try DeltaBase(path: missing, spec: spec, format: Manifest.formatV2)
        }
        for error in [DeltaBaseError.needsV2, .otherBundle(path: other, base: "other", spec: "demo"),
                      .sameVersion(path: same, version: "1.1.0")] {
            #expect(error.exitStatus == .badInput)
        }
        // Control: the same base, readable, of an earlier version of this bundle, is accepted.
        #expect(throws: Never.self) { try DeltaBase(path: good, spec: spec, format: Manifest.formatV2) }
    }
}
