import FrostbyteCore
import FrostbyteCrypto
import BundleFormat
import Foundation
import Testing

/// Random damage to a good bundle (fixed seeds, so failures reproduce): flipped
/// bytes anywhere in the compressed file, truncation at any point, garbage
/// overwrites. Whatever happens, the verifier must answer (a report or a typed
/// error), never crash, and never call the damaged bundle verified: with the
/// `.sha256` sidecar beside it, even damage to tar padding is caught.
@Suite("Tamper: random damage never crashes and never verifies")
struct TamperFuzzTests {
    @Test("random damage", arguments: Array(1...40))
    func randomDamage(seed: Int) throws {
        let temp = try TemporaryFolder()
        defer { temp.remove() }
        let path = try FixtureBundle.standard(in: temp.path).write(to: temp.file("demo-1.0.0.tar.zst"))
        let digest = try SHA256Hasher.hash(fileAt: path).digest
        try Data("\(digest.hex)  demo-1.0.0.tar.zst\n".utf8).write(to: URL(fileURLWithPath: path + ".sha256"))
        var data = try Data(contentsOf: URL(fileURLWithPath: path))
        var state = UInt64(seed) &* 0x9E37_79B9_7F4A_7C15
        func next(_ bound: Int) -> Int {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int((state >> 33) % UInt64(bound))
        }
        let original = data
        switch seed % 3 {
        case 0:
            data = data.prefix(max(1, next(data.count)))
        case 1:
            for _ in 0..<(1 + next(4)) { data[next(data.count)] ^= UInt8(1 + next(255)) }
        default:
            let start = next(data.count)
            for offset in start..<min(data.count, start + 1 + next(2000)) { data[offset] = UInt8(next(256)) }
        }
        guard data != original else { return }
        try data.write(to: URL(fileURLWithPath: path))
        do {
            let report = try BundleVerifier.verify(path: path)
            #expect(!report.verified, "seed \(seed): damaged bundle verified")
        } catch let error as UserFacingError {
            #expect(error.exitStatus == .badInput || error.exitStatus == .checkFailed, "seed \(seed): \(error)")
        }
    }
}
