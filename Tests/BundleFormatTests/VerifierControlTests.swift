import BundleFormat
import FrostbyteCrypto
import Foundation
import Testing
import TestSupport

/// The untouched bundle must pass in every form: these are the negative controls
/// of the tamper suite (a verifier that rejects everything would fail here).
@Suite("Verifier: good bundles pass")
struct VerifierControlTests {
    @Test("good .tar.zst verifies, with every image and file checked")
    func goodArchive() throws {
        let temp = try TemporaryFolder()
        defer { temp.remove() }
        let bundle = try FixtureBundle.standard(in: temp.path)
        let path = try bundle.write(to: temp.file("demo-1.0.0.tar.zst"))
        let report = try BundleVerifier.verify(path: path)
        #expect(report.problems == [])
        #expect(report.verified)
        let sums = try bundle.metadata().sums
        #expect(report.bundleId == SHA256Sums.bundleId(name: "demo", version: "1.0.0", sums: sums))
        #expect(report.rootFolder == "demo-1.0.0")
        #expect(report.filesChecked == bundle.payload.count)
        #expect(report.images.first?.actualDigest == bundle.imageDigest)
        #expect(report.images.first?.layout == "docker-legacy")
        #expect(report.signature.state == .unsigned)
        #expect(report.warnings.contains { $0.hasPrefix("unsigned") })
        #expect(report.sidecar == "absent")
    }

    @Test("good uncompressed .tar verifies")
    func goodPlainTar() throws {
        let temp = try TemporaryFolder()
        defer { temp.remove() }
        let bundle = try FixtureBundle.standard(in: temp.path)
        let report = try BundleVerifier.verify(path: try bundle.write(to: temp.file("b.tar"), zstd: false))
        #expect(report.problems == [])
    }

    @Test("good extracted folder verifies")
    func goodFolder() throws {
        let temp = try TemporaryFolder()
        defer { temp.remove() }
        let bundle = try FixtureBundle.standard(in: temp.path)
        let folder = try bundle.writeFolder(in: temp.path)
        let report = try BundleVerifier.verify(path: folder)
        #expect(report.problems == [])
        #expect(report.sourceKind == .directory)
        #expect(report.images.first?.actualDigest == bundle.imageDigest)
    }

    @Test("folder extracted by GNU tar from our archive verifies")
    func gnuTarExtraction() throws {
        let temp = try TemporaryFolder()
        defer { temp.remove() }
        let bundle = try FixtureBundle.standard(in: temp.path)
        let path = try bundle.write(to: temp.file("b.tar.zst"))
        let out = temp.file("x")
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        let tar = try TestCommand.run(["tar", "--zstd", "-xf", path, "-C", out])
        #expect(tar.status == 0, "\(tar.stderr)")
        let report = try BundleVerifier.verify(path: out + "/demo-1.0.0")
        #expect(report.problems == [])
    }

    @Test("OCI-layout image archive (Docker >= 25) verifies")
    func ociImage() throws {
        let temp = try TemporaryFolder()
        defer { temp.remove() }
        let bundle = try FixtureBundle.standard(in: temp.path, image: try FixtureImage.oci(in: temp.path))
        let report = try BundleVerifier.verify(path: try bundle.write(to: temp.file("b.tar.zst")))
        #expect(report.problems == [])
        #expect(report.images.first?.layout == "oci")
        #expect(report.images.first?.actualDigest == bundle.imageDigest)
    }

    @Test("signed bundle verifies against its key; matched key fingerprint is reported")
    func signedTrusted() throws {
        let temp = try TemporaryFolder()
        defer { temp.remove() }
        let key = try SigningKey.generate()
        let other = try TrustedKey(key: try SigningKey.generate().verifyingKey())
        let trusted = try TrustedKey(key: try key.verifyingKey())
        let bundle = try FixtureBundle.standard(in: temp.path, signingKey: key)
        let path = try bundle.write(to: temp.file("b.tar.zst"))
        let report = try BundleVerifier.verify(path: path, trust: [other, trusted])
        #expect(report.problems == [])
        #expect(report.signature.state == .trusted)
        #expect(report.signature.matchedKey == trusted.fingerprint.hex)
        let unchecked = try BundleVerifier.verify(path: path)
        #expect(unchecked.signature.state == .signedUnchecked)
        #expect(unchecked.warnings.contains { $0.hasPrefix("signed, key not checked") })
    }

    @Test("a correct .sha256 sidecar is checked and passes")
    func sidecarGood() throws {
        let temp = try TemporaryFolder()
        defer { temp.remove() }
        let path = try FixtureBundle.standard(in: temp.path).write(to: temp.file("demo-1.0.0.tar.zst"))
        let digest = try SHA256Hasher.hash(fileAt: path).digest
        try Data("\(digest.hex)  demo-1.0.0.tar.zst\n".utf8).write(to: URL(fileURLWithPath: path + ".sha256"))
        let report = try BundleVerifier.verify(path: path)
        #expect(report.problems == [])
        #expect(report.sidecar == "ok")
    }

    @Test("inspect reads the manifest facts without a full pass")
    func inspect() throws {
        let temp = try TemporaryFolder()
        defer { temp.remove() }
        let key = try SigningKey.generate()
        let trusted = try TrustedKey(key: try key.verifyingKey())
        let bundle = try FixtureBundle.standard(in: temp.path, signingKey: key)
        let path = try bundle.write(to: temp.file("b.tar.zst"))
        let facts = try BundleVerifier.inspect(path: path, trust: [trusted])
        #expect(facts.name == "demo")
        #expect(facts.signed)
        #expect(facts.signature.matchedKey == trusted.fingerprint.hex)
        #expect(facts.images.map(\.digest) == [bundle.imageDigest])
        #expect(facts.networks.first?.subnet == "172.29.0.0/16")
        #expect(facts.fileCount == bundle.payload.filter { $0.kind == .file }.count + 3)
        let folderFacts = try BundleVerifier.inspect(path: try bundle.writeFolder(in: temp.path))
        #expect(folderFacts.bundleId == facts.bundleId)
        #expect(folderFacts.signature.state == .signedUnchecked)
    }

    @Test("a valid non-ASCII UTF-8 name passes (pax path records, C locale)")
    func unicodeName() throws {
        let temp = try TemporaryFolder()
        defer { temp.remove() }
        var bundle = try FixtureBundle.standard(in: temp.path)
        bundle.payload.insert(.file("config/café-日本.json", Data("{}".utf8)), at: 2)
        let report = try BundleVerifier.verify(path: try bundle.write(to: temp.file("b.tar.zst")))
        #expect(report.problems == [])
        let folder = try BundleVerifier.verify(path: try bundle.writeFolder(in: temp.path))
        #expect(folder.problems == [])
    }
}
