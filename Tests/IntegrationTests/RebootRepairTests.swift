import Foundation
import TestSupport
import Testing

/// Isolation that survives a reboot, tested as a reboot does it on a real engine:
/// the demo installed on the second engine FROSTBYTE_FAULT_ENGINE, dockerd killed,
/// its network namespace swept (the kernel's firewall state, the project's rules
/// with it, is gone), then the boot unit's own `ExecStart` run before dockerd starts,
/// then dockerd, whose restart policies bring the containers back. From the moment
/// the gateway runs again it probes a canary the test made (a listener in the
/// engine's namespace, reached through INPUT, and one in a namespace behind a veth,
/// reached through forwarding): nothing may get through. The same reboot without the
/// boot step is the negative control: the probes must catch the egress. Also:
/// `status` with dockerd down (exit 3), `status` and `check-isolation` naming the
/// missing rules, `repair` putting them back, twice without duplicates.
@Suite("Reboot: the boot unit restores the firewall before dockerd (second engine)", .serialized,
       .enabled(if: FaultEngine.enabled, "needs FROSTBYTE_FAULT_ENGINE (scripts/test-engines) and the demo images"),
       .requiresDocker)
struct RebootRepairTests {
    @Test func bootStepClosesEgressBeforeTheGatewayRuns() throws {
        let engine = try FaultEngine.required()
        try FaultEngine.up(engine)
        let project = InstallHarness.project("reboot")
        let prefix = InstallHarness.prefix("reboot")
        let scratch = try TestRun.scratchFolder("fbinst-reboot")
        let canary = RebootCanary(folder: scratch, namespace: "fbrb-\(TestRun.id)")
        defer {
            canary.stop()
            FaultEngine.cleanup(engine, project: project, prefix: prefix)
            try? FileManager.default.removeItem(atPath: scratch)
        }
        let install = try FaultEngine.tool(engine, ["install", try InstallHarness.v1(suite: "fault"), "--allow-unsigned",
                                                    "--prefix", prefix, "--project", project, "--subnet", "10.219.1.0/24",
                                                    "--publish", "\(Int.random(in: 21_000...21_999))"])
        try #require(install.status == 0, "\(install.stderr)")
        #expect(try FaultEngine.projectRules(engine, project: project).count == 3)

        // The unit install wrote and enabled, and the command it runs at boot.
        let unitPath = "/etc/systemd/system/frostbyte-bundle-\(project).service"
        let unit = try String(contentsOfFile: unitPath, encoding: .utf8)
        #expect(unit.contains("\nBefore=docker.service\n") && unit.contains("\nWantedBy=docker.service multi-user.target\n"), "\(unit)")
        #expect(FileManager.default.fileExists(atPath: "/etc/systemd/system/docker.service.wants/frostbyte-bundle-\(project).service"))
        let execStart = try #require(unit.split(separator: "\n").first { $0.hasPrefix("ExecStart=") }.map { String($0.dropFirst(10)) })
        #expect(execStart.hasSuffix(" repair --prefix \(prefix)"), "\(execStart)")
        if FileManager.default.isExecutableFile(atPath: "/usr/bin/systemd-analyze") {
            let verify = try TestCommand.run(["systemd-analyze", "verify", unitPath])
            #expect(verify.status == 0, "\(verify.stderr)")
        }

        // dockerd down: status says so in one sentence.
        try FaultEngine.crash(engine)
        let down = try TestCommand.tool(["status", "--prefix", prefix],
                                    environment: ["DOCKER_HOST": "unix://\(FaultEngine.socket(engine))"])
        #expect(down.status == 3 && down.stderr.contains("does not answer") && down.stderr.contains(FaultEngine.socket(engine)),
                "\(down.stderr)")

        // Negative control: the reboot without the boot step opens the gateway's egress.
        let open = try canary.reboot(engine, gateway: "\(project)-gateway-1", bootStep: nil)
        #expect(open.reached > 0, "without the boot step the probes must reach the canary: \(open)")
        let status = try FaultEngine.tool(engine, ["status", "--prefix", prefix, "--json"])
        #expect(status.status == 1, "\(status.stdout)")
        #expect((InstallHarness.json(status)["missing_firewall_rules"] as? [String] ?? []).count == 3, "\(status.stdout)")
        #expect(status.stderr.contains("run 'frostbyte-bundle repair --prefix \(prefix)'"), "\(status.stderr)")
        let check = try FaultEngine.tool(engine, ["check-isolation", "--prefix", prefix])
        #expect(check.status == 1)
        #expect(check.stderr.contains("missing") && check.stderr.contains("repair --prefix \(prefix)"), "\(check.stderr)")
        let repaired = try FaultEngine.tool(engine, ["repair", "--prefix", prefix, "--json"])
        #expect(repaired.status == 0 && InstallHarness.json(repaired)["restored"] as? Int == 3, "\(repaired.stdout)\(repaired.stderr)")
        let again = try FaultEngine.tool(engine, ["repair", "--prefix", prefix, "--json"])
        #expect(again.status == 0 && InstallHarness.json(again)["restored"] as? Int == 0, "\(again.stdout)\(again.stderr)")
        #expect(try FaultEngine.projectRules(engine, project: project).count == 3, "repair twice duplicated a rule")

        // The reboot with the boot step: not one probe gets through.
        let closed = try canary.reboot(engine, gateway: "\(project)-gateway-1", bootStep: execStart)
        #expect(closed.attempts >= 20 && closed.reached == 0, "with the boot step: \(closed)")
        print("reboot without the boot step: \(open)\nreboot with the boot step: \(closed)")
        #expect(try FaultEngine.projectRules(engine, project: project).count == 3)
        let healthy = FaultEngine.wait(seconds: 120) {
            (try? FaultEngine.tool(engine, ["status", "--prefix", prefix]).status) == 0
        }
        #expect(healthy, "the stack came back and every rule is in place")
    }
}

/// The canary of the reboot test and its probes. The canary is made by the boot
/// step itself (the engine's namespace is new after each reboot): a veth from the
/// engine's namespace (198.18.251.1/30) to a namespace of the test's own
/// (198.18.251.2/30), a TCP listener on each end that logs every connection. The
/// probe runs in the gateway's network namespace from the moment its process exists.
final class RebootCanary: @unchecked Sendable {
    let folder: String
    let namespace: String

    /// What the gateway's probes saw.
    struct Probe: CustomStringConvertible {
        var attempts = 0
        /// Connections accepted by the listener in the engine's namespace (INPUT).
        var reachedInput = 0
        /// Connections accepted behind the veth (forwarded: DOCKER-USER).
        var reachedForward = 0
        var reached: Int { reachedInput + reachedForward }
        /// Seconds from the gateway's process appearing to the first probe.
        var firstProbeAfter = -1.0
        var arrivals: [String] = []
        var description: String {
            "\(attempts) attempts, \(reachedInput) reached the canary through INPUT and \(reachedForward) through forwarding, first probe \(firstProbeAfter) s after the gateway started; listener logs: \(arrivals.prefix(4))"
        }
    }

    init(folder: String, namespace: String) {
        self.folder = folder; self.namespace = namespace
        let python = (try? TestCommand.check(["python3", "-c", "import sys; print(sys.executable)"])) ?? "python3"
        let listener = """
            import socket,sys,time
            s=socket.socket(); s.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1); s.bind((sys.argv[1],int(sys.argv[2]))); s.listen(64)
            while True:
                c,a=s.accept(); f=open(sys.argv[3],"a"); f.write("%f %s\\n"%(time.time(),a[0])); f.close(); c.close()
            """
        let probe = """
            import socket,sys,time
            start=float(sys.argv[3]); end=time.time()+float(sys.argv[1]); port=int(sys.argv[2]); n=0; ok={}; first=-1.0
            while time.time()<end:
                for addr in ("198.18.251.1","198.18.251.2"):
                    if first<0: first=time.time()-start
                    s=socket.socket(); s.settimeout(0.3); n+=1
                    try:
                        s.connect((addr,port)); ok[addr]=ok.get(addr,0)+1
                    except Exception: pass
                    s.close()
                time.sleep(0.05)
            print("%d %d %d %f"%(n,ok.get("198.18.251.1",0),ok.get("198.18.251.2",0),first))
            """
        let canary = """
            set -e
            D=\(folder) PORT=$1 NS=\(namespace) PY=\(python)
            ip netns add $NS
            ip link add fbrbh type veth peer name fbrbc netns $NS
            ip addr add 198.18.251.1/30 dev fbrbh; ip link set fbrbh up
            ip -n $NS addr add 198.18.251.2/30 dev fbrbc; ip -n $NS link set fbrbc up; ip -n $NS link set lo up
            ip -n $NS route add default via 198.18.251.1
            setsid $PY $D/listener.py 198.18.251.1 $PORT $D/arrivals.log </dev/null >/dev/null 2>&1 & echo $! >$D/listener-input.pid
            setsid nsenter --net=/run/netns/$NS $PY $D/listener.py 198.18.251.2 $PORT $D/arrivals.log </dev/null >/dev/null 2>&1 & echo $! >$D/listener-forward.pid
            for i in $(seq 1 50); do [ "$(ss -Hltn "sport = :$PORT" | wc -l)" -ge 1 ] && break; sleep 0.1; done
            """
        try? listener.write(toFile: "\(folder)/listener.py", atomically: true, encoding: .utf8)
        try? probe.write(toFile: "\(folder)/probe.py", atomically: true, encoding: .utf8)
        try? canary.write(toFile: "\(folder)/canary.sh", atomically: true, encoding: .utf8)
        self.python = python
    }

    let python: String

    /// Kills the listeners and removes the canary namespace (the engine's end of the
    /// veth goes with the engine's namespace).
    func stop() {
        for name in ["listener-input.pid", "listener-forward.pid"] {
            if let text = try? String(contentsOfFile: "\(folder)/\(name)", encoding: .utf8), let pid = Int32(text.trimmingCharacters(in: .whitespacesAndNewlines)) {
                kill(pid, SIGKILL)
            }
            try? FileManager.default.removeItem(atPath: "\(folder)/\(name)")
        }
        _ = try? TestCommand.run(["ip", "netns", "del", namespace])
        try? FileManager.default.removeItem(atPath: "\(folder)/arrivals.log")
    }

    /// Kills dockerd, brings the engine up in a new namespace with the canary and
    /// `bootStep` run before dockerd, and probes from the gateway for 8 s from the
    /// moment its process exists.
    func reboot(_ engine: String, gateway: String, bootStep: String?) throws -> Probe {
        stop()
        let before = FaultEngine.docker(engine, ["inspect", "-f", "{{.State.Pid}}", gateway])?.stdout
            .trimmingCharacters(in: .whitespacesAndNewlines)
        try FaultEngine.crash(engine)
        let port = Int.random(in: 22_000...22_999)
        let result = ProbeBox()
        let done = DispatchSemaphore(value: 0)
        let python = self.python, folder = self.folder
        DispatchQueue.global().async {
            defer { done.signal() }
            var pid = ""
            let found = FaultEngine.wait(seconds: 150) {
                pid = FaultEngine.docker(engine, ["inspect", "-f", "{{.State.Pid}}", gateway])?.stdout
                    .trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
                return !pid.isEmpty && pid != "0" && pid != before && FileManager.default.fileExists(atPath: "/proc/\(pid)/ns/net")
            }
            guard found else { return }
            let seen = Date().timeIntervalSince1970
            let out = (try? TestCommand.run(["nsenter", "--net=/proc/\(pid)/ns/net", python, "\(folder)/probe.py", "8", "\(port)",
                                              "\(seen)"]))?.stdout ?? ""
            let fields = out.split(separator: " ").map { String($0).trimmingCharacters(in: .whitespacesAndNewlines) }
            if fields.count == 4 {
                result.set(Probe(attempts: Int(fields[0]) ?? 0, reachedInput: Int(fields[1]) ?? 0,
                                 reachedForward: Int(fields[2]) ?? 0, firstProbeAfter: Double(fields[3]) ?? -1))
            }
        }
        let boot = ["bash \(folder)/canary.sh \(port)", bootStep].compactMap { $0 }.joined(separator: " && ")
        try FaultEngine.up(engine, boot: boot)
        done.wait()
        var probe = try #require(result.get(), "the gateway never came back after the reboot")
        probe.arrivals = ((try? String(contentsOfFile: "\(folder)/arrivals.log", encoding: .utf8)) ?? "")
            .split(separator: "\n").map(String.init)
        return probe
    }

    /// The probe thread's result.
    final class ProbeBox: @unchecked Sendable {
        private let lock = NSLock()
        private var value: Probe?
        func set(_ probe: Probe) { lock.lock(); value = probe; lock.unlock() }
        func get() -> Probe? { lock.lock(); defer { lock.unlock() }; return value }
    }
}
