/// An IPv4 address as a 32-bit number; parses and prints dotted-quad form only.
public struct IPv4Address: Sendable, Hashable, Comparable, TextCodable {
    /// The address in host byte order.
    public var value: UInt32

    /// Creates an address from its 32-bit value.
    public init(_ value: UInt32) { self.value = value }

    /// Parses strict dotted-quad text (`172.29.0.10`): four decimal octets
    /// 0...255, no leading zeros, nothing else. Returns nil otherwise.
    public init?(_ text: String) {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        var value: UInt32 = 0
        for part in parts {
            guard !part.isEmpty, part.count <= 3, part.allSatisfy({ $0.isASCII && $0.isNumber }),
                  part == "0" || part.first != "0", let octet = UInt32(part), octet <= 255 else { return nil }
            value = value << 8 | octet
        }
        self.value = value
    }

    public var description: String {
        "\(value >> 24).\(value >> 16 & 0xff).\(value >> 8 & 0xff).\(value & 0xff)"
    }

    public static func < (a: IPv4Address, b: IPv4Address) -> Bool { a.value < b.value }

    public static let codingName = "an IPv4 address"
}

/// An IPv4 network in CIDR form (`172.29.0.0/16`) whose host bits are zero.
public struct IPv4Network: Sendable, Hashable, TextCodable {
    /// The network address (host bits zero).
    public let address: IPv4Address
    /// The prefix length, 0...32.
    public let prefixLength: Int

    /// Why a CIDR text was rejected; `IPv4Network.parse` reports it.
    public enum Problem: Error, Sendable, Equatable, CustomStringConvertible {
        case malformed
        case hostBitsSet(suggestion: String)

        public var description: String {
            switch self {
            case .malformed: return "is not an IPv4 CIDR like 172.29.0.0/16"
            case .hostBitsSet(let suggestion): return "has host bits set; the network is \(suggestion)"
            }
        }
    }

    /// Creates a network; `address` is masked to the prefix.
    public init(address: IPv4Address, prefixLength: Int) {
        precondition((0...32).contains(prefixLength))
        self.prefixLength = prefixLength
        self.address = IPv4Address(address.value & Self.mask(prefixLength))
    }

    /// Parses `a.b.c.d/n` strictly.
    public static func parse(_ text: String) -> Result<IPv4Network, Problem> {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let address = IPv4Address(String(parts[0])),
              parts[1].allSatisfy({ $0.isASCII && $0.isNumber }), parts[1].count <= 2,
              let length = Int(parts[1]), (0...32).contains(length) else { return .failure(.malformed) }
        let network = IPv4Network(address: address, prefixLength: length)
        guard network.address == address else { return .failure(.hostBitsSet(suggestion: network.description)) }
        return .success(network)
    }

    /// Parses `a.b.c.d/n`, or nil.
    public init?(_ text: String) {
        guard case .success(let network) = Self.parse(text) else { return nil }
        self = network
    }

    static func mask(_ length: Int) -> UInt32 {
        length == 0 ? 0 : UInt32.max << UInt32(32 - length)
    }

    /// The netmask as a number.
    public var mask: UInt32 { Self.mask(prefixLength) }
    /// Number of addresses in the network (2^(32-n)).
    public var size: UInt64 { UInt64(1) << UInt64(32 - prefixLength) }
    /// The last address of the network.
    public var broadcast: IPv4Address { IPv4Address(address.value | ~mask) }
    /// The first host address, which Docker gives the bridge (the default gateway).
    public var bridgeGateway: IPv4Address { IPv4Address(address.value &+ 1) }

    /// True when `ip` lies inside this network.
    public func contains(_ ip: IPv4Address) -> Bool { ip.value & mask == address.value }

    /// True when all of `other` lies inside this network.
    public func contains(_ other: IPv4Network) -> Bool {
        other.prefixLength >= prefixLength && contains(other.address)
    }

    /// True when the two networks share at least one address.
    public func overlaps(_ other: IPv4Network) -> Bool {
        contains(other.address) || other.contains(address)
    }

    /// The address at `offset` from the network address (offset < size).
    public func address(atOffset offset: UInt32) -> IPv4Address { IPv4Address(address.value &+ offset) }

    /// The private blocks of RFC 1918.
    public static let rfc1918: [IPv4Network] = [
        IPv4Network("10.0.0.0/8")!, IPv4Network("172.16.0.0/12")!, IPv4Network("192.168.0.0/16")!,
    ]

    /// The RFC 1918 block that wholly contains this network, or nil.
    public var privateBlock: IPv4Network? { Self.rfc1918.first { $0.contains(self) } }

    public var description: String { "\(address)/\(prefixLength)" }

    public static let codingName = "an IPv4 CIDR"
}

/// A value stored in JSON as its text form (`description`) and read back with its
/// failable text initializer; text that does not parse is a decoding error naming
/// what was expected.
public protocol TextCodable: Codable, CustomStringConvertible {
    /// What the text should be, for the error ("an IPv4 address").
    static var codingName: String { get }
    init?(_ text: String)
}

extension TextCodable {
    public init(from decoder: Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let value = Self(text) else {
            throw DecodingError.dataCorrupted(
                .init(codingPath: decoder.codingPath, debugDescription: "not \(Self.codingName): \(text)"))
        }
        self = value
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}
