import Engine
import FoundationEssentials
import Glibc

extension IsolationChecker {
    /// Engine facts and the protections that depend on its version.
    func checkEngine(
        _ engine: DockerEngineInfo, snapshot: IsolationSnapshot, firewall: FirewallFacts, into checks: inout CheckList
    ) {
        checks.add(
            "engine.version", "engine", "Docker Engine",
            probe: "docker info; docker version", expected: "(reported)",
            observed: "Engine \(engine.serverVersion), API \(engine.apiVersion.isEmpty ? "?" : engine.apiVersion), kernel \(engine.kernelVersion)",
            status: .info)
        checks.add(
            "engine.firewall-backend", "engine", "Firewall backend",
            probe: "docker info (FirewallBackend); iptables --version", expected: "(reported)",
            observed: "docker: \(engine.firewallBackend.isEmpty ? "not reported (Engine < 28)" : engine.firewallBackend); iptables: \(firewall.iptablesBackend)",
            status: .info)
        checks.add(
            "engine.iptables", "engine", "Docker manages IPv4 isolation rules",
            probe: "iptables -S (chains DOCKER-ISOLATION-STAGE-1 / DOCKER-FORWARD)", expected: "present",
            observed: firewall.dockerIPv4Chains ? "present" : "absent", status: firewall.dockerIPv4Chains ? .pass : .fail,
            remedy: "dockerd runs with --iptables=false, so internal networks are not enforced; remove that option and restart dockerd")

        let ipv6Networks = snapshot.networks.filter(\.enableIPv6)
        for network in snapshot.networks {
            checks.add(
                "engine.ipv6/\(network.name)", "engine", "IPv6 on \(network.name)",
                probe: "docker network inspect \(network.name) --format {{.EnableIPv6}}", expected: "false (unless asked for)",
                observed: "EnableIPv6: \(network.enableIPv6)", status: network.enableIPv6 ? .warn : .pass,
                remedy: "keep IPv6 off on the project network unless it is needed; before Engine 27 ip6tables was off by default and an IPv6 internal network may have no isolation rules")
        }
        checks.add(
            "engine.ip6tables", "engine", "Docker manages IPv6 isolation rules",
            probe: "ip6tables -S (Docker chains)", expected: ipv6Networks.isEmpty ? "(not needed: no IPv6 network)" : "present",
            observed: firewall.dockerIPv6Chains ? "present" : "absent",
            status: ipv6Networks.isEmpty ? .info : (firewall.dockerIPv6Chains ? .pass : .fail),
            remedy: "an IPv6 project network without ip6tables rules is not isolated: start dockerd with --ip6tables or disable IPv6 on the network")

        let modern = engine.isAtLeast(28)
        for network in snapshot.networks where network.driver == "bridge" {
            let mode = network.options["com.docker.network.bridge.gateway_mode_ipv4"] ?? ""
            let guarded = firewall.guardedBridges.contains(network.bridgeInterface)
            let status: CheckStatus
            let observed: String
            if modern {
                status = mode == "isolated" || guarded ? .pass : .warn
                observed = "gateway_mode_ipv4=\(mode.isEmpty ? "(unset)" : mode)" + (guarded ? "; host INPUT rule rejects new connections from \(network.bridgeInterface)" : "")
            } else {
                status = guarded ? .pass : .warn
                observed = "Engine \(engine.serverVersion) has no gateway_mode_ipv4; " + (guarded
                    ? "host INPUT rule rejects new connections from \(network.bridgeInterface)"
                    : "no host INPUT rule for \(network.bridgeInterface)")
            }
            checks.add(
                "engine.gateway-mode/\(network.name)", "engine", "Host address isolated from \(network.name)",
                probe: "docker network inspect \(network.name) --format {{json .Options}}; iptables -S INPUT",
                expected: modern ? "a host INPUT rule for the bridge (or gateway_mode_ipv4=isolated, which also cuts the host off the containers)" : "a host INPUT rule for the bridge (Engine < 28)",
                observed: observed, status: status,
                remedy: modern
                    ? "re-run install (it inserts the INPUT rule for releases with an ingress network), or run check-isolation --fix-host-exposure"
                    : "containers can reach host services through \(network.bridgeInterface): run check-isolation --fix-host-exposure or add an equivalent host firewall rule")
        }
        if !engine.isAtLeast(26) {
            checks.add(
                "engine.cve-2024-29018", "engine", "Embedded DNS and CVE-2024-29018",
                probe: "docker info (ServerVersion)", expected: "(observed by the dns.external checks)",
                observed: "Engine \(engine.serverVersion) predates the upstream fix (26.0.0, 25.0.5, 23.0.11); distributions may carry a backport, so the dns.external checks observe the actual behaviour",
                status: .info)
        }
    }

    /// Default routes inside the containers: reported, not judged. On Engine < 25
    /// internal networks keep a default route, which is not itself a leak — the
    /// egress probes are what count.
    func checkRoutes(_ snapshot: IsolationSnapshot, into checks: inout CheckList) {
        for container in snapshot.runningContainers {
            let route = HostFacts.defaultGateway(pid: container.state.pid)
            checks.add(
                "route.default/\(container.name)", "route", "Default route in \(container.name)",
                probe: "/proc/\(container.state.pid)/net/route", expected: "(reported; egress checks decide)",
                observed: route.present ? "default via \(route.gateway ?? "?")" : "no default route", status: .info)
        }
    }
}
