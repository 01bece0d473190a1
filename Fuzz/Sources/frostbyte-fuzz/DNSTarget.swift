@testable import Isolation

/// The DNS reply parser of the isolation probe (answers come from a resolver the
/// probe reaches, i.e. from the network under test). The first two bytes are the
/// transaction ID the reply is read against, so a mutated ID is also tried.
enum DNSTarget {
    static let dns = FuzzTarget(
        name: "dns", summary: "DNS replies (DNSMessage.parseReply), the isolation probe's parser",
        run: { bytes in
            _ = DNSMessage.parseReply(bytes, id: 0x1234)
            if bytes.count >= 2 { _ = DNSMessage.parseReply(bytes, id: UInt16(bytes[0]) << 8 | UInt16(bytes[1])) }
            if let result = DNSMessage.parseReply(bytes, id: 0x1234) {
                _ = DNSMessage.rcodeName(result.rcode)
            }
        })
}
