import FoundationEssentials
import Glibc

/// Just enough of the DNS wire format (RFC 1035) to ask for one A record and read
/// the reply: response code and IPv4 answers, following name compression.
enum DNSMessage {
    /// A recursive query for the A record of `name` with transaction ID `id`.
    static func query(name: String, id: UInt16) -> [UInt8]? {
        var bytes: [UInt8] = [UInt8(id >> 8), UInt8(id & 0xFF), 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]
        let trimmed = name.hasSuffix(".") ? String(name.dropLast()) : name
        for label in trimmed.split(separator: ".", omittingEmptySubsequences: false) {
            let utf8 = Array(label.utf8)
            guard !utf8.isEmpty, utf8.count < 64 else { return nil }
            bytes.append(UInt8(utf8.count))
            bytes.append(contentsOf: utf8)
        }
        bytes.append(0)
        bytes.append(contentsOf: [0, 1, 0, 1])  // QTYPE A, QCLASS IN
        return bytes
    }

    /// Parses a reply to the query with transaction `id`: (rcode, IPv4 answers), or
    /// nil when it is not a well-formed response to that query.
    static func parseReply(_ bytes: [UInt8], id: UInt16) -> (rcode: Int, addresses: [String])? {
        guard bytes.count >= 12, UInt16(bytes[0]) << 8 | UInt16(bytes[1]) == id,
              bytes[2] & 0x80 != 0 else { return nil }
        let rcode = Int(bytes[3] & 0x0F)
        let questions = Int(bytes[4]) << 8 | Int(bytes[5])
        let answers = Int(bytes[6]) << 8 | Int(bytes[7])
        var offset = 12
        for _ in 0..<questions {
            guard let next = skipName(bytes, at: offset), next + 4 <= bytes.count else { return nil }
            offset = next + 4
        }
        var addresses: [String] = []
        for _ in 0..<answers {
            guard let next = skipName(bytes, at: offset), next + 10 <= bytes.count else { return nil }
            let type = Int(bytes[next]) << 8 | Int(bytes[next + 1])
            let length = Int(bytes[next + 8]) << 8 | Int(bytes[next + 9])
            let data = next + 10
            guard data + length <= bytes.count else { return nil }
            if type == 1 && length == 4 {
                addresses.append(bytes[data..<data + 4].map(String.init).joined(separator: "."))
            }
            offset = data + length
        }
        return (rcode, addresses)
    }

    /// The offset just past the (possibly compressed) name starting at `offset`.
    private static func skipName(_ bytes: [UInt8], at offset: Int) -> Int? {
        var position = offset
        while position < bytes.count {
            let length = Int(bytes[position])
            if length == 0 { return position + 1 }
            if length & 0xC0 == 0xC0 { return position + 2 <= bytes.count ? position + 2 : nil }
            position += 1 + length
        }
        return nil
    }

    /// The RFC 1035/2136 mnemonic of a response code.
    static func rcodeName(_ rcode: Int) -> String {
        switch rcode {
        case 0: return "NOERROR"
        case 1: return "FORMERR"
        case 2: return "SERVFAIL"
        case 3: return "NXDOMAIN"
        case 4: return "NOTIMP"
        case 5: return "REFUSED"
        default: return "RCODE\(rcode)"
        }
    }
}
