import FoundationEssentials
import Glibc

/// A TCP listener and a UDP socket bound to one address that count what reaches
/// them: completed TCP connections waiting in the accept queue and datagrams in the
/// receive queue, with their source addresses. Create it inside the namespace it
/// should listen in (`NetworkNamespace.perform`); read it from any thread afterwards.
/// Confined to one caller at a time.
///
/// `@unchecked Sendable`: it is made on the namespace's thread and then used by the
/// checker's thread; its sockets are plain descriptors the kernel serializes, and the
/// compiler cannot see that it is used by one thread at a time after the hand-over.
final class CountingListener: @unchecked Sendable {
    let address: String
    let tcpPort: UInt16
    let udpPort: UInt16
    private let tcp: Socket
    private let udp: Socket

    /// Binds both sockets to `address` (port 0 picks a free port for each).
    /// - Throws: `ProbeError.socket` when a bind or listen fails.
    init(address: String, tcpPort: UInt16 = 0, udpPort: UInt16 = 0) throws {
        self.address = address
        tcp = try Socket(type: SOCK_STREAM)
        udp = try Socket(type: SOCK_DGRAM)
        var yes: Int32 = 1
        setsockopt(tcp.fd, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size))
        try Self.bind(tcp, SocketAddress(address, port: tcpPort))
        guard listen(tcp.fd, 128) == 0 else {
            throw ProbeError.socket(operation: "listen on \(address)", reason: NetworkNamespace.lastError())
        }
        try Self.bind(udp, SocketAddress(address, port: udpPort))
        self.tcpPort = Self.boundPort(tcp)
        self.udpPort = Self.boundPort(udp)
    }

    /// Accepts every pending connection and reads every pending datagram; returns
    /// their source addresses (and each datagram's payload). Calling it again returns only what arrived since.
    func collect() -> (tcp: [String], udp: [(source: String, payload: String)]) {
        var tcpSources: [String] = []
        while true {
            var peer = sockaddr_in()
            var length = socklen_t(MemoryLayout<sockaddr_in>.size)
            let accepted = withUnsafeMutablePointer(to: &peer) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { accept(tcp.fd, $0, &length) }
            }
            if accepted < 0 { break }
            _ = Socket(adopting: accepted)  // closed at once with RST
            tcpSources.append(SocketAddress(peer).host)
        }
        var udpSources: [(source: String, payload: String)] = []
        var buffer = [UInt8](repeating: 0, count: 2048)
        while true {
            var peer = sockaddr_in()
            var length = socklen_t(MemoryLayout<sockaddr_in>.size)
            let count = buffer.withUnsafeMutableBytes { raw in
                withUnsafeMutablePointer(to: &peer) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                        recvfrom(udp.fd, raw.baseAddress, raw.count, 0, $0, &length)
                    }
                }
            }
            if count < 0 { break }
            udpSources.append((SocketAddress(peer).host, String(decoding: buffer[0..<count], as: UTF8.self)))
        }
        return (tcpSources, udpSources)
    }

    private static func bind(_ socket: Socket, _ address: SocketAddress) throws {
        let result = address.withSockaddr { Glibc.bind(socket.fd, $0, $1) }
        guard result == 0 else {
            throw ProbeError.socket(operation: "bind \(address.host):\(address.port)", reason: NetworkNamespace.lastError())
        }
    }

    private static func boundPort(_ socket: Socket) -> UInt16 {
        var bound = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &bound) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(socket.fd, $0, &length) }
        }
        return UInt16(bigEndian: bound.sin_port)
    }
}
