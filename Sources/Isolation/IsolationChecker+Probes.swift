import FrostbyteCore
import BundleFormat
import Engine
import FoundationEssentials
import Glibc

/// Every probe of one run, with what each is meant to show.
struct ProbePlan {
    struct Egress { var container: String; var tcpKey: String; var udpKey: String; var payload: String }
    struct PeerName { var container: String; var service: String; var key: String; var expected: [String] }
    struct PeerTCP { var container: String; var service: String; var key: String; var target: String; var port: Int? }
    struct External { var container: String; var key: String }
    struct HostReach { var container: String; var tcpKey: String; var udpKey: String; var payload: String }
    /// One cross-project pair: a probe to every address of the target, each keyed
    /// `key#<address>`, since a shared network may be any of them.
    struct Cross {
        var from: String; var fromProject: String; var to: String; var toProject: String
        var key: String; var targets: [String]; var port: Int; var portIsListening: Bool
        func key(for target: String) -> String { "\(key)#\(target)" }
    }

    var tasks: [ProbeTask] = []
    var egress: [Egress] = []
    var peerNames: [PeerName] = []
    var peerTCP: [PeerTCP] = []
    var external: [External] = []
    /// Network ID → probes towards the host canary on that network's gateway address.
    var hostReach: [String: [HostReach]] = [:]
    var cross: [Cross] = []
    var gatewayKey: String?
    /// Swarm only: peers on other nodes, the node's own services, the gateway's LAN address.
    var swarm: [SwarmProbe] = []
    /// Probes from the canary's own namespace, run once the canary has been counted
    /// (their replies arrive there).
    var fromCanary: [ProbeTask] = []
}

/// The egress canary of one run, built and self-tested before the probes.
struct PreparedCanary: Sendable {
    let canary: EgressCanary
    let selfTest: (tcp: ProbeOutcome, tcpArrived: Bool, udpArrived: Bool)
}

extension IsolationChecker {
    /// Builds the egress canary and runs its self-test on a thread of its own, so that
    /// it overlaps reading Docker's state (neither depends on the other). The caller
    /// joins it and tears the canary down.
    func prepareCanary(runID: String) -> BackgroundWork<PreparedCanary> {
        let options = self.options
        return BackgroundWork {
            let canary = try EgressCanary(
                runID: runID, tcpPort: options.canaryTCPPort, udpPort: options.canaryUDPPort,
                timeout: options.commandTimeout)
            return PreparedCanary(canary: canary, selfTest: canary.selfTest(connectTimeout: options.connectTimeout))
        }
    }

    /// Runs every probe in parallel against the prepared canary, tears the canaries
    /// down and records egress, positive-control, DNS, cross-project and
    /// host-exposure checks. Host facts the records need (`firewall`, and the host's
    /// listening sockets) are read while the probes wait out their timeouts.
    /// Returns the containers that vanished while the probes ran (another project's
    /// are not counted against this one; the caller records them all) and the
    /// firewall facts as they stand after any fix.
    func runProbes(
        _ snapshot: IsolationSnapshot, runID: String, inspector: DockerEngine,
        canary canaryWork: BackgroundWork<PreparedCanary>, firewall firewallWork: BackgroundWork<FirewallFacts>,
        into checks: inout CheckList
    ) throws -> (vanished: [VanishedObject], firewall: FirewallFacts) {
        let running = snapshot.runningContainers
        guard !running.isEmpty else {
            checks.add(
                "egress.containers", "egress", "Running containers to probe",
                probe: "docker ps (project \(target.project))", expected: "at least one running container",
                observed: "none running: no probe can run, isolation is not proven", status: .fail,
                remedy: "start the stack and re-run the check")
            return ([], try firewallWork.join())
        }
        let prepared = try canaryWork.join()
        let canary = prepared.canary
        defer { canary.tearDown() }
        let selfTest = prepared.selfTest
        let canaryWorks = selfTest.tcp == .connected && selfTest.tcpArrived && selfTest.udpArrived
        checks.add(
            "egress.canary-self-test", "control", "Egress canary sees traffic from the host",
            probe: "from the host: TCP connect \(canary.canaryAddress):\(options.canaryTCPPort), UDP datagram to \(canary.canaryAddress):\(options.canaryUDPPort) (namespace \(canary.namespaceName))",
            expected: "connection accepted and datagram received",
            observed: "TCP \(selfTest.tcp)\(selfTest.tcpArrived ? ", accepted by the canary" : ", not seen by the canary"); UDP \(selfTest.udpArrived ? "received" : "not received")",
            status: canaryWorks ? .pass : .fail,
            remedy: "the canary does not work on this host, so the egress probes prove nothing; check iproute2 and the kernel's veth support")

        let hostCanaries = makeHostCanaries(snapshot)
        let plan = makePlan(snapshot, running: running, runID: runID, canary: canary, hostCanaries: hostCanaries)
        phaseHook?(.probesPlanned)
        let timeout = options.commandTimeout
        let listenersWork = BackgroundWork { try HostFacts.listeners(timeout: timeout) }
        // A late datagram or handshake lands before the canary is counted.
        var outcomes = ProbeRunner.run(plan.tasks, watchdog: options.watchdogSeconds, settle: 0.15)
        let observation = canary.observe()
        if !plan.fromCanary.isEmpty {
            outcomes.merge(ProbeRunner.run(plan.fromCanary, watchdog: options.watchdogSeconds, settle: 0)) { first, _ in first }
        }
        let teardown = BackgroundWork { canary.tearDown() }
        let vanished = containersVanishedDuringProbes(snapshot, inspector: inspector)
        try teardown.join()
        var firewall = try firewallWork.join()

        recordEgress(plan, outcomes, observation, canary: canary, canaryWorks: canaryWorks, into: &checks)
        recordControls(plan, outcomes, into: &checks)
        recordExternalDNS(plan, outcomes, into: &checks)
        recordCrossProject(plan, outcomes, snapshot: snapshot, vanished: vanished, into: &checks)
        recordSwarm(plan, outcomes, into: &checks)
        try recordHostExposure(
            snapshot, plan: plan, outcomes: outcomes, canaries: hostCanaries, listeners: listenersWork.result(),
            runID: runID, firewall: &firewall, into: &checks)
        return (vanished, firewall)
    }

    /// The probe plan: every task keyed so its outcome can be found again.
    private func makePlan(
        _ snapshot: IsolationSnapshot, running: [DockerContainer], runID: String,
        canary: EgressCanary, hostCanaries: [String: HostCanary]
    ) -> ProbePlan {
        var plan = ProbePlan()
        let connect = options.connectTimeout
        let dns = options.dnsTimeout
        var ports: [String: [Int]] = [:]
        for container in running + snapshot.foreignContainers {
            ports[container.id] = HostFacts.listeningTCPPorts(pid: container.state.pid)
        }
        let canaryAddress = canary.canaryAddress
        let tcpPort = options.canaryTCPPort
        let udpPort = options.canaryUDPPort

        for container in running {
            let namespace = ProbeNamespace.process(container.state.pid)
            let name = container.name
            // Egress to the canary, TCP and UDP; the datagram names its sender.
            let egress = ProbePlan.Egress(
                container: name, tcpKey: "egress.tcp/\(name)", udpKey: "egress.udp/\(name)",
                payload: "egress \(runID) \(name)")
            plan.egress.append(egress)
            plan.tasks.append(ProbeTask(key: egress.tcpKey, namespace: namespace) {
                SocketProbe.tcpConnect(canaryAddress, port: tcpPort, timeout: connect)
            })
            let payload = Array(egress.payload.utf8)
            plan.tasks.append(ProbeTask(key: egress.udpKey, namespace: namespace) {
                SocketProbe.udpSend(canaryAddress, port: udpPort, payload: payload)
            })

            let own = snapshot.projectAddresses(of: container)
            guard !own.isEmpty else { continue }  // no embedded DNS, no peers: configuration already fails it
            let external = ProbePlan.External(container: name, key: "dns.external/\(name)")
            plan.external.append(external)
            let externalName = options.externalName
            plan.tasks.append(ProbeTask(key: external.key, namespace: namespace) {
                SocketProbe.dnsQuery(name: externalName, server: "127.0.0.11", timeout: dns, watchingLoopback: true)
            })

            // Positive controls: every other service by name, and a TCP connect to it.
            let myNetworks = Set(own.map(\.network.id))
            let services = Dictionary(grouping: running.filter { $0.id != container.id }) {
                IsolationSnapshot.service(of: $0)
            }
            for (service, members) in services.sorted(by: { $0.key < $1.key })
            where service != IsolationSnapshot.service(of: container) {
                let reachable = members.flatMap { member in
                    snapshot.projectAddresses(of: member).filter { myNetworks.contains($0.network.id) }
                        .map { (member, $0.address) }
                }
                guard let first = reachable.first else { continue }
                let peer = ProbePlan.PeerName(
                    container: name, service: service, key: "control.dns/\(name)/\(service)",
                    expected: reachable.map(\.1))
                plan.peerNames.append(peer)
                plan.tasks.append(ProbeTask(key: peer.key, namespace: namespace) {
                    SocketProbe.dnsQuery(name: service, server: "127.0.0.11", timeout: dns)
                })
                let port = ports[first.0.id]?.first
                let tcp = ProbePlan.PeerTCP(
                    container: name, service: service, key: "control.tcp/\(name)/\(service)",
                    target: first.1, port: port)
                plan.peerTCP.append(tcp)
                if let port {
                    let target = first.1
                    plan.tasks.append(ProbeTask(key: tcp.key, namespace: namespace) {
                        SocketProbe.tcpConnect(target, port: UInt16(port), timeout: connect)
                    })
                }
            }

            // Host exposure: the checker's own listener on each bridge's host address.
            for (network, _) in own {
                guard let hostCanary = hostCanaries[network.id] else { continue }
                let reach = ProbePlan.HostReach(
                    container: name, tcpKey: "host-exposure.tcp/\(name)/\(network.name)",
                    udpKey: "host-exposure.udp/\(name)/\(network.name)",
                    payload: "host-exposure \(runID) \(name)")
                plan.hostReach[network.id, default: []].append(reach)
                plan.tasks += hostReachTasks(reach, namespace: namespace, canary: hostCanary)
            }

            // Cross-project, both directions, to every address of the target.
            for foreign in snapshot.foreignContainers {
                let project = IsolationSnapshot.projectName(of: foreign)
                let ownTargets = own.map(\.address)
                if !ownTargets.isEmpty {
                    let port = ports[container.id]?.first
                    plan.cross.append(.init(
                        from: foreign.name, fromProject: project, to: name, toProject: self.target.project,
                        key: "cross-project.tcp/\(foreign.name)/\(name)", targets: ownTargets, port: port ?? 9,
                        portIsListening: port != nil))
                }
                let foreignTargets = IsolationSnapshot.addresses(of: foreign)
                if !foreignTargets.isEmpty {
                    let port = ports[foreign.id]?.first
                    plan.cross.append(.init(
                        from: name, fromProject: self.target.project, to: foreign.name, toProject: project,
                        key: "cross-project.tcp/\(name)/\(foreign.name)", targets: foreignTargets, port: port ?? 9,
                        portIsListening: port != nil))
                }
            }
        }
        let pids = Dictionary((running + snapshot.foreignContainers).map { ($0.name, $0.state.pid) }) { a, _ in a }
        for cross in plan.cross {
            guard let pid = pids[cross.from] else { continue }
            let port = UInt16(cross.port)
            for target in cross.targets {
                plan.tasks.append(ProbeTask(key: cross.key(for: target), namespace: .process(pid)) {
                    SocketProbe.tcpConnect(target, port: port, timeout: connect)
                })
            }
        }

        if target.isSwarm { addSwarmProbes(&plan, snapshot, running: running, canary: canary) }
        if let gateway = target.gateway, let (host, port) = IsolationTarget.hostAndPort(of: target.gatewayURL),
           !target.isSwarm || running.contains(where: isGateway) {
            plan.gatewayKey = "control.gateway-http"
            let timeout = options.httpTimeout
            plan.tasks.append(ProbeTask(key: "control.gateway-http", namespace: .host) {
                SocketProbe.httpGet(host, port: port, path: gateway.healthPath, timeout: timeout)
            })
        }
        return plan
    }

    func hostReachTasks(_ reach: ProbePlan.HostReach, namespace: ProbeNamespace, canary: HostCanary) -> [ProbeTask] {
        let connect = options.connectTimeout
        let address = canary.address
        let tcpPort = canary.listener.tcpPort
        let udpPort = canary.listener.udpPort
        let payload = Array(reach.payload.utf8)
        return [
            ProbeTask(key: reach.tcpKey, namespace: namespace) {
                SocketProbe.tcpConnect(address, port: tcpPort, timeout: connect)
            },
            ProbeTask(key: reach.udpKey, namespace: namespace) {
                SocketProbe.udpSend(address, port: udpPort, payload: payload)
            },
        ]
    }

    private func recordEgress(
        _ plan: ProbePlan, _ outcomes: [String: ProbeOutcome], _ seen: EgressCanary.Observation,
        canary: EgressCanary, canaryWorks: Bool, into checks: inout CheckList
    ) {
        let untrusted = canaryWorks ? "" : " (canary self-test failed: this result proves nothing)"
        let remedy = "the container can send traffic off its bridge: attach it only to internal networks and check that dockerd manages iptables"
        for egress in plan.egress {
            let tcp = outcomes[egress.tcpKey] ?? .hung(seconds: options.watchdogSeconds)
            checks.add(
                egress.tcpKey, "egress", "No TCP egress from \(egress.container)",
                probe: "in the netns of \(egress.container): TCP connect \(canary.canaryAddress):\(options.canaryTCPPort)",
                expected: "blocked or timed out",
                observed: tcp.description + untrusted,
                status: tcp.reachedTarget == false && canaryWorks ? .pass : .fail, remedy: remedy)
            let udp = outcomes[egress.udpKey] ?? .hung(seconds: options.watchdogSeconds)
            let arrived = seen.datagrams.contains { $0.payload == egress.payload }
            let udpOK: Bool
            switch udp {
            case .sent, .blocked: udpOK = !arrived
            default: udpOK = false
            }
            checks.add(
                egress.udpKey, "egress", "No UDP egress from \(egress.container)",
                probe: "in the netns of \(egress.container): UDP datagram '\(egress.payload)' to \(canary.canaryAddress):\(options.canaryUDPPort)",
                expected: "the canary does not receive it",
                observed: "\(udp); the canary \(arrived ? "RECEIVED it" : "did not receive it")" + untrusted,
                status: udpOK && canaryWorks ? .pass : .fail, remedy: remedy)
        }
        let datagrams = seen.datagrams.map { "'\($0.payload)' from \($0.source)" }
        checks.add(
            "egress.canary-received", "egress", "The canary received nothing from the containers",
            probe: "canary \(canary.namespaceName): Ip InReceives since the self-test, accepted connections, datagrams",
            expected: "0 packets",
            observed: "\(seen.packets) IPv4 packet(s); \(seen.tcpSources.count) connection(s)\(seen.tcpSources.isEmpty ? "" : " from \(seen.tcpSources.joined(separator: ", "))"); \(seen.datagrams.count) datagram(s)\(datagrams.isEmpty ? "" : ": \(datagrams.joined(separator: ", "))")" + untrusted,
            status: seen.isEmpty && canaryWorks ? .pass : .fail,
            remedy: "traffic left the project's bridge: see the egress checks for which container sent it")
    }
}
