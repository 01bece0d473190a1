import FrostbyteCore

/// Picks the bundle's internal subnet: RFC 1918, large enough for every container
/// with room to grow, overlapping no subnet in use here (engine networks, host
/// routes; the default route does not count) nor the installer's ingress block.
/// The search starts at a place derived from the project name, so two stacks
/// drafted on one machine rarely get the same subnet, and is deterministic.
enum SubnetChoice {
    /// The smallest prefix (at most /24) whose subnet holds `containers` plus the
    /// network, bridge and broadcast addresses twice over.
    static func prefixLength(containers: Int) -> Int {
        var length = 24
        while length > 16, UInt64(1) << UInt64(32 - length) < UInt64(2 * (containers + 3)) { length -= 1 }
        return length
    }

    /// The first free subnet of `prefixLength` in 10.0.0.0/8, then 172.16.0.0/12,
    /// then 192.168.0.0/16, or nil when every one overlaps something.
    static func choose(prefixLength: Int, project: String, taken: [IPv4Network]) -> IPv4Network? {
        let avoid = taken.filter { $0.prefixLength > 0 } + [IPv4Network(IngressNetwork.autoBlock)!]
        let start = fnv1a(project)
        for block in IPv4Network.rfc1918 where block.prefixLength <= prefixLength {
            let count = UInt32(1) << UInt32(prefixLength - block.prefixLength)
            let step = UInt32(1) << UInt32(32 - prefixLength)
            for index in 0..<count {
                let slot = (start &+ index) % count
                let candidate = IPv4Network(address: IPv4Address(block.address.value &+ slot &* step), prefixLength: prefixLength)
                if !avoid.contains(where: { $0.overlaps(candidate) }) { return candidate }
            }
        }
        return nil
    }

    /// FNV-1a of the text: a stable, well-spread starting slot.
    static func fnv1a(_ text: String) -> UInt32 {
        var hash: UInt32 = 2_166_136_261
        for byte in text.utf8 {
            hash ^= UInt32(byte)
            hash = hash &* 16_777_619
        }
        return hash
    }
}

/// The IPv4 routes of `/proc/net/route` (the main routing table): each
/// destination network with its interface. Hex fields are in host (little-endian) order.
public enum HostRoutes {
    /// Parses the text of `/proc/net/route`; malformed lines are skipped.
    public static func parse(_ text: String) -> [InitHostFacts.TakenSubnet] {
        var routes: [InitHostFacts.TakenSubnet] = []
        for line in text.split(separator: "\n").dropFirst() {
            let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard fields.count >= 8, let destination = UInt32(fields[1], radix: 16), let mask = UInt32(fields[7], radix: 16) else { continue }
            let maskValue = mask.byteSwapped
            let length = maskValue.nonzeroBitCount
            guard maskValue == IPv4Network.mask(length) else { continue }
            let network = IPv4Network(address: IPv4Address(destination.byteSwapped), prefixLength: length)
            routes.append(.init(network: network, owner: "host route on \(fields[0])"))
        }
        return routes
    }
}
