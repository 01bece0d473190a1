import BundleFormat
import FrostbyteCrypto
import Foundation
import Testing
import TestSupport

/// Bundles written by the project's own BundleWriter (the code behind `build`)
/// verify, and the standard tools agree: GNU tar extracts them, `sha256sum -c`
/// accepts SHA256SUMS, `openssl pkeyutl -verify` accepts the signature.
@Suite("Verifier: bundles from BundleWriter, checked with standard tools")
struct VerifierWriterInteropTests {
    /// Runs a standard tool; its status and what it printed (stdout, then stderr).
    @discardableResult
    private func run(_ arguments: [String], in folder: String? = nil) throws -> (status: Int32, output: String) {
        let result = try TestCommand.run(arguments, in: folder)
        return (result.status, result.combined)
    }

    @Test("a signed BundleWriter bundle verifies with --trust, openssl, sha256sum -c and as a folder")
    func signedWriterBundle() throws {
        let temp = try TemporaryFolder()
        defer { temp.remove() }
        let key = try SigningKey.generate()
        let script = BundleEntry(path: "scripts/install.sh", source: .data(Data("#!/bin/sh\n".utf8)), mode: .executable)
        let (entries, imageDigest) = try WriterFixture.entries(in: temp, extra: [script])
        let manifest = try WriterFixture.draft(version: "2.0.0", entries: entries, imageDigest: imageDigest,
                                               scripts: ["scripts/install.sh"])
        let writer = BundleWriter(mtime: 1_767_225_600, signingKey: key)
        let bundle = temp.file("demo-2.0.0.tar.zst")
        let written = try writer.write(manifest: manifest, entries: entries, to: bundle)

        let trusted = try TrustedKey(key: try key.verifyingKey())
        let report = try BundleVerifier.verify(path: bundle, trust: [trusted])
        #expect(report.problems == [])
        #expect(report.signature.state == .trusted)
        #expect(report.sidecar == "ok")
        #expect(report.bundleId == written.manifest.bundleId)
        #expect(report.images.first?.actualDigest == imageDigest)

        // The standard tools agree.
        #expect(try run(["sha256sum", "-c", "demo-2.0.0.tar.zst.sha256"], in: temp.path).status == 0)
        #expect(try run(["tar", "--zstd", "-xf", bundle, "-C", temp.path]).status == 0)
        let folder = temp.file("demo-2.0.0")
        #expect(try run(["sha256sum", "-c", "--quiet", "SHA256SUMS"], in: folder).status == 0)
        try key.publicPEM().write(to: URL(fileURLWithPath: temp.file("key.pub")))
        let openssl = try run(["openssl", "pkeyutl", "-verify", "-pubin", "-inkey", temp.file("key.pub"), "-rawin",
                               "-in", folder + "/MANIFEST.json", "-sigfile", folder + "/MANIFEST.json.sig"])
        #expect(openssl.status == 0, "\(openssl.output)")
        let folderReport = try BundleVerifier.verify(path: folder, trust: [trusted])
        #expect(folderReport.problems == [])
        #expect(folderReport.signature.state == .trusted)

        // Negative control: the same bundle against another key fails.
        let stranger = try TrustedKey(key: try SigningKey.generate().verifyingKey())
        #expect(try BundleVerifier.verify(path: bundle, trust: [stranger]).failedChecks == [.signature])
    }
}
