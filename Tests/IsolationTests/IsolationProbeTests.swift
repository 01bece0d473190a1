import Foundation
import Testing
@testable import Engine
@testable import InstallationState
@testable import Isolation
@testable import Installation
import FrostbyteCore

/// The probe machinery on loopback, without Docker: outcomes of TCP, UDP, DNS and
/// HTTP probes against listeners the tests open themselves, the bounded waits, and
/// the watchdog that reports a probe that hangs.
@Suite("Isolation probes")
struct IsolationProbeTests {
    @Test("TCP connect: a listener connects, a closed port is refused")
    func tcpOutcomes() throws {
        let listener = try CountingListener(address: "127.0.0.1")
        #expect(SocketProbe.tcpConnect("127.0.0.1", port: listener.tcpPort, timeout: 1) == .connected)
        #expect(listener.collect().tcp == ["127.0.0.1"])
        let closedPort = try Self.closedPort()
        #expect(SocketProbe.tcpConnect("127.0.0.1", port: closedPort, timeout: 1) == .refused)
        #expect(ProbeOutcome.refused.reachedTarget == true)
        #expect(ProbeOutcome.timedOut(seconds: 1).reachedTarget == false)
    }

    @Test("UDP datagrams arrive with their payload")
    func udpPayload() throws {
        let listener = try CountingListener(address: "127.0.0.1")
        #expect(SocketProbe.udpSend("127.0.0.1", port: listener.udpPort, payload: Array("egress r1 api".utf8)) == .sent)
        usleep(50_000)
        let seen = listener.collect()
        #expect(seen.udp.map(\.payload) == ["egress r1 api"])
        #expect(listener.collect().udp.isEmpty, "collect returns only what arrived since")
    }

    @Test("A DNS server that never answers makes the query time out within its bound")
    func dnsTimeout() throws {
        let silent = try CountingListener(address: "127.0.0.1")
        let started = Date()
        let outcome = SocketProbe.dnsQuery(name: "example.invalid", server: "127.0.0.1", port: silent.udpPort, timeout: 0.5)
        let elapsed = Date().timeIntervalSince(started)
        #expect(outcome == .timedOut(seconds: 0.5))
        #expect(elapsed >= 0.45 && elapsed < 1.5, "\(elapsed)")
        #expect(silent.collect().udp.count == 1, "the query reached the silent server")
    }

    @Test("A DNS query to a closed port is refused at once")
    func dnsRefused() throws {
        let outcome = SocketProbe.dnsQuery(name: "x.invalid", server: "127.0.0.1", port: try Self.closedPort(), timeout: 2)
        #expect(outcome == .refused)
    }

    @Test("A hanging probe is reported as hung by the watchdog, and the runner returns on time")
    func watchdogReportsHang() {
        let tasks = [
            ProbeTask(key: "quick", namespace: .host) { .connected },
            ProbeTask(key: "hangs", namespace: .host) { sleep(5); return .connected },
        ]
        let started = Date()
        let outcomes = ProbeRunner.run(tasks, watchdog: 0.5)
        let elapsed = Date().timeIntervalSince(started)
        #expect(outcomes["quick"] == .connected)
        #expect(outcomes["hangs"] == .hung(seconds: 0.5))
        #expect(outcomes["hangs"]?.description.contains("hung") == true)
        #expect(elapsed < 2, "\(elapsed)")
    }

    @Test("Probes run in parallel: many timeouts cost one timeout")
    func parallelProbes() {
        // 198.18.0.0/15 is the benchmarking range; with no route to it the kernel
        // answers at once, so use a silent local UDP socket instead for the wait.
        let tasks = (0..<20).map { index in
            ProbeTask(key: "\(index)", namespace: .host) { usleep(300_000); return .timedOut(seconds: 0.3) }
        }
        let started = Date()
        let outcomes = ProbeRunner.run(tasks, watchdog: 5)
        #expect(outcomes.count == 20)
        #expect(Date().timeIntervalSince(started) < 1.5)
    }

    @Test("Quick probes: run returns no sooner than the settle time after the last probe started")
    func settleAfterQuickProbes() {
        let tasks = (0..<8).map { index in ProbeTask(key: "\(index)", namespace: .host) { .refused } }
        let started = Date()
        let outcomes = ProbeRunner.run(tasks, watchdog: 5, settle: 0.3)
        #expect(outcomes.count == 8)
        #expect(Date().timeIntervalSince(started) >= 0.3, "a datagram sent at the start needs the settle time to land")
    }

    @Test("The egress canary's self-test sees the host's traffic; with the link down it sees nothing (negative control)",
          .enabled(if: geteuid() == 0, "needs root (ip netns, veth)"))
    func canarySelfTest() throws {
        let canary = try EgressCanary(runID: TextFormat.hex(UInt32.random(in: 0...0xFF_FFFF), width: 6),
                                      tcpPort: 0, udpPort: 0, timeout: 20)
        defer { canary.tearDown() }
        let working = canary.selfTest(connectTimeout: 0.5)
        #expect(working.tcp == .connected && working.tcpArrived && working.udpArrived, "\(working)")
        _ = try CommandRunner.check(["ip", "link", "set", canary.hostInterface, "down"], timeout: 20)
        let dead = canary.selfTest(connectTimeout: 0.2, attempts: 2)
        #expect(dead.tcp != .connected && !dead.tcpArrived && !dead.udpArrived, "\(dead)")
    }

    @Test("Entering a namespace that does not exist fails the probe, not the run")
    func missingNamespace() {
        let outcomes = ProbeRunner.run(
            [ProbeTask(key: "gone", namespace: .file("/run/netns/fbtest-does-not-exist")) { .connected }], watchdog: 2)
        guard case .failed(let reason)? = outcomes["gone"] else {
            Issue.record("expected a failure, got \(String(describing: outcomes["gone"]))")
            return
        }
        #expect(reason.contains("fbtest-does-not-exist"))
    }

    @Test("HTTP GET reads the status line of a reply")
    func httpStatus() throws {
        let server = try LoopbackHTTPServer(reply: "HTTP/1.0 204 No Content\r\n\r\n")
        #expect(SocketProbe.httpGet("127.0.0.1", port: server.port, path: "/healthz", timeout: 2) == .http(status: 204))
        server.stop()
        let garbage = try LoopbackHTTPServer(reply: "SSH-2.0-OpenSSH\r\n")
        guard case .failed = SocketProbe.httpGet("127.0.0.1", port: garbage.port, path: "/", timeout: 2) else {
            Issue.record("a non-HTTP reply must not count as an answer")
            return
        }
        garbage.stop()
    }

    /// A port nothing listens on: bind, read the port, close.
    static func closedPort() throws -> UInt16 {
        let probe = try CountingListener(address: "127.0.0.1")
        return probe.tcpPort
    }
}

/// Accepts one connection on loopback, reads the request, writes `reply`, closes.
final class LoopbackHTTPServer: @unchecked Sendable {
    let port: UInt16
    private let fd: Int32
    private let thread: Thread

    init(reply: String) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let fd = self.fd
        _ = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) } }
        listen(fd, 4)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        port = UInt16(bigEndian: address.sin_port)
        let bytes = Array(reply.utf8)
        thread = Thread {
            let client = accept(fd, nil, nil)
            guard client >= 0 else { return }
            var buffer = [UInt8](repeating: 0, count: 1024)
            _ = read(client, &buffer, buffer.count)
            _ = bytes.withUnsafeBytes { write(client, $0.baseAddress, $0.count) }
            close(client)
        }
        thread.start()
    }

    func stop() { shutdown(fd, Int32(SHUT_RDWR)); close(fd) }
}
