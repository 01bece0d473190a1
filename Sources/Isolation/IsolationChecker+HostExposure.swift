import FrostbyteCore
import Engine
import FoundationEssentials
import Glibc

/// The checker's own listener on a project bridge's host address: if a container
/// can reach it, it can reach every host service listening on all addresses, and
/// the checker never has to touch those services to prove it.
struct HostCanary {
    let network: DockerNetwork
    let address: String
    let listener: CountingListener
}

extension IsolationChecker {
    /// One host canary per project bridge network whose host address is known.
    func makeHostCanaries(_ snapshot: IsolationSnapshot) -> [String: HostCanary] {
        var canaries: [String: HostCanary] = [:]
        let bridges = snapshot.networks.filter { $0.driver == "bridge" }
        let timeout = options.commandTimeout
        // One `ip` call per bridge, all at once.
        let addresses = bridges.map { network in BackgroundWork { HostFacts.gatewayAddress(of: network, timeout: timeout) } }
        for (network, work) in zip(bridges, addresses) {
            guard let address = (try? work.join()) ?? nil,
                  let listener = try? CountingListener(address: address) else { continue }
            canaries[network.id] = HostCanary(network: network, address: address, listener: listener)
        }
        return canaries
    }

    /// Host exposure per project bridge (`listeners`: the host's listening sockets,
    /// read by the caller while the probes ran): can a container open a connection to (or
    /// deliver a datagram to) the host through the bridge? If so, every host socket
    /// listening on 0.0.0.0 or :: is a warning naming its port and process. With
    /// `fixHostExposure`, adds the INPUT reject rule for that bridge, records it
    /// under the prefix and probes again.
    func recordHostExposure(
        _ snapshot: IsolationSnapshot, plan: ProbePlan, outcomes: [String: ProbeOutcome],
        canaries: [String: HostCanary], listeners listed: Result<[HostListener], any Error>, runID: String,
        firewall: inout FirewallFacts, into checks: inout CheckList
    ) throws {
        let listeners: [HostListener]
        do {
            listeners = try listed.get()
        } catch {
            listeners = []
            checks.add(
                "host-exposure.listeners", "host-exposure", "Host sockets listening on all addresses",
                probe: "ss -H -ltnup", expected: "a list of listening sockets", observed: "\(error)", status: .warn,
                remedy: "install iproute2 (ss) so host services can be listed")
        }
        let wildcard = listeners.filter(\.isWildcard).sorted { ($0.port, $0.proto) < ($1.port, $1.proto) }
        let pids = Dictionary(snapshot.runningContainers.map { ($0.name, $0.state.pid) }) { a, _ in a }

        for (networkID, reaches) in plan.hostReach.sorted(by: { $0.key < $1.key }) {
            guard let canary = canaries[networkID] else { continue }
            let network = canary.network
            let networkKey = network.label(IsolationLabels.composeNetwork) ?? network.name
            let probe = "in each container's netns: TCP connect and UDP datagram to the checker's own listener on the host at \(canary.address) (bridge \(network.bridgeInterface))"
            var result = evaluateHostReach(reaches, outcomes, canary: canary)

            if result.reached == true && options.fixHostExposure, let prefix = target.prefix {
                let rule = HostFirewall.rejectRule(project: target.project, network: network.name, bridge: network.bridgeInterface)
                checks.add(
                    "host-exposure.before-fix/\(networkKey)", "host-exposure", "Host reachable from \(network.name) before the fix",
                    probe: probe, expected: "not reachable", observed: result.detail, status: .info)
                try HostFirewall.apply(rule, prefix: prefix, timeout: options.commandTimeout)
                checks.add(
                    "host-exposure.fix/\(networkKey)", "host-exposure", "Firewall rule for \(network.bridgeInterface)",
                    probe: "\(rule.command) -I \(rule.chain) 1 \(rule.args.map(Self.quoted).joined(separator: " "))",
                    expected: "rule present and recorded",
                    observed: "present; recorded in \(HostFirewall.recordPath(prefix: prefix)) (uninstall removes it)",
                    status: .info)
                let tasks = reaches.flatMap { reach -> [ProbeTask] in
                    guard let pid = pids[reach.container] else { return [] }
                    return hostReachTasks(reach, namespace: .process(pid), canary: canary)
                }
                let again = ProbeRunner.run(tasks, watchdog: options.watchdogSeconds, settle: 0.1)
                result = evaluateHostReach(reaches, again, canary: canary)
                firewall = FirewallFacts.gather(timeout: options.commandTimeout)
            }

            let repair = target.publish == nil ? "" : "run 'frostbyte-bundle repair --prefix \(target.prefix ?? "<prefix>")' (puts back the rules the install recorded), or "
            let remedy = repair + "run 'frostbyte-bundle check-isolation --prefix <prefix> --fix-host-exposure' (adds 'iptables -I INPUT -i \(network.bridgeInterface) -m conntrack --ctstate NEW -j REJECT' and records it for uninstall), or re-run install (it inserts that rule for releases with an ingress network), or bind host services to 127.0.0.1 or a specific address"
            // An installation that publishes its gateway promises this rule: its
            // absence is a failure there, a warning for older releases.
            let missing: CheckStatus = target.publish != nil ? .fail : .warn
            checks.add(
                "host-exposure.bridge/\(networkKey)", "host-exposure", "Containers on \(network.name) cannot open connections to the host",
                probe: probe, expected: "blocked or timed out, nothing received",
                observed: result.detail,
                status: result.reached == false ? .pass : missing, remedy: remedy)
            for listener in wildcard {
                let reachable = result.reached != false
                checks.add(
                    "host-exposure.listener/\(networkKey)/\(listener.proto)/\(listener.port)", "host-exposure",
                    "Host \(listener.proto) port \(listener.port) (\(listener.process))",
                    probe: "ss -H -ltnup; reachability from \(network.name) as in host-exposure.bridge/\(networkKey)",
                    expected: "not reachable from the project's containers",
                    observed: "\(listener.proto) \(listener.address):\(listener.port) \(listener.process) listens on all addresses; containers on \(network.name) \(reachable ? "CAN reach" : "cannot reach") the host at \(canary.address)",
                    status: reachable ? .warn : .info,
                    remedy: "port \(listener.port) (\(listener.process)) is reachable from the containers: " + remedy)
            }
        }
    }

    /// Reached: true when any container connected or delivered a datagram, false when
    /// every probe was blocked and nothing arrived, nil when a probe could not run.
    private func evaluateHostReach(
        _ reaches: [ProbePlan.HostReach], _ outcomes: [String: ProbeOutcome], canary: HostCanary
    ) -> (reached: Bool?, detail: String) {
        let seen = canary.listener.collect()
        var reached: Bool? = false
        var lines: [String] = []
        for reach in reaches {
            let tcp = outcomes[reach.tcpKey] ?? .hung(seconds: options.watchdogSeconds)
            let udp = outcomes[reach.udpKey] ?? .hung(seconds: options.watchdogSeconds)
            let arrived = seen.udp.contains { $0.payload == reach.payload }
            if tcp.reachedTarget == true || arrived { reached = true }
            if (tcp.isProbeFailure || udp.isProbeFailure) && reached == false { reached = nil }
            lines.append("\(reach.container): TCP \(tcp); UDP \(udp), \(arrived ? "RECEIVED" : "not received")")
        }
        return (reached, lines.joined(separator: "; "))
    }

    static func quoted(_ word: String) -> String { word.contains(" ") ? "\"\(word)\"" : word }
}
