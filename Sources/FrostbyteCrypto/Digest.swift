internal import CLibCrypto
import FoundationEssentials
import Glibc

/// A SHA-256 digest: exactly 32 bytes, printed as 64 lowercase hex digits.
public struct SHA256Digest: Hashable, Sendable, CustomStringConvertible, Codable {
    /// The 32 raw digest bytes.
    public let bytes: [UInt8]

    /// Wraps 32 raw bytes; returns nil for any other length.
    public init?(bytes: [UInt8]) {
        guard bytes.count == 32 else { return nil }
        self.bytes = bytes
    }

    /// `sha256:<hex>`, as OCI and Docker write digests.
    public var prefixed: String { "sha256:" + hex }

    /// Parses `sha256:<64 hex>` (an OCI / Docker digest); nil for anything else.
    public init?(prefixed digest: String) {
        guard digest.hasPrefix("sha256:") else { return nil }
        self.init(hex: String(digest.dropFirst("sha256:".count)))
    }

    /// Parses 64 hex digits (either case); returns nil for anything else.
    public init?(hex: String) {
        let utf8 = Array(hex.utf8)
        guard utf8.count == 64 else { return nil }
        var out = [UInt8]()
        out.reserveCapacity(32)
        var index = 0
        while index < 64 {
            guard let high = Self.nibble(utf8[index]), let low = Self.nibble(utf8[index + 1]) else {
                return nil
            }
            out.append(high << 4 | low)
            index += 2
        }
        self.bytes = out
    }

    /// 64 lowercase hex digits.
    public var hex: String {
        let digits = Array("0123456789abcdef".utf8)
        var out = [UInt8]()
        out.reserveCapacity(64)
        for byte in bytes {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    public var description: String { hex }

    public init(from decoder: Decoder) throws {
        let container = try decoder.singleValueContainer()
        let text = try container.decode(String.self)
        guard let digest = SHA256Digest(hex: text) else {
            throw DecodingError.dataCorruptedError(
                in: container, debugDescription: "expected 64 hex digits, found '\(text)'")
        }
        self = digest
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(hex)
    }

    private static func nibble(_ character: UInt8) -> UInt8? {
        switch character {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return character - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return character - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return character - UInt8(ascii: "A") + 10
        default: return nil
        }
    }
}

/// Streaming SHA-256 over libcrypto's EVP interface (uses the CPU's SHA extensions).
/// Owns its `EVP_MD_CTX`; feed any number of chunks, then `finalize()` once.
/// Not thread-safe: confine an instance to one task.
public final class SHA256Hasher {
    private var context: OpaquePointer?
    /// Bytes fed so far.
    public private(set) var byteCount: Int64 = 0

    /// Creates a hasher ready for `update`.
    public init() {
        LibCryptoRuntime.prepare()
        // EVP_MD_CTX_new/EVP_DigestInit_ex only fail on allocation failure.
        let context = EVP_MD_CTX_new()
        precondition(context != nil && EVP_DigestInit_ex(context, EVP_sha256(), nil) == 1,
                     "libcrypto could not initialise SHA-256")
        self.context = context
    }

    deinit { EVP_MD_CTX_free(context) }

    /// Adds `buffer` to the digest.
    public func update(_ buffer: UnsafeRawBufferPointer) {
        guard let base = buffer.baseAddress, buffer.count > 0 else { return }
        precondition(context != nil, "SHA256Hasher used after finalize()")
        EVP_DigestUpdate(context, base, buffer.count)
        byteCount += Int64(buffer.count)
    }

    /// Adds the bytes of `data` to the digest.
    public func update(_ data: some DataProtocol) {
        for region in data.regions {
            region.withUnsafeBytes { update($0) }
        }
    }

    /// Returns the digest of everything fed; the hasher cannot be used afterwards.
    public func finalize() -> SHA256Digest {
        precondition(context != nil, "SHA256Hasher finalized twice")
        var out = [UInt8](repeating: 0, count: 32)
        var length: UInt32 = 0
        EVP_DigestFinal_ex(context, &out, &length)
        EVP_MD_CTX_free(context)
        context = nil
        return SHA256Digest(bytes: out)!
    }

    /// The digest of `data` in one call.
    public static func hash(_ data: some DataProtocol) -> SHA256Digest {
        let hasher = SHA256Hasher()
        hasher.update(data)
        return hasher.finalize()
    }
}
