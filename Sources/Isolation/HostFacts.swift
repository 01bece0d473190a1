import FrostbyteCore
import Engine
import FoundationEssentials
import Glibc

/// A socket listening on the host, as `ss -ltnup` reports it.
public struct HostListener: Sendable, Equatable {
    /// `tcp` or `udp`.
    public var proto: String
    /// The local address as printed (`0.0.0.0`, `[::]`, `*`, `127.0.0.1`).
    public var address: String
    public var port: Int
    /// `name (pid N)` of the owning processes, or `unknown process`.
    public var process: String

    /// True when it listens on every address (and is not bound to one interface).
    public var isWildcard: Bool { ["0.0.0.0", "*", "[::]", "::"].contains(address) }
}

/// Reads facts of the host (not of Docker): listening sockets, container routes
/// and listeners through /proc, bridge addresses.
public enum HostFacts {
    /// Parses `ss -H -ltnup` output. Sockets bound to one device (`0.0.0.0%eth0`)
    /// keep the `%dev` in `address` and so never count as wildcard.
    static func parseListeners(_ text: String) -> [HostListener] {
        var listeners: [HostListener] = []
        for line in text.split(whereSeparator: \.isNewline) {
            let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
            guard fields.count >= 5, fields[0] == "tcp" || fields[0] == "udp" else { continue }
            let local = fields[4]
            guard let colon = local.lastIndex(of: ":"), let port = Int(local[local.index(after: colon)...]) else {
                continue
            }
            let address = String(local[..<colon])
            let process = fields.count > 6 ? describeProcess(fields[6...].joined(separator: " ")) : "unknown process"
            listeners.append(HostListener(proto: fields[0], address: address, port: port, process: process))
        }
        return listeners
    }

    /// `users:(("sshd",pid=612,fd=3),("sshd",pid=700,fd=3))` → `sshd (pid 612, 700)`.
    static func describeProcess(_ field: String) -> String {
        var names: [String] = []
        var pids: [String: [String]] = [:]
        var rest = Substring(field)
        while let open = rest.firstRange(of: "(\"") {
            rest = rest[open.upperBound...]
            guard let close = rest.firstIndex(of: "\"") else { break }
            let name = String(rest[..<close])
            rest = rest[close...]
            var pid = ""
            if let pidRange = rest.firstRange(of: "pid=") {
                pid = String(rest[pidRange.upperBound...].prefix { $0.isNumber })
            }
            if !names.contains(name) { names.append(name) }
            if !pid.isEmpty && !(pids[name] ?? []).contains(pid) { pids[name, default: []].append(pid) }
        }
        guard !names.isEmpty else { return "unknown process" }
        return names.map { name in
            let list = pids[name] ?? []
            return list.isEmpty ? name : "\(name) (pid \(list.joined(separator: ", ")))"
        }.joined(separator: "; ")
    }

    /// Host listeners, from `ss` (iproute2).
    public static func listeners(timeout: Double) throws -> [HostListener] {
        parseListeners(try CommandRunner.check(["ss", "-H", "-l", "-t", "-u", "-n", "-p"], timeout: timeout))
    }

    /// Whether a TCP listener could bind the IPv4 `address:port` on this host now: nil
    /// when it could (the socket is closed again at once, nothing listens), else the
    /// bind's errno: `EADDRINUSE` when something listens there, `EADDRNOTAVAIL` when
    /// the address is not one of this host's. `SO_REUSEADDR` is set, so connections
    /// of an earlier listener left in TIME_WAIT do not count.
    public static func tcpBindError(address: String, port: UInt16) -> Int32? {
        guard let socket = try? Socket(type: SOCK_STREAM), let target = try? SocketAddress(address, port: port) else {
            return EINVAL
        }
        var yes: Int32 = 1
        setsockopt(socket.fd, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size))
        return target.withSockaddr { Glibc.bind(socket.fd, $0, $1) } == 0 ? nil : errno
    }

    /// TCP ports listening on a non-loopback address in `/proc/<pid>/net/tcp{,6}`,
    /// i.e. in the network namespace of `pid` — no tool inside the container needed.
    static func listeningTCPPorts(pid: Int32) -> [Int] {
        var ports = Set<Int>()
        for file in ["tcp", "tcp6"] {
            guard let text = try? String(contentsOfFile: "/proc/\(pid)/net/\(file)", encoding: .utf8) else { continue }
            ports.formUnion(parseProcNetTCP(text))
        }
        return ports.sorted()
    }

    /// Parses a `/proc/net/tcp{,6}` table: ports of LISTEN (0A) sockets whose local
    /// address is not loopback.
    static func parseProcNetTCP(_ text: String) -> [Int] {
        var ports: [Int] = []
        for line in text.split(whereSeparator: \.isNewline).dropFirst() {
            let fields = line.split(separator: " ")
            guard fields.count > 3, fields[3] == "0A" else { continue }
            let local = fields[1].split(separator: ":")
            guard local.count == 2, let port = Int(local[1], radix: 16) else { continue }
            let address = local[0]
            if address.count == 8, address.hasSuffix("7F") { continue }  // 127.x.x.x, little-endian
            if address == "00000000000000000000000001000000" { continue }  // ::1
            if address.count == 32, address.hasPrefix("0000000000000000FFFF0000"), address.hasSuffix("7F") { continue }
            ports.append(port)
        }
        return ports
    }

    /// The default route in `/proc/<pid>/net/route`: the gateway address, or nil.
    static func defaultGateway(pid: Int32) -> (present: Bool, gateway: String?) {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/net/route", encoding: .utf8) else {
            return (false, nil)
        }
        return parseDefaultRoute(text)
    }

    /// Parses a `/proc/net/route` table for a 0.0.0.0/0 entry.
    static func parseDefaultRoute(_ text: String) -> (present: Bool, gateway: String?) {
        for line in text.split(whereSeparator: \.isNewline).dropFirst() {
            let fields = line.split(whereSeparator: { $0 == "\t" || $0 == " " })
            guard fields.count > 7, fields[1] == "00000000", fields[7] == "00000000" else { continue }
            guard let raw = UInt32(fields[2], radix: 16) else { return (true, nil) }
            let bytes = [raw & 0xFF, (raw >> 8) & 0xFF, (raw >> 16) & 0xFF, raw >> 24]
            return (true, bytes.map(String.init).joined(separator: "."))
        }
        return (false, nil)
    }

    /// The IPv4 address of a host interface (`ip -4 -o addr show dev <name>`).
    static func interfaceAddress(_ interface: String, timeout: Double) -> String? {
        guard let output = try? CommandRunner.check(["ip", "-4", "-o", "addr", "show", "dev", interface], timeout: timeout)
        else { return nil }
        let fields = output.split(separator: " ")
        guard let index = fields.firstIndex(of: "inet"), index + 1 < fields.count else { return nil }
        return fields[index + 1].split(separator: "/").first.map(String.init)
    }

    /// The gateway (host) address of a bridge network: IPAM's, else the bridge's own.
    static func gatewayAddress(of network: DockerNetwork, timeout: Double) -> String? {
        if let gateway = network.ipamConfig.map(\.gateway).first(where: { $0.contains(".") }) { return gateway }
        return interfaceAddress(network.bridgeInterface, timeout: timeout)
    }

    /// This machine's name, kernel and OS for the evidence.
    static func hostDescription() -> IsolationEvidence.Host {
        var name = utsname()
        uname(&name)
        func text<T>(_ field: T) -> String {
            withUnsafeBytes(of: field) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
        }
        var os = "\(text(name.sysname))"
        if let release = try? String(contentsOfFile: "/etc/os-release", encoding: .utf8),
           let line = release.split(separator: "\n").first(where: { $0.hasPrefix("PRETTY_NAME=") }) {
            os = line.dropFirst("PRETTY_NAME=".count).trimmed(.characters("\""))
        }
        return IsolationEvidence.Host(hostname: text(name.nodename), kernel: text(name.release), os: os)
    }
}
