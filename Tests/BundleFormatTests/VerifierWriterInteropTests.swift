import BundleFormat
import Foundation
import Testing

/// Bundles written by the project's own BundleWriter (the code behind `build`)
/// verify, and the standard tools agree: GNU tar extracts them, `sha256sum -c`
/// accepts SHA256SUMS, `openssl pkeyutl -verify` accepts the signature.
@Suite("Verifier: bundles from BundleWriter, checked with standard tools")
struct VerifierWriterInteropTests {
    @discardableResult
    private func run(_ arguments: [String], in folder: String? = nil) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = arguments
        if let folder { process.currentDirectoryURL = URL(fileURLWithPath: folder) }
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    @Test("a signed BundleWriter bundle verifies with --trust, openssl, sha256sum -c and as a folder")
    func signedWriterBundle() throws {
        let temp = try TemporaryFolder()
        defer { temp.remove() }
        let key = try SigningKey.generate()
        let image = try FixtureImage.legacy(in: temp.path)
        let imagePath = temp.file("app.tar")
        try image.archive.write(to: URL(fileURLWithPath: imagePath))
        let compose = Data("services:\n  app:\n    image: demo/app:1.0\n".utf8)
        var entries = [
            BundleEntry(path: "docker-compose.yml", source: .data(compose)),
            BundleEntry(path: "scripts/install.sh", source: .data(Data("#!/bin/sh\n".utf8)), mode: .executable),
            BundleEntry(path: "images/app.tar", source: .file(imagePath)),
        ]
        entries = try BundleWriter.hash(entries)
        let imageEntry = entries.first { $0.path == "images/app.tar" }!
        let manifest = Manifest(
            name: "demo", version: "2.0.0", bundleId: "", createdAt: "2026-01-01T00:00:00Z",
            builder: .init(name: "frostbyte-bundle", version: "test"),
            compose: .init(file: "docker-compose.yml", sha256: SHA256Hasher.hash(compose), project: "demo",
                           networks: [.init(name: "demo-internal", subnet: "172.29.0.0/16", internal: true)]),
            images: [.init(name: "demo/app:1.0", file: "images/app.tar", sha256: imageEntry.digest!,
                           digest: image.digest, size: imageEntry.size!)],
            scripts: ["scripts/install.sh"], files: [])
        let writer = BundleWriter(mtime: 1_767_225_600, signingKey: key)
        let bundle = temp.file("demo-2.0.0.tar.zst")
        let written = try writer.write(manifest: manifest, entries: entries, to: bundle)

        let trusted = try TrustedKey(key: try key.verifyingKey())
        let report = try BundleVerifier.verify(path: bundle, trust: [trusted])
        #expect(report.problems == [])
        #expect(report.signature.state == .trusted)
        #expect(report.sidecar == "ok")
        #expect(report.bundleId == written.manifest.bundleId)
        #expect(report.images.first?.actualDigest == image.digest)

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
