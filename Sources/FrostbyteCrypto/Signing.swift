import FrostbyteCore
internal import CLibCrypto
import FoundationEssentials
import Glibc

/// Errors loading, creating or using Ed25519 keys.
public enum SigningError: UserFacingError, Equatable {
    case unreadableKey(path: String, reason: String)
    case notEd25519(path: String)
    case invalidPEM(path: String, expected: String, detail: String)
    case libcrypto(operation: String, detail: String)
    case cannotWrite(path: String, reason: String)

    public var message: String {
        switch self {
        case .unreadableKey(let path, let reason):
            return "cannot read key \(path): \(reason)"
        case .notEd25519(let path):
            return "key \(path) is not an Ed25519 key; create one with 'frostbyte-bundle keygen --out PREFIX' or 'openssl genpkey -algorithm ed25519'"
        case .invalidPEM(let path, let expected, let detail):
            return "key \(path) is not a PEM \(expected) (\(detail)); expected the output of 'frostbyte-bundle keygen' or 'openssl genpkey -algorithm ed25519'"
        case .libcrypto(let operation, let detail):
            return "libcrypto failed to \(operation): \(detail)"
        case .cannotWrite(let path, let reason):
            return "cannot write \(path): \(reason)"
        }
    }

    public var exitStatus: ExitStatus {
        switch self {
        case .libcrypto, .cannotWrite: return .environment
        default: return .badInput
        }
    }
}

/// Owns one `EVP_PKEY` and frees it exactly once.
///
/// `@unchecked Sendable`: the compiler cannot see into the C object behind the pointer.
/// The key is never changed after it is parsed, and libcrypto allows concurrent use of
/// one `EVP_PKEY` for signing and verifying (each operation makes its own context).
final class EVPKey: @unchecked Sendable {
    let underlying: OpaquePointer

    init(_ pointer: OpaquePointer) { underlying = pointer }
    deinit { EVP_PKEY_free(underlying) }

    /// True when the key is an Ed25519 key.
    var isEd25519: Bool { EVP_PKEY_get_id(underlying) == EVP_PKEY_ED25519 }
}

/// Formats the oldest queued libcrypto error (and clears the queue).
func libcryptoErrorText() -> String {
    let code = ERR_get_error()
    ERR_clear_error()
    guard code != 0 else { return "no detail from libcrypto" }
    var buffer = [CChar](repeating: 0, count: 256)
    ERR_error_string_n(code, &buffer, buffer.count)
    return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
}

/// Runs `body` with a read-only memory BIO over `data`.
private func withReadBIO<T>(_ data: Data, _ body: (OpaquePointer) -> T?) -> T? {
    data.withUnsafeBytes { raw -> T? in
        guard let bio = BIO_new_mem_buf(raw.baseAddress, Int32(raw.count)) else { return nil }
        defer { BIO_free(bio) }
        return body(bio)
    }
}

/// Runs `write` into a memory BIO and returns what it wrote.
private func collectBIO(_ operation: String, _ write: (OpaquePointer) -> Int32) throws -> Data {
    guard let bio = BIO_new(BIO_s_mem()) else {
        throw SigningError.libcrypto(operation: operation, detail: libcryptoErrorText())
    }
    defer { BIO_free(bio) }
    guard write(bio) == 1 else {
        throw SigningError.libcrypto(operation: operation, detail: libcryptoErrorText())
    }
    var pointer: UnsafeMutablePointer<CChar>?
    let length = fb_bio_mem_data(bio, &pointer)
    guard let pointer, length > 0 else { return Data() }
    return Data(bytes: pointer, count: length)
}

/// The whole file at `path` (a key: small); the system's reason when it cannot be read.
private func readFile(_ path: String) throws -> Data {
    let descriptor = open(path, O_RDONLY | O_CLOEXEC)
    guard descriptor >= 0 else {
        throw SigningError.unreadableKey(path: path, reason: String(cString: strerror(errno)))
    }
    defer { close(descriptor) }
    var data = Data()
    var chunk = [UInt8](repeating: 0, count: 64 << 10)
    while true {
        let count = try chunk.withUnsafeMutableBytes {
            try FileDescriptorIO.read(descriptor, into: $0) { SigningError.unreadableKey(path: path, reason: $0) }
        }
        if count == 0 { return data }
        data.append(contentsOf: chunk[..<count])
        guard data.count <= 1 << 20 else {
            throw SigningError.unreadableKey(path: path, reason: "larger than 1 MiB; not a key file")
        }
    }
}

/// Parses `pem` with the libcrypto PEM reader `read` and keeps the key only when it is Ed25519.
/// - Throws: `SigningError.invalidPEM` (not a PEM `expected`), `SigningError.notEd25519`.
private func readEd25519(_ pem: Data, origin: String, expected: String,
                         _ read: (OpaquePointer) -> OpaquePointer?) throws -> EVPKey {
    LibCryptoRuntime.prepare()
    guard let pointer = withReadBIO(pem, read) else {
        throw SigningError.invalidPEM(path: origin, expected: expected, detail: libcryptoErrorText())
    }
    let key = EVPKey(pointer)
    guard key.isEd25519 else { throw SigningError.notEd25519(path: origin) }
    return key
}

/// An Ed25519 public key (PEM SubjectPublicKeyInfo, as `openssl pkey -pubout` writes).
public struct VerifyingKey: Sendable {
    fileprivate let key: EVPKey

    /// Parses a PEM public key; `origin` names it in errors.
    public init(pem: Data, origin: String = "<memory>") throws {
        key = try readEd25519(pem, origin: origin, expected: "public key") { PEM_read_bio_PUBKEY($0, nil, nil, nil) }
    }

    /// Loads a PEM public key file.
    public init(contentsOf path: String) throws {
        try self.init(pem: try readFile(path), origin: path)
    }

    /// The key as PEM SubjectPublicKeyInfo.
    public func pem() throws -> Data {
        try collectBIO("write a public key") { PEM_write_bio_PUBKEY($0, key.underlying) }
    }

    /// SHA-256 of the DER SubjectPublicKeyInfo; the same as
    /// `openssl pkey -pubin -in KEY.pub -outform DER | sha256sum`.
    public func fingerprint() throws -> SHA256Digest {
        let der = try collectBIO("encode a public key") { i2d_PUBKEY_bio($0, key.underlying) }
        return SHA256Hasher.hash(der)
    }

    /// True only when `signature` is a valid Ed25519 signature of exactly `message`.
    public func isValidSignature(_ signature: Data, for message: Data) -> Bool {
        guard signature.count == 64, let context = EVP_MD_CTX_new() else { return false }
        defer { EVP_MD_CTX_free(context) }
        guard EVP_DigestVerifyInit(context, nil, nil, nil, key.underlying) == 1 else {
            ERR_clear_error()
            return false
        }
        let result = signature.withUnsafeBytes { sig in
            message.withUnsafeBytes { msg in
                EVP_DigestVerify(
                    context, sig.bindMemory(to: UInt8.self).baseAddress, sig.count,
                    msg.bindMemory(to: UInt8.self).baseAddress, msg.count)
            }
        }
        ERR_clear_error()
        return result == 1
    }
}

/// An Ed25519 private key (PEM PKCS#8, as `openssl genpkey -algorithm ed25519` writes).
public struct SigningKey: Sendable {
    fileprivate let key: EVPKey

    /// Parses a PEM PKCS#8 private key; `origin` names it in errors.
    public init(pem: Data, origin: String = "<memory>") throws {
        key = try readEd25519(pem, origin: origin, expected: "private key") { PEM_read_bio_PrivateKey($0, nil, nil, nil) }
    }

    /// Loads a PEM private key file.
    public init(contentsOf path: String) throws {
        try self.init(pem: try readFile(path), origin: path)
    }

    private init(key: EVPKey) { self.key = key }

    /// Creates a fresh random key pair.
    public static func generate() throws -> SigningKey {
        LibCryptoRuntime.prepare()
        guard let context = EVP_PKEY_CTX_new_id(EVP_PKEY_ED25519, nil) else {
            throw SigningError.libcrypto(operation: "create a key context", detail: libcryptoErrorText())
        }
        defer { EVP_PKEY_CTX_free(context) }
        var pointer: OpaquePointer?
        guard EVP_PKEY_keygen_init(context) == 1, EVP_PKEY_keygen(context, &pointer) == 1,
              let pointer else {
            throw SigningError.libcrypto(operation: "generate an Ed25519 key", detail: libcryptoErrorText())
        }
        return SigningKey(key: EVPKey(pointer))
    }

    /// The matching public key.
    public func verifyingKey() throws -> VerifyingKey {
        try VerifyingKey(pem: try publicPEM())
    }

    /// The private key as unencrypted PEM PKCS#8.
    public func privatePEM() throws -> Data {
        try collectBIO("write a private key") {
            PEM_write_bio_PrivateKey($0, key.underlying, nil, nil, 0, nil, nil)
        }
    }

    /// The public key as PEM SubjectPublicKeyInfo.
    public func publicPEM() throws -> Data {
        try collectBIO("write a public key") { PEM_write_bio_PUBKEY($0, key.underlying) }
    }

    /// The raw 64-byte Ed25519 signature of exactly `message` (no pre-hash), as
    /// `openssl pkeyutl -sign -rawin` makes.
    public func sign(_ message: Data) throws -> Data {
        guard let context = EVP_MD_CTX_new() else {
            throw SigningError.libcrypto(operation: "create a signing context", detail: libcryptoErrorText())
        }
        defer { EVP_MD_CTX_free(context) }
        guard EVP_DigestSignInit(context, nil, nil, nil, key.underlying) == 1 else {
            throw SigningError.libcrypto(operation: "start signing", detail: libcryptoErrorText())
        }
        var signature = [UInt8](repeating: 0, count: 64)
        var length = signature.count
        let result = message.withUnsafeBytes { msg in
            EVP_DigestSign(context, &signature, &length, msg.bindMemory(to: UInt8.self).baseAddress, msg.count)
        }
        guard result == 1, length == 64 else {
            throw SigningError.libcrypto(operation: "sign", detail: libcryptoErrorText())
        }
        return Data(signature)
    }
}
