import BundleFormat
import FrostbyteCrypto
import Foundation
import Testing

/// Input that is not a bundle is an error of class "bad input" (exit 2) with a
/// clear sentence, never a report and never a crash.
@Suite("Verifier: inputs that are not bundles")
struct VerifierInputTests {
    @Test("missing path")
    func missing() throws {
        #expect(throws: BundleInputError.notFound(path: "/nonexistent/b.tar.zst")) {
            try BundleVerifier.verify(path: "/nonexistent/b.tar.zst")
        }
    }

    @Test("empty file")
    func empty() throws {
        let temp = try TemporaryFolder()
        defer { temp.remove() }
        try #require(FileManager.default.createFile(atPath: temp.file("e.tar.zst"), contents: Data()))
        #expect(throws: BundleInputError.emptyFile(path: temp.file("e.tar.zst"))) {
            try BundleVerifier.verify(path: temp.file("e.tar.zst"))
        }
    }

    @Test("random bytes, a gzip tarball, a plain tarball, an empty folder", arguments: ["random", "gzip", "plain", "folder"])
    func notABundle(kind: String) throws {
        let temp = try TemporaryFolder()
        defer { temp.remove() }
        var path = temp.file("input")
        switch kind {
        case "random":
            try Tamper.bytes(100_000).write(to: URL(fileURLWithPath: path))
        case "gzip":
            try Data([0x1F, 0x8B, 0x08, 0x00]).write(to: URL(fileURLWithPath: path))
        case "plain":
            try FixtureTarWriter.write([.directory("docs/"), .file("docs/readme.txt", Data("hello".utf8))],
                                       to: path, zstd: true)
        default:
            path = temp.file("folder")
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: false)
        }
        do {
            _ = try BundleVerifier.verify(path: path)
            Issue.record("\(kind) was accepted")
        } catch let error as BundleInputError {
            guard case .notABundle(let named, _) = error else {
                Issue.record("unexpected \(error)")
                return
            }
            #expect(named == path)
            #expect(error.exitStatus == .badInput)
        }
    }

    @Test("a key that is not Ed25519 or not a key is refused with exit status 2")
    func badKeys() throws {
        let temp = try TemporaryFolder()
        defer { temp.remove() }
        try Data("not a key".utf8).write(to: URL(fileURLWithPath: temp.file("k.pub")))
        #expect(throws: SigningError.self) { _ = try TrustedKey(contentsOf: temp.file("k.pub")) }
        #expect(throws: SigningError.self) { _ = try TrustedKey(contentsOf: temp.file("missing.pub")) }
    }
}
