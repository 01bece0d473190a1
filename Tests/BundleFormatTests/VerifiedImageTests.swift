import BundleFormat
import FrostbyteCrypto
import Foundation
import Testing

/// The verifier's early announcement of verified image archives (what `install`
/// starts `docker load` from while the rest of the bundle still streams).
@Suite("Extractor: image archives announced as soon as they are verified")
struct VerifiedImageTests {
    static let root = "demo-1.0.0"

    /// What the callback saw: the announcement and the SHA-256 of the file at its
    /// path at that moment.
    private struct Seen { var image: VerifiedImage; var fileDigest: SHA256Digest? }

    private func announced(signingKey: SigningKey? = nil, trust: [TrustedKey] = [],
                           transform: @escaping ([FixtureEntry]) throws -> [FixtureEntry] = { $0 })
        throws -> (seen: [Seen], report: VerificationReport) {
        let temp = try TemporaryFolder()
        defer { temp.remove() }
        let bundle = try FixtureBundle.standard(in: temp.path, signingKey: signingKey)
        let path = try bundle.write(to: temp.file("b.tar.zst"), transform: transform)
        var seen: [Seen] = []
        let report = try BundleVerifier.verify(archiveAt: path, trust: trust, extractTo: temp.file("staging")) { image in
            let data = FileManager.default.contents(atPath: image.path)
            seen.append(Seen(image: image, fileDigest: data.map { SHA256Hasher.hash($0) }))
        }
        return (seen, report)
    }

    @Test("a good bundle announces its image once, extracted in full, with the manifest it was checked against")
    func goodBundle() throws {
        let (seen, report) = try announced()
        #expect(report.verified)
        #expect(seen.count == 1)
        let first = try #require(seen.first)
        #expect(first.image.image.file == "images/app.tar")
        #expect(first.image.path.hasSuffix("/staging/images/app.tar"))
        #expect(first.fileDigest == first.image.image.sha256)
        #expect(first.image.manifestData == report.manifestData)
        #expect(first.image.signature == report.signature.state)
    }

    @Test("the signature state is the one the final report gives", arguments: [true, false])
    func signatureState(trusted: Bool) throws {
        let key = try SigningKey.generate()
        let other = try SigningKey.generate()
        let trust = [try TrustedKey(key: try (trusted ? key : other).verifyingKey())]
        let (seen, report) = try announced(signingKey: key, trust: trust)
        #expect(seen.first?.image.signature == (trusted ? .trusted : .untrusted))
        #expect(seen.first?.image.signature == report.signature.state)
    }

    @Test("nothing is announced when the image or an earlier file does not match the manifest", arguments: [
        "images/app.tar", "models/embed.bin",
    ])
    func damagedBundle(path: String) throws {
        let (seen, report) = try announced(transform: Tamper.flipByte(in: "\(Self.root)/\(path)", at: 2000))
        #expect(!report.verified)
        #expect(seen.isEmpty)
    }
}
