import FrostbyteCore
import Dispatch
import FoundationEssentials
import Glibc
import Synchronization

/// A leak detector the checker builds for one run and tears down afterwards: a
/// network namespace `fbcanary-<run>` joined to the host by a veth pair, host side
/// 198.18.N.1/30, canary side 198.18.N.2/30 (RFC 2544 benchmarking range, never
/// routed on the internet), with a TCP and a UDP listener inside. The host routes
/// 198.18.N.0/30 to the veth, so a packet a container manages to send there lands in
/// the canary and never leaves the machine. The canary counts every IPv4 packet it
/// receives (`Ip InReceives` of its own namespace), every accepted connection and
/// every datagram (whose payload names the sender).
final class EgressCanary: Sendable {
    let runID: String
    let namespaceName: String
    let hostInterface: String
    let canaryInterface: String
    let hostAddress: String
    let canaryAddress: String
    private let timeout: Double
    /// The listeners, the packet count at the baseline and whether it is torn down;
    /// nothing waits on it.
    private struct State {
        var listener: CountingListener?
        var baseline = 0
        var torn = false
    }
    private let state = Mutex(State())
    var listener: CountingListener? { state.withLock { $0.listener } }

    /// What reached the canary since the baseline.
    struct Observation: Sendable, Equatable {
        var packets: Int
        var tcpSources: [String]
        var datagrams: [(source: String, payload: String)]
        static func == (a: Observation, b: Observation) -> Bool {
            a.packets == b.packets && a.tcpSources == b.tcpSources
                && a.datagrams.map { "\($0.source) \($0.payload)" } == b.datagrams.map { "\($0.source) \($0.payload)" }
        }
        var isEmpty: Bool { packets == 0 && tcpSources.isEmpty && datagrams.isEmpty }
    }

    /// Creates the namespace, the veth pair, the addresses, the route and the
    /// listeners. On any failure everything created so far is removed again.
    /// - Throws: `IsolationError.canary` with the failing command's message.
    init(runID: String, tcpPort: UInt16, udpPort: UInt16, timeout: Double) throws {
        self.runID = runID
        self.timeout = timeout
        namespaceName = "fbcanary-\(runID)"
        hostInterface = "fbc\(runID)h"
        canaryInterface = "fbc\(runID)c"
        let octet = try Self.freeOctet(timeout: timeout)
        hostAddress = "198.18.\(octet).1"
        canaryAddress = "198.18.\(octet).2"
        do {
            try ip([], batch: [
                "netns add \(namespaceName)",
                "link add \(hostInterface) type veth peer name \(canaryInterface)",
                "link set \(canaryInterface) netns \(namespaceName)",
                "addr add \(hostAddress)/30 dev \(hostInterface)",
            ])
            // No IPv6 on the link: no router or neighbour solicitations to count.
            try? "1".write(toFile: "/proc/sys/net/ipv6/conf/\(hostInterface)/disable_ipv6", atomically: false, encoding: .utf8)
            try ip([], batch: ["link set \(hostInterface) up"])
            try ip(["-n", namespaceName], batch: [
                "addr add \(canaryAddress)/30 dev \(canaryInterface)",
                "link set lo up",
                "link set \(canaryInterface) up",
                "route add default via \(hostAddress)",
            ])
            let address = canaryAddress
            let result = NetworkNamespace.perform(in: .file("/run/netns/\(namespaceName)"), timeout: timeout) {
                try? "1".write(toFile: "/proc/sys/net/ipv6/conf/all/disable_ipv6", atomically: false, encoding: .utf8)
                return try CountingListener(address: address, tcpPort: tcpPort, udpPort: udpPort)
            }
            IsolationCleanup.register(self)
            switch result {
            case .success(let made)?: state.withLock { $0.listener = made }
            case .failure(let error)?: throw IsolationError.canary(detail: "\(error)")
            case nil: throw IsolationError.canary(detail: "entering \(namespaceName) did not finish within \(Int(timeout)) s")
            }
        } catch {
            tearDown()
            if error is IsolationError { throw error }
            throw IsolationError.canary(detail: "\(error)")
        }
    }

    deinit { tearDown() }

    /// Proves the canary can see traffic: from the host, a TCP connection and a
    /// datagram must arrive. Then starts counting from zero. A fresh veth link can
    /// drop its very first packets (the kernel brings its queue up a moment after the
    /// link), and a TCP SYN lost then is resent only after 1 s, past a short connect
    /// timeout: so up to `attempts` rounds are tried, each with a new connection and
    /// datagram, until both arrive. A positive control that passes on a later round
    /// still shows that the canary sees what reaches it.
    /// - Returns: what the host's probes observed in the last round, for the evidence.
    func selfTest(connectTimeout: Double, attempts: Int = 3) -> (tcp: ProbeOutcome, tcpArrived: Bool, udpArrived: Bool) {
        guard let listener else { return (.failed(reason: "canary has no listener"), false, false) }
        var result: (tcp: ProbeOutcome, tcpArrived: Bool, udpArrived: Bool) = (.failed(reason: "not run"), false, false)
        for _ in 0..<max(1, attempts) {
            result = selfTestRound(listener, connectTimeout: connectTimeout)
            if result.tcp == .connected && result.tcpArrived && result.udpArrived { break }
        }
        usleep(50_000)
        _ = listener.collect()
        let baseline = packetCount() ?? 0
        state.withLock { $0.baseline = baseline }
        return result
    }

    /// One round of `selfTest`: a connection and a datagram from the host, and what
    /// the canary saw of them within `connectTimeout`.
    private func selfTestRound(_ listener: CountingListener, connectTimeout: Double)
        -> (tcp: ProbeOutcome, tcpArrived: Bool, udpArrived: Bool) {
        let socket = try? Socket(type: SOCK_STREAM)
        var tcp = ProbeOutcome.failed(reason: "cannot create a socket")
        if let socket, let target = try? SocketAddress(canaryAddress, port: listener.tcpPort) {
            tcp = socket.connect(to: target, timeout: connectTimeout)
        }
        let udp = SocketProbe.udpSend(canaryAddress, port: listener.udpPort, payload: Array("self-test \(runID)".utf8))
        var seen = (tcp: [String](), udp: [(source: String, payload: String)]())
        // Keep the client socket open until the canary has accepted the connection.
        withExtendedLifetime(socket) {
            let deadline = Deadline(seconds: connectTimeout)
            repeat {
                let batch = listener.collect()
                seen.tcp += batch.tcp
                seen.udp += batch.udp
                if !seen.tcp.isEmpty && !seen.udp.isEmpty { break }
                usleep(20_000)
            } while deadline.remainingMilliseconds > 0
        }
        let udpArrived = udp == .sent && seen.udp.contains { $0.payload == "self-test \(runID)" }
        return (tcp, !seen.tcp.isEmpty, udpArrived)
    }

    /// Everything that reached the canary since `selfTest`.
    func observe() -> Observation {
        guard let listener else { return Observation(packets: 0, tcpSources: [], datagrams: []) }
        let collected = listener.collect()
        let baseline = state.withLock { $0.baseline }
        let packets = max(0, (packetCount() ?? baseline) - baseline)
        return Observation(packets: packets, tcpSources: collected.tcp, datagrams: collected.udp)
    }

    /// Removes the listeners, the namespace and the veth pair. Idempotent; errors are
    /// ignored because the objects may already be gone.
    func tearDown() {
        let already = state.withLock { state in
            defer { state.torn = true }
            return state.torn
        }
        guard !already else { return }
        IsolationCleanup.unregister(self)
        state.withLock { $0.listener = nil }
        _ = try? CommandRunner.run(["ip", "netns", "del", namespaceName], timeout: timeout)
        _ = try? CommandRunner.run(["ip", "link", "del", hostInterface], timeout: timeout)
    }

    /// IPv4 packets the canary namespace has received (`Ip: InReceives`).
    private func packetCount() -> Int? {
        let result = NetworkNamespace.perform(in: .file("/run/netns/\(namespaceName)"), timeout: timeout) { () -> Int? in
            guard let text = try? String(contentsOfFile: "/proc/thread-self/net/snmp", encoding: .utf8) else { return nil }
            return Self.inReceives(text)
        }
        if case .success(let count)? = result { return count }
        return nil
    }

    /// Parses `Ip: ... InReceives ...` from a `/proc/net/snmp` text.
    static func inReceives(_ snmp: String) -> Int? {
        let lines = snmp.split(separator: "\n").filter { $0.hasPrefix("Ip:") }
        guard lines.count >= 2 else { return nil }
        let names = lines[0].split(separator: " ")
        let values = lines[1].split(separator: " ")
        guard let index = names.firstIndex(of: "InReceives"), index < values.count else { return nil }
        return Int(values[index])
    }

    /// A third octet N for 198.18.N.0/30 that no host address or route uses yet.
    private static func freeOctet(timeout: Double) throws -> Int {
        let addresses = (try? CommandRunner.check(["ip", "-4", "-o", "addr"], timeout: timeout)) ?? ""
        let routes = (try? CommandRunner.check(["ip", "-4", "route"], timeout: timeout)) ?? ""
        let used = addresses + "\n" + routes
        for _ in 0..<64 {
            let octet = Int.random(in: 1...254)
            if !used.contains("198.18.\(octet).") { return octet }
        }
        throw IsolationError.canary(detail: "no free 198.18.N.0/30 block for the canary")
    }

    private func ip(_ global: [String], batch lines: [String]) throws {
        let input = Data((lines.joined(separator: "\n") + "\n").utf8)
        let result = try CommandRunner.run(["ip"] + global + ["-batch", "-"], stdin: input, timeout: timeout)
        guard result.status == 0 else {
            throw IsolationError.canary(detail: "ip \((global + ["-batch"]).joined(separator: " ")): \(result.errorOutput)")
        }
    }
}
