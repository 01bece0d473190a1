import FrostbyteCore
import Engine
import Stack
import InstallationState
import FoundationEssentials
import Glibc

/// One probe of a Swarm node's checks and how its outcome is judged.
struct SwarmProbe {
    var key: String
    var category: String
    var title: String
    var probe: String
    var expected: String
    var judge: @Sendable (ProbeOutcome) -> Bool
    var remedy: String
}

extension IsolationChecker {
    /// The port every swarm node listens on (TCP gossip, `docker swarm` control plane):
    /// a host service of the node that any task could try.
    static let swarmGossipPort: UInt16 = 7946

    /// The gateway's firewall rules on this node (`SwarmGatewayFirewall`), each present
    /// or named as missing; `info` on a node that does not run the gateway.
    func checkSwarmFirewall(_ snapshot: IsolationSnapshot, into checks: inout CheckList) {
        guard let publish = target.publish, snapshot.runningContainers.contains(where: isGateway) else {
            checks.add(
                "configuration.swarm-firewall", "configuration", "Gateway firewall rules on this node",
                probe: "docker ps (the gateway's task of stack \(target.project))", expected: "(only on the gateway's node)",
                observed: "the gateway of \(target.project) does not run on this node", status: .info)
            return
        }
        let marker = SwarmGatewayFirewall.comment(stack: target.project, what: "")
        for rule in SwarmGatewayFirewall.rules(stack: target.project, publish: publish) {
            let present = HostFirewall.isPresent(rule, timeout: options.commandTimeout)
            let what = rule.args.first { $0.hasPrefix(marker) }.map { String($0.dropFirst(marker.count)) } ?? rule.chain
            checks.add(
                "configuration.swarm-firewall/\(what)", "configuration",
                "Node rejects \(rule.purpose ?? "what the gateway must not get")",
                probe: "\(rule.command) -w -C \(rule.chain) \(rule.args.map(Self.quoted).joined(separator: " "))",
                expected: "present", observed: present ? "present" : "missing from \(rule.command) \(rule.chain)",
                status: present ? .pass : .fail,
                remedy: "run 'frostbyte-bundle repair --prefix \(target.prefix ?? "<prefix>")' on this node: it puts back the gateway's firewall rules")
        }
    }

    /// Swarm probes: from every task here, each other service of the stack by name
    /// (its tasks may run on other nodes: a DNS answer, then a TCP connection to the
    /// first address, where a reset proves the path as well as an accept), and the
    /// node's own swarm port (must not be reachable); on the gateway's node, the
    /// published port at the node's swarm address from the node itself and from the
    /// canary's namespace (another machine on the LAN, as far as the node can tell),
    /// with the canary reaching the node's swarm port as the control that it can.
    func addSwarmProbes(_ plan: inout ProbePlan, _ snapshot: IsolationSnapshot, running: [DockerContainer], canary: EgressCanary) {
        let connect = options.connectTimeout, dns = options.dnsTimeout
        let reached: @Sendable (ProbeOutcome) -> Bool = { $0.reachedTarget == true }
        let blocked: @Sendable (ProbeOutcome) -> Bool = { $0.reachedTarget == false }
        func add(_ probe: SwarmProbe, _ namespace: ProbeNamespace, _ body: @escaping @Sendable () -> ProbeOutcome) {
            plan.swarm.append(probe)
            let task = ProbeTask(key: probe.key, namespace: namespace, body: body)
            if case .file = namespace { plan.fromCanary.append(task) } else { plan.tasks.append(task) }
        }
        let gossip = Self.swarmGossipPort
        for container in running {
            let name = container.name, own = IsolationSnapshot.service(of: container)
            let namespace = ProbeNamespace.process(container.state.pid)
            if let node = nodeAddress {
                add(SwarmProbe(
                    key: "host-exposure.node/\(name)", category: "host-exposure", title: "\(name) cannot reach this node's services",
                    probe: "in the netns of \(name): TCP connect \(node):\(gossip) (the node's swarm port)",
                    expected: "blocked or timed out", judge: blocked,
                    remedy: "a task reaches its node: keep it on internal overlays only; the gateway's node needs its firewall rules ('frostbyte-bundle repair --prefix \(target.prefix ?? "<prefix>")')"),
                    namespace) { SocketProbe.tcpConnect(node, port: gossip, timeout: connect) }
            }
            for service in target.swarmServices ?? [] where service != own {
                add(SwarmProbe(
                    key: "control.swarm-peer/\(name)/\(service)", category: "control",
                    title: "\(name) reaches \(service) by name (on any node)",
                    probe: "in the netns of \(name): DNS \(service) at 127.0.0.11, then TCP connect to the first address, port 9 (a reset proves the path)",
                    expected: "connected or refused", judge: reached,
                    remedy: "the stack's tasks cannot reach each other across nodes: check the overlay (an encrypted overlay needs ESP between the nodes) and that every node runs the stack's tasks healthy"),
                    namespace, SwarmPeerProbe.body(service: service, dnsTimeout: dns, connectTimeout: max(connect, 1)))
            }
        }
        // Other stacks (tenants) by their Swarm names `<stack>_<service>`: the
        // stacks whose tasks run here, each with its services here and this stack's
        // service names (tenants of one bundle share them). An answer would carry the
        // addresses of its tasks on every node.
        var foreign: [String: Set<String>] = [:]
        for container in snapshot.foreignContainers {
            guard let stack = container.label(IsolationLabels.stackNamespace), stack != target.project else { continue }
            foreign[stack, default: Set(target.swarmServices ?? [])].insert(IsolationSnapshot.service(of: container))
        }
        for container in running {
            let namespace = ProbeNamespace.process(container.state.pid)
            // The control for the probes below: this stack's own Swarm name of a peer answers.
            if !foreign.isEmpty, let peer = (target.swarmServices ?? []).first(where: { $0 != IsolationSnapshot.service(of: container) }) {
                let name = "\(target.project)_\(peer)"
                add(SwarmProbe(
                    key: "control.swarm-name/\(container.name)/\(name)", category: "control",
                    title: "\(container.name) resolves its own stack's \(name)",
                    probe: "in the netns of \(container.name): DNS \(name) at 127.0.0.11", expected: "an address",
                    judge: { if case .dns(0, let addresses) = $0 { return !addresses.isEmpty }; return false },
                    remedy: "Swarm names do not resolve here, so the cross-project.swarm-name checks prove nothing"),
                    namespace) { SocketProbe.dnsQuery(name: name, server: "127.0.0.11", timeout: dns) }
            }
            for (stack, services) in foreign.sorted(by: { $0.key < $1.key }) {
                for service in services.sorted() {
                    let name = "\(stack)_\(service)"
                    add(SwarmProbe(
                        key: "cross-project.swarm-name/\(container.name)/\(name)", category: "cross-project",
                        title: "\(container.name) cannot resolve \(name) (stack \(stack))",
                        probe: "in the netns of \(container.name): DNS \(name) at 127.0.0.11",
                        expected: "no address", judge: { outcome in
                            if case .dns(_, let addresses) = outcome { return addresses.isEmpty }
                            return outcome.reachedTarget == false
                        },
                        remedy: "the stacks share an overlay: give each stack its own internal overlay and never attach a service to another stack's network"),
                        namespace) { SocketProbe.dnsQuery(name: name, server: "127.0.0.11", timeout: dns) }
                }
            }
        }
        guard let node = nodeAddress, let publish = target.publish, running.contains(where: isGateway),
              let (address, port) = GatewayIngress.binding(publish: publish), address != node, address != "0.0.0.0" else { return }
        let remedy = "the gateway answers where it was not published: run 'frostbyte-bundle repair --prefix \(target.prefix ?? "<prefix>")' on this node"
        add(SwarmProbe(
            key: "control.canary-to-node", category: "control", title: "The canary reaches this node",
            probe: "in the canary's netns: TCP connect \(node):\(gossip)", expected: "connected or refused", judge: reached,
            remedy: "the canary cannot reach the node, so control.gateway-lan/canary proves nothing; check the canary's route"),
            .file("/run/netns/\(canary.namespaceName)")) { SocketProbe.tcpConnect(node, port: gossip, timeout: connect) }
        add(SwarmProbe(
            key: "control.gateway-lan/canary", category: "control", title: "The gateway does not answer at \(node):\(port) from outside",
            probe: "in the canary's netns: TCP connect \(node):\(port)", expected: "blocked or timed out", judge: blocked, remedy: remedy),
            .file("/run/netns/\(canary.namespaceName)")) { SocketProbe.tcpConnect(node, port: port, timeout: connect) }
        add(SwarmProbe(
            key: "control.gateway-lan/node", category: "control", title: "The gateway does not answer at \(node):\(port) on its node",
            probe: "from the node: TCP connect \(node):\(port)", expected: "blocked or timed out", judge: blocked, remedy: remedy),
            .host) { SocketProbe.tcpConnect(node, port: port, timeout: connect) }
    }

    /// Records the Swarm probes.
    func recordSwarm(_ plan: ProbePlan, _ outcomes: [String: ProbeOutcome], into checks: inout CheckList) {
        for probe in plan.swarm {
            let outcome = outcomes[probe.key] ?? .hung(seconds: options.watchdogSeconds)
            checks.add(probe.key, probe.category, probe.title, probe: probe.probe, expected: probe.expected,
                       observed: outcome.description, status: probe.judge(outcome) ? .pass : .fail, remedy: probe.remedy)
        }
    }
}


/// One cross-node positive control outside a checker run, for `install --swarm`:
/// from the network namespace of a task (its process `pid`), the service `service`
/// by name at the task's embedded DNS, then a TCP connection to the first address on
/// port 9, where a reset proves the path as well as an accept.
public enum SwarmPeerProbe {
    /// The outcome: `reached` true (connected or refused), false (blocked or timed
    /// out: the path drops), nil (no DNS answer yet, or the probe could not run),
    /// and what was observed, in words.
    public static func probe(pid: Int32, service: String, timeout: Double) -> (reached: Bool?, detail: String) {
        let task = ProbeTask(key: "peer", namespace: .process(pid),
                             body: body(service: service, dnsTimeout: timeout, connectTimeout: timeout))
        let outcome = ProbeRunner.run([task], watchdog: timeout * 3)["peer"] ?? .hung(seconds: timeout * 3)
        if case .dns = outcome { return (nil, "no address for \(service) yet (\(outcome))") }
        return (outcome.reachedTarget, "\(service): \(outcome)")
    }

    /// The probe itself, run inside the task's namespace: the DNS answer when there is
    /// no address, else the TCP outcome.
    static func body(service: String, dnsTimeout: Double, connectTimeout: Double) -> @Sendable () -> ProbeOutcome {
        {
            let answer = SocketProbe.dnsQuery(name: service, server: "127.0.0.11", timeout: dnsTimeout)
            guard case .dns(0, let addresses) = answer, let first = addresses.first else { return answer }
            return SocketProbe.tcpConnect(first, port: 9, timeout: connectTimeout)
        }
    }
}
