import BundleFormat
import FoundationEssentials
import Glibc

extension IsolationChecker {
    /// Positive controls: peers resolve by service name and accept a connection,
    /// and the gateway answers HTTP where the host reaches it (`gateway_url`: its
    /// published address, else its fixed one). Without them a probe
    /// that can reach nothing at all would pass as "isolated".
    func recordControls(_ plan: ProbePlan, _ outcomes: [String: ProbeOutcome], into checks: inout CheckList) {
        for peer in plan.peerNames {
            let outcome = outcomes[peer.key] ?? .hung(seconds: options.watchdogSeconds)
            var ok = false
            if case .dns(0, let addresses) = outcome { ok = !Set(addresses).isDisjoint(with: peer.expected) }
            checks.add(
                peer.key, "control", "\(peer.container) resolves service \(peer.service)",
                probe: "in the netns of \(peer.container): DNS A \(peer.service) via Docker's embedded resolver 127.0.0.11",
                expected: "an address of \(peer.service): \(peer.expected.joined(separator: ", "))",
                observed: outcome.description, status: ok ? .pass : .fail,
                remedy: "service discovery inside the project is broken, so the isolation probes cannot be trusted; check that the containers share the project network")
        }
        for peer in plan.peerTCP {
            guard let port = peer.port else {
                checks.add(
                    peer.key, "control", "\(peer.container) connects to \(peer.service)",
                    probe: "listening TCP ports of \(peer.service) (/proc/<pid>/net/tcp)", expected: "a listening port",
                    observed: "\(peer.service) listens on no TCP port; name resolution is the control", status: .info)
                continue
            }
            let outcome = outcomes[peer.key] ?? .hung(seconds: options.watchdogSeconds)
            checks.add(
                peer.key, "control", "\(peer.container) connects to \(peer.service)",
                probe: "in the netns of \(peer.container): TCP connect \(peer.target):\(port)",
                expected: "connected", observed: outcome.description, status: outcome == .connected ? .pass : .fail,
                remedy: "containers of the project cannot reach each other, so the isolation probes cannot be trusted")
        }
        if let key = plan.gatewayKey, let gateway = target.gateway, let url = target.gatewayURL {
            let outcome = outcomes[key] ?? .hung(seconds: options.watchdogSeconds)
            var ok = false
            if case .http(let status) = outcome { ok = (200..<400).contains(status) }
            let published = target.publish != nil
            checks.add(
                key, "control", published ? "Gateway answers at its published address" : "Gateway answers at its fixed address",
                probe: "from the host: HTTP GET \(url)\(gateway.healthPath)",
                expected: "HTTP 2xx or 3xx", observed: outcome.description, status: ok ? .pass : .fail,
                remedy: published
                    ? "the host cannot reach the gateway where install published it (\(target.publish ?? "")): check that \(gateway.service) is running and healthy and that its port is published there (docker compose port)"
                    : "the host cannot reach the gateway: check that \(gateway.service) is healthy and has ipv4_address \(gateway.ipv4Address)")
        } else if target.gateway == nil {
            checks.add(
                "control.gateway-http", "control", "Gateway answers at its fixed address",
                probe: "(none)", expected: "(no manifest: gateway unknown)", observed: "not checked", status: .info)
        }
    }

    /// DNS: a name outside the project must not resolve from inside the containers.
    /// An address is a failure; NXDOMAIN or an empty NOERROR shows that some resolver
    /// beyond the project answered (a channel out), a warning; no answer, SERVFAIL or
    /// REFUSED pass.
    func recordExternalDNS(_ plan: ProbePlan, _ outcomes: [String: ProbeOutcome], into checks: inout CheckList) {
        for probe in plan.external {
            let outcome = outcomes[probe.key] ?? .hung(seconds: options.watchdogSeconds)
            let status: CheckStatus
            switch outcome {
            case .dns(_, let addresses) where !addresses.isEmpty: status = .fail
            case .dns(let rcode, _): status = rcode == 0 || rcode == 3 ? .warn : .pass
            case .timedOut, .refused, .blocked, .forwardedToLoopback: status = .pass
            default: status = .fail
            }
            checks.add(
                probe.key, "dns", "\(probe.container) cannot resolve outside names",
                probe: "in the netns of \(probe.container): DNS A \(options.externalName) via 127.0.0.11",
                expected: "no address (no answer, SERVFAIL or REFUSED)", observed: outcome.description, status: status,
                remedy: "Docker's embedded DNS forwards outside names for this container: upgrade the engine (CVE-2024-29018 is fixed in 26.0.0/25.0.5/23.0.11), and point dockerd's --dns at a resolver that refuses outside names")
        }
    }

    /// Cross-project: no container of another installed project reaches this one's,
    /// and the reverse. A probe from or to another project's container that vanished
    /// while the probes ran observed nothing that counts: it is `info`.
    func recordCrossProject(
        _ plan: ProbePlan, _ outcomes: [String: ProbeOutcome], snapshot: IsolationSnapshot,
        vanished: [VanishedObject], into checks: inout CheckList
    ) {
        guard !snapshot.foreignContainers.isEmpty else {
            checks.add(
                "cross-project.none", "cross-project", "Other projects on this host",
                probe: "docker ps --filter label=\(IsolationLabels.frostbyteProject)",
                expected: "(none needed)", observed: "no running container of another frostbyte project", status: .info)
            return
        }
        let gone = Dictionary(vanished.filter { !$0.ownedByTarget }.map { ($0.name, $0) }) { first, _ in first }
        for cross in plan.cross {
            let results = cross.targets.map { ($0, outcomes[cross.key(for: $0)] ?? .hung(seconds: options.watchdogSeconds)) }
            let portNote = cross.portIsListening ? "" : " (no listener: a reset would prove the path open)"
            var status: CheckStatus = results.allSatisfy { $0.1.reachedTarget == false } ? .pass : .fail
            var observed = results.count == 1 ? results[0].1.description
                : results.map { "\($0.0): \($0.1)" }.joined(separator: "; ")
            if let object = gone[cross.from] ?? gone[cross.to] {
                status = .info
                observed += "; \(object.label) (project \(object.project ?? "?")) vanished during the check (\(object.observation)): not counted"
            }
            let targets = cross.targets.map { "\($0):\(cross.port)" }.joined(separator: ", ")
            checks.add(
                cross.key, "cross-project", "\(cross.from) (\(cross.fromProject)) cannot reach \(cross.to) (\(cross.toProject))",
                probe: "in the netns of \(cross.from): TCP connect \(targets)\(portNote)",
                expected: "blocked or timed out", observed: observed, status: status,
                remedy: "the projects share a network or a route: give each project its own internal network and never connect a container to another project's network")
        }
    }
}
