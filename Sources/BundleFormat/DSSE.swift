import FrostbyteCore
import FrostbyteCrypto
import FoundationEssentials

/// A DSSE envelope (https://github.com/secure-systems-lab/dsse, protocol v1) signed with
/// Ed25519: `{"payload": base64, "payloadType": ..., "signatures": [{"keyid", "sig"}]}`.
///
/// Guarantees: the signature is the raw Ed25519 signature of the pre-authentication
/// encoding `PAE(payloadType, payload)` (never of the bare payload), so the type is
/// signed too; the envelope's bytes depend only on the payload and the key (Ed25519 is
/// deterministic; keys sorted, 2-space indentation, one trailing newline).
public enum DSSE {
    /// The payload type of an in-toto Statement.
    public static let inTotoPayloadType = "application/vnd.in-toto+json"

    public struct Signature: Codable, Sendable, Equatable {
        /// The key's fingerprint as the project names keys: `sha256:<hex>` of the DER SubjectPublicKeyInfo.
        public var keyid: String
        /// base64 of the 64-byte Ed25519 signature.
        public var sig: String
    }

    public struct Envelope: Codable, Sendable, Equatable {
        public var payload: String
        public var payloadType: String
        public var signatures: [Signature]
    }

    /// Why an envelope was refused; `message` is one sentence.
    public enum Failure: Error, Equatable, Sendable {
        case notAnEnvelope(String)
        case payloadType(String)
        case unsigned
        case untrusted(keyids: [String])

        public var message: String {
            switch self {
            case .notAnEnvelope(let detail): return "not a DSSE envelope (\(detail))"
            case .payloadType(let type): return "payloadType is '\(type)', not '\(DSSE.inTotoPayloadType)'"
            case .unsigned: return "the envelope carries no signature"
            case .untrusted(let keyids):
                return "no signature verifies against a --trust key (signed as \(keyids.joined(separator: ", ")))"
            }
        }
    }

    /// `"DSSEv1" SP LEN(type) SP type SP LEN(body) SP body`, lengths in ASCII decimal.
    public static func pae(type: String, body: Data) -> Data {
        var data = Data("DSSEv1 \(type.utf8.count) \(type) \(body.count) ".utf8)
        data.append(body)
        return data
    }

    /// The envelope of `payload` signed by `key`, as bytes.
    /// - Throws: `SigningError` (libcrypto failures), `EncodingError`.
    public static func sign(payload: Data, payloadType: String = inTotoPayloadType, key: SigningKey) throws -> Data {
        let signature = try key.sign(pae(type: payloadType, body: payload))
        let keyid = try key.verifyingKey().fingerprint().prefixed
        let envelope = Envelope(payload: payload.base64EncodedString(), payloadType: payloadType,
                                signatures: [Signature(keyid: keyid, sig: signature.base64EncodedString())])
        return try DeterministicJSON.encode(envelope)
    }

    /// Parses `data` as an envelope of `payloadType` and returns its payload and the
    /// fingerprint of the trusted key one of its signatures verifies against (nil when
    /// `trust` is empty: the signature is then not checked).
    public static func open(_ data: Data, payloadType: String = inTotoPayloadType,
                            trust: [TrustedKey]) -> Result<(payload: Data, matchedKey: String?), Failure> {
        let envelope: Envelope
        do { envelope = try JSONDecoder().decode(Envelope.self, from: data) } catch {
            return .failure(.notAnEnvelope("not JSON with payload, payloadType and signatures"))
        }
        guard let payload = Data(base64Encoded: envelope.payload) else {
            return .failure(.notAnEnvelope("payload is not base64"))
        }
        guard envelope.payloadType == payloadType else { return .failure(.payloadType(envelope.payloadType)) }
        guard !envelope.signatures.isEmpty else { return .failure(.unsigned) }
        guard !trust.isEmpty else { return .success((payload, nil)) }
        let message = pae(type: envelope.payloadType, body: payload)
        for signature in envelope.signatures {
            guard let raw = Data(base64Encoded: signature.sig) else { continue }
            if let key = trust.first(where: { $0.key.isValidSignature(raw, for: message) }) {
                return .success((payload, key.fingerprint.prefixed))
            }
        }
        return .failure(.untrusted(keyids: envelope.signatures.map(\.keyid)))
    }
}
