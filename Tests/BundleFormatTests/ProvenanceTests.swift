import BundleFormat
import FrostbyteCrypto
import Foundation
import Testing
import TestSupport

/// The provenance envelope (docs/FORMAT.md, "Provenance"): DSSE with PAE signing,
/// checked by our reader and by securesystemslib (scripts/verify-provenance), with
/// negative controls for a changed payload, another key and a changed signature.
@Suite("Provenance: DSSE envelopes of in-toto statements, checked here and by securesystemslib")
struct ProvenanceTests {
    static let files = [
        Manifest.File(path: "docker-compose.yml", sha256: SHA256Hasher.hash(Data("a".utf8)), size: 1, mode: "0644"),
        Manifest.File(path: "images", sha256: nil, size: 0, mode: "0755"),
        Manifest.File(path: BuildProvenance.path, sha256: SHA256Hasher.hash(Data("p".utf8)), size: 1, mode: "0644"),
        Manifest.File(path: "bin/frostbyte-bundle", sha256: SHA256Hasher.hash(Data("b".utf8)), size: 1, mode: "0755"),
    ]

    static func statement() throws -> Data {
        try BuildProvenance.statement(
            subject: BuildProvenance.subject(of: files),
            parameters: ["spec": "demo.yaml", "source_date_epoch": "1767225600", "format": Manifest.formatV2],
            dependencies: [.init(name: "spec", uri: "demo.yaml", sha256: String(repeating: "ab", count: 32))],
            builder: Manifest.Builder(name: "frostbyte-bundle", version: "9.9"), createdAt: "2026-01-01T00:00:00Z")
    }

    /// Writes the envelope's JSON with `change` applied to its dictionary.
    static func write(_ envelope: Data, to path: String, _ change: (inout [String: Any]) -> Void = { _ in }) throws {
        var object = try #require(try JSONSerialization.jsonObject(with: envelope) as? [String: Any])
        change(&object)
        try JSONSerialization.data(withJSONObject: object).write(to: URL(fileURLWithPath: path))
    }

    @Test("PAE is the DSSE v1 encoding (the specification's example)")
    func pae() {
        let encoded = DSSE.pae(type: "http://example.com/HelloWorld", body: Data("hello world".utf8))
        #expect(String(decoding: encoded, as: UTF8.self) == "DSSEv1 29 http://example.com/HelloWorld 11 hello world")
    }

    @Test("the statement: in-toto v1, SLSA v1, subject = every other file sorted, no folders; same inputs, same bytes")
    func statementShape() throws {
        let data = try Self.statement()
        #expect(try Self.statement() == data)
        let decoded = try JSONDecoder().decode(BuildProvenance.Statement.self, from: data)
        #expect(decoded.type == "https://in-toto.io/Statement/v1")
        #expect(decoded.predicateType == "https://slsa.dev/provenance/v1")
        #expect(decoded.subject.map(\.name) == ["bin/frostbyte-bundle", "docker-compose.yml"])
        #expect(decoded.predicate.runDetails.builder.version == ["frostbyte-bundle": "9.9"])
        #expect(decoded.predicate.runDetails.metadata.startedOn == "2026-01-01T00:00:00Z")
        let text = String(decoding: data, as: UTF8.self)
        #expect(text.hasSuffix("}\n") && text.contains("\"_type\" : \"https://in-toto.io/Statement/v1\""))
    }

    @Test("our reader: the envelope opens with the signer's key; another key, a changed payload or signature are refused")
    func ourReader() throws {
        let key = try SigningKey.generate()
        let trusted = try TrustedKey(key: key.verifyingKey())
        let other = try TrustedKey(key: SigningKey.generate().verifyingKey())
        let payload = try Self.statement()
        let envelope = try DSSE.sign(payload: payload, key: key)
        #expect(try DSSE.sign(payload: payload, key: key) == envelope, "Ed25519 and the JSON are deterministic")
        guard case .success(let opened) = DSSE.open(envelope, trust: [trusted]) else {
            Issue.record("the signer's key did not open the envelope")
            return
        }
        #expect(opened.payload == payload)
        #expect(opened.matchedKey == trusted.fingerprint.prefixed)
        let object = try #require(try JSONSerialization.jsonObject(with: envelope) as? [String: Any])
        let signatures = try #require(object["signatures"] as? [[String: String]])
        #expect(signatures.first?["keyid"] == trusted.fingerprint.prefixed, "keyid is the key's fingerprint")

        func reopen(_ change: (inout [String: Any]) -> Void) throws -> Result<(payload: Data, matchedKey: String?), DSSE.Failure> {
            var changed = object
            change(&changed)
            return DSSE.open(try JSONSerialization.data(withJSONObject: changed), trust: [trusted])
        }
        guard case .failure(.untrusted) = DSSE.open(envelope, trust: [other]) else {
            Issue.record("negative control: another key was accepted")
            return
        }
        var tampered = payload
        tampered[tampered.count - 3] ^= 0x01
        guard case .failure(.untrusted) = try reopen({ $0["payload"] = tampered.base64EncodedString() }) else {
            Issue.record("negative control: a changed payload was accepted")
            return
        }
        var signature = try #require(Data(base64Encoded: signatures[0]["sig"]!))
        signature[5] ^= 0x80
        guard case .failure(.untrusted) = try reopen({
            $0["signatures"] = [["keyid": signatures[0]["keyid"]!, "sig": signature.base64EncodedString()]]
        }) else {
            Issue.record("negative control: a changed signature was accepted")
            return
        }
        guard case .failure(.payloadType) = try reopen({ $0["payloadType"] = "application/json" }) else {
            Issue.record("negative control: another payload type was accepted (it is signed too)")
            return
        }
        guard case .failure(.unsigned) = try reopen({ $0["signatures"] = [[String: String]]() }) else {
            Issue.record("negative control: an envelope without signatures was accepted")
            return
        }
        guard case .failure(.notAnEnvelope) = DSSE.open(Data("{}".utf8), trust: [trusted]) else {
            Issue.record("negative control: {} was taken for an envelope")
            return
        }
    }

    @Test("securesystemslib verifies our envelope; it refuses a changed payload, another key and a changed signature")
    func securesystemslibVerifies() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let key = try SigningKey.generate()
        let other = try SigningKey.generate()
        try key.publicPEM().write(to: URL(fileURLWithPath: folder.file("k.pub")))
        try other.publicPEM().write(to: URL(fileURLWithPath: folder.file("other.pub")))
        let envelope = try DSSE.sign(payload: try Self.statement(), key: key)
        try envelope.write(to: URL(fileURLWithPath: folder.file("good.json")))
        let script = TestRun.repositoryRoot + "/scripts/verify-provenance"
        let good = try TestCommand.run([script, folder.file("k.pub"), folder.file("good.json")])
        #expect(good.status == 0, "securesystemslib refused our envelope (pip install securesystemslib cryptography): \(good.stdout)\(good.stderr)")
        #expect(good.stdout.contains("verified sha256:\(try key.verifyingKey().fingerprint().hex)"),
                "securesystemslib computed the same keyid: \(good.stdout)")
        #expect(good.stdout.contains("https://slsa.dev/provenance/v1 2 subjects"))

        let keyid = try key.verifyingKey().fingerprint().prefixed
        let wrongKey = try TestCommand.run([script, folder.file("other.pub"), folder.file("good.json"), "--keyid", keyid])
        #expect(wrongKey.status == 1 && wrongKey.stdout.contains("refused"), "negative control, another key: \(wrongKey.stdout)")

        var payload = try Self.statement()
        payload[payload.count - 3] ^= 0x01
        try Self.write(envelope, to: folder.file("payload.json")) { $0["payload"] = payload.base64EncodedString() }
        let changedPayload = try TestCommand.run([script, folder.file("k.pub"), folder.file("payload.json")])
        #expect(changedPayload.status == 1 && changedPayload.stdout.contains("refused"),
                "negative control, changed payload: \(changedPayload.stdout)")

        try Self.write(envelope, to: folder.file("sig.json")) { object in
            var signatures = object["signatures"] as! [[String: String]]
            var raw = Data(base64Encoded: signatures[0]["sig"]!)!
            raw[5] ^= 0x80
            signatures[0]["sig"] = raw.base64EncodedString()
            object["signatures"] = signatures
        }
        let changedSignature = try TestCommand.run([script, folder.file("k.pub"), folder.file("sig.json")])
        #expect(changedSignature.status == 1 && changedSignature.stdout.contains("refused"),
                "negative control, changed signature: \(changedSignature.stdout)")
    }
}
