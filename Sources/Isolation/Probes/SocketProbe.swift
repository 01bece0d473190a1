import Dispatch
import FoundationEssentials
import Glibc

/// Blocking IPv4 probes with hard deadlines: every wait is a poll(2) bounded by the
/// probe's timeout, so a probe returns within its timeout whatever the network does.
/// They run in whatever network namespace the calling thread is in
/// (`NetworkNamespace.perform`). Sockets are non-blocking and closed on every path.
enum SocketProbe {
    /// Connects to `address:port` over TCP and closes at once (RST, no data sent).
    static func tcpConnect(_ address: String, port: UInt16, timeout: Double) -> ProbeOutcome {
        do {
            let socket = try Socket(type: SOCK_STREAM)
            return socket.connect(to: try SocketAddress(address, port: port), timeout: timeout)
        } catch {
            return .failed(reason: "\(error)")
        }
    }

    /// Sends one UDP datagram carrying `payload` to `address:port`.
    static func udpSend(_ address: String, port: UInt16, payload: [UInt8]) -> ProbeOutcome {
        do {
            let socket = try Socket(type: SOCK_DGRAM)
            let target = try SocketAddress(address, port: port)
            let sent = payload.withUnsafeBytes { raw in
                target.withSockaddr { sendto(socket.fd, raw.baseAddress, raw.count, 0, $0, $1) }
            }
            if sent < 0 { return Socket.classify(errno) }
            return .sent
        } catch {
            return .failed(reason: "\(error)")
        }
    }

    /// Asks `server:port` for the A record of `name` over UDP and waits for the reply.
    static func dnsQuery(name: String, server: String, port: UInt16 = 53, timeout: Double,
                         watchingLoopback: Bool = false) -> ProbeOutcome {
        let id = UInt16.random(in: 1...UInt16.max)
        guard let query = DNSMessage.query(name: name, id: id) else {
            return .failed(reason: "'\(name)' is not a valid DNS name")
        }
        do {
            // Engines that forward outside names from internal networks, with dockerd's
            // --dns at 127.0.0.1 (Engine 20.10, DESIGN fact 10 in docs/TENANT_ISOLATION.md),
            // send the query to 127.0.0.1:53 of the container's own namespace and never
            // answer when nothing listens there. A listener of ours there sees it arrive
            // at once: the probe ends with that evidence instead of waiting out its timeout.
            let loopback = watchingLoopback ? try? Self.loopbackDNSListener() : nil
            let socket = try Socket(type: SOCK_DGRAM)
            let target = try SocketAddress(server, port: port)
            // A connected UDP socket reports an ICMP port-unreachable as ECONNREFUSED.
            let connected = target.withSockaddr { Glibc.connect(socket.fd, $0, $1) }
            if connected != 0 { return Socket.classify(errno) }
            let sent = query.withUnsafeBytes { send(socket.fd, $0.baseAddress, $0.count, 0) }
            if sent < 0 { return Socket.classify(errno) }
            let deadline = Deadline(seconds: timeout)
            var buffer = [UInt8](repeating: 0, count: 1500)
            let question = Array(query[12...])
            while true {
                var descriptors = [pollfd(fd: socket.fd, events: Int16(POLLIN), revents: 0)]
                if let loopback { descriptors.append(pollfd(fd: loopback.fd, events: Int16(POLLIN), revents: 0)) }
                let ready = poll(&descriptors, nfds_t(descriptors.count), deadline.remainingMilliseconds)
                if ready == 0 { return .timedOut(seconds: timeout) }
                if ready < 0 {
                    if errno == EINTR { continue }
                    return .failed(reason: "poll: \(NetworkNamespace.lastError())")
                }
                if let loopback, descriptors.count > 1, descriptors[1].revents & Int16(POLLIN) != 0 {
                    let count = buffer.withUnsafeMutableBytes { recv(loopback.fd, $0.baseAddress, $0.count, 0) }
                    if count > 12, Array(buffer[12..<count]).starts(with: question) {
                        return .forwardedToLoopback
                    }
                }
                guard descriptors[0].revents != 0 else { continue }
                let count = buffer.withUnsafeMutableBytes { recv(socket.fd, $0.baseAddress, $0.count, 0) }
                if count < 0 {
                    if errno == EAGAIN || errno == EINTR { continue }
                    return Socket.classify(errno)
                }
                if let reply = DNSMessage.parseReply(Array(buffer[0..<count]), id: id) {
                    return .dns(rcode: reply.rcode, addresses: reply.addresses)
                }
            }
        } catch {
            return .failed(reason: "\(error)")
        }
    }

    /// A UDP socket on 127.0.0.1:53 of the current namespace; throws when the port is
    /// taken (a service of the container listens there: the probe then only waits).
    private static func loopbackDNSListener() throws -> Socket {
        let listener = try Socket(type: SOCK_DGRAM)
        let address = try SocketAddress("127.0.0.1", port: 53)
        guard address.withSockaddr({ Glibc.bind(listener.fd, $0, $1) }) == 0 else {
            throw ProbeError.socket(operation: "bind 127.0.0.1:53", reason: NetworkNamespace.lastError())
        }
        return listener
    }

    /// `GET path` over HTTP/1.0 and returns the status of the reply's first line.
    static func httpGet(_ address: String, port: UInt16, path: String, timeout: Double) -> ProbeOutcome {
        do {
            let socket = try Socket(type: SOCK_STREAM)
            let deadline = Deadline(seconds: timeout)
            let outcome = socket.connect(to: try SocketAddress(address, port: port), timeout: timeout)
            guard outcome == .connected else { return outcome }
            socket.gracefulClose = true
            let request = Array("GET \(path) HTTP/1.0\r\nHost: \(address):\(port)\r\nConnection: close\r\n\r\n".utf8)
            var offset = 0
            while offset < request.count {
                guard socket.wait(for: Int16(POLLOUT), until: deadline) else { return .timedOut(seconds: timeout) }
                let written = request[offset...].withUnsafeBytes { send(socket.fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
                if written < 0 {
                    if errno == EAGAIN || errno == EINTR { continue }
                    return .failed(reason: "sending the request: \(NetworkNamespace.lastError())")
                }
                offset += written
            }
            var received: [UInt8] = []
            var buffer = [UInt8](repeating: 0, count: 1024)
            while !received.contains(0x0A) && received.count < 8192 {
                guard socket.wait(for: Int16(POLLIN), until: deadline) else { return .timedOut(seconds: timeout) }
                let count = buffer.withUnsafeMutableBytes { recv(socket.fd, $0.baseAddress, $0.count, 0) }
                if count < 0 {
                    if errno == EAGAIN || errno == EINTR { continue }
                    return .failed(reason: "reading the reply: \(NetworkNamespace.lastError())")
                }
                if count == 0 { break }
                received.append(contentsOf: buffer[0..<count])
            }
            let line = String(decoding: received.prefix { $0 != 0x0D && $0 != 0x0A }, as: UTF8.self)
            let parts = line.split(separator: " ")
            guard parts.count >= 2, parts[0].hasPrefix("HTTP/"), let status = Int(parts[1]) else {
                return .failed(reason: "not an HTTP reply: '\(line.prefix(80))'")
            }
            return .http(status: status)
        } catch {
            return .failed(reason: "\(error)")
        }
    }
}

/// A point in monotonic time a wait must not pass.
struct Deadline {
    let uptimeNanoseconds: UInt64
    init(seconds: Double) {
        uptimeNanoseconds = DispatchTime.now().uptimeNanoseconds + UInt64(max(0, seconds) * 1e9)
    }
    /// Milliseconds left, at least 0.
    var remainingMilliseconds: Int32 {
        let now = DispatchTime.now().uptimeNanoseconds
        guard now < uptimeNanoseconds else { return 0 }
        return Int32(min(Int64(Int32.max), Int64((uptimeNanoseconds - now) / 1_000_000)))
    }
}

/// An IPv4 socket address.
struct SocketAddress {
    var storage = sockaddr_in()

    init(_ address: String, port: UInt16) throws {
        storage.sin_family = sa_family_t(AF_INET)
        storage.sin_port = port.bigEndian
        guard inet_pton(AF_INET, address, &storage.sin_addr) == 1 else { throw ProbeError.badAddress(address) }
    }

    init(_ raw: sockaddr_in) { storage = raw }

    /// `a.b.c.d`.
    var host: String {
        var copy = storage.sin_addr
        var text = [CChar](repeating: 0, count: Int(INET_ADDRSTRLEN))
        inet_ntop(AF_INET, &copy, &text, socklen_t(INET_ADDRSTRLEN))
        return String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    var port: UInt16 { UInt16(bigEndian: storage.sin_port) }

    func withSockaddr<R>(_ body: (UnsafePointer<sockaddr>, socklen_t) -> R) -> R {
        var copy = storage
        return withUnsafePointer(to: &copy) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
    }
}

/// Owns one non-blocking socket descriptor and closes it in deinit. By default the
/// close is abortive (SO_LINGER 0: one RST, no lingering connection state), so a
/// probe leaves nothing behind on either side.
final class Socket {
    let fd: Int32
    var gracefulClose = false

    init(type: __socket_type) throws {
        fd = socket(AF_INET, Int32(type.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw ProbeError.socket(operation: "create", reason: NetworkNamespace.lastError()) }
    }

    init(adopting fd: Int32) { self.fd = fd }

    deinit {
        if !gracefulClose {
            var linger = Glibc.linger(l_onoff: 1, l_linger: 0)
            setsockopt(fd, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<Glibc.linger>.size))
        }
        close(fd)
    }

    /// Non-blocking connect bounded by `timeout`.
    func connect(to address: SocketAddress, timeout: Double) -> ProbeOutcome {
        let result = address.withSockaddr { Glibc.connect(fd, $0, $1) }
        if result == 0 { return .connected }
        guard errno == EINPROGRESS else { return Socket.classify(errno) }
        guard wait(for: Int16(POLLOUT), until: Deadline(seconds: timeout)) else { return .timedOut(seconds: timeout) }
        var error: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        guard getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length) == 0 else {
            return .failed(reason: "getsockopt: \(NetworkNamespace.lastError())")
        }
        if error == 0 { return .connected }
        if error == ETIMEDOUT { return .timedOut(seconds: timeout) }
        return Socket.classify(error)
    }

    /// Waits until the socket is ready for `events` or the deadline passes; false on timeout.
    func wait(for events: Int16, until deadline: Deadline) -> Bool {
        while true {
            var descriptor = pollfd(fd: fd, events: events, revents: 0)
            let ready = poll(&descriptor, 1, deadline.remainingMilliseconds)
            if ready > 0 { return true }
            if ready == 0 { return false }
            if errno != EINTR { return true }  // let the following call report the error
        }
    }

    /// Maps a connect/send errno to an outcome.
    static func classify(_ code: Int32) -> ProbeOutcome {
        switch code {
        case ECONNREFUSED: return .refused
        case ETIMEDOUT: return .timedOut(seconds: 0)
        case EHOSTUNREACH, ENETUNREACH, EACCES, EPERM, EHOSTDOWN, ENETDOWN, EADDRNOTAVAIL:
            return .blocked(reason: String(cString: strerror(code)))
        default:
            return .failed(reason: String(cString: strerror(code)))
        }
    }
}
