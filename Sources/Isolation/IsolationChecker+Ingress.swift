import BundleFormat
import Stack
import Engine
import FoundationEssentials
import Glibc

extension IsolationChecker {
    /// The ingress network's configuration and the host firewall rules the design
    /// relies on. The probes prove the outcome (egress from the gateway through its
    /// ingress interface, host reachability from every bridge); these checks say
    /// which piece is missing when a probe fails:
    /// - `configuration.ingress-masquerade/<net>`: IP masquerading off (no traffic
    ///   leaves with the host's address);
    /// - `configuration.ingress-members/<net>`: only the gateway is attached;
    /// - `configuration.ingress-forward-rule/<net>`: DOCKER-USER rejects new
    ///   connections from its bridge (without it the gateway routes anywhere);
    /// - `configuration.host-input-rule/<net>`: for an installation that publishes the
    ///   gateway, INPUT rejects new connections from each project bridge.
    func checkIngress(_ snapshot: IsolationSnapshot, firewall: FirewallFacts, into checks: inout CheckList) {
        let repair = "run 'frostbyte-bundle repair --prefix \(target.prefix ?? "<prefix>")': it puts back the firewall rules the install recorded (after a reboot or a firewall reload)"
        let remedy = "re-run install: it creates the ingress network and inserts (and records) the firewall rules before the stack starts"
        if target.isSwarm { return checkSwarmFirewall(snapshot, into: &checks) }
        for network in snapshot.networks where isIngress(network) {
            let key = network.label(IsolationLabels.composeNetwork) ?? network.name
            let inspect = "docker network inspect \(network.name)"
            let masquerade = network.options[IngressNetwork.masqueradeOption]
            checks.add(
                "configuration.ingress-masquerade/\(key)", "configuration", "Ingress network \(network.name) does not masquerade",
                probe: "\(inspect) --format {{json .Options}}", expected: "\(IngressNetwork.masqueradeOption)=false",
                observed: "\(IngressNetwork.masqueradeOption)=\(masquerade ?? "(unset: true)")",
                status: masquerade == "false" ? .pass : .fail, remedy: remedy)

            let members = network.containers.map { id, attachment -> (String, Bool) in
                let container = snapshot.containers.first { $0.id == id }
                return (attachment.name, container.map(isGateway) ?? false)
            }.sorted { $0.0 < $1.0 }
            let others = members.filter { !$0.1 }.map(\.0)
            let ok = others.isEmpty && members.count <= 1
            checks.add(
                "configuration.ingress-members/\(key)", "configuration", "Only the gateway is on \(network.name)",
                probe: "\(inspect) --format {{json .Containers}}",
                expected: "the gateway container \(target.gateway.map { "(service \($0.service)) " } ?? "")alone",
                observed: members.isEmpty ? "no container attached" : members.map(\.0).joined(separator: ", "),
                status: ok ? .pass : .fail,
                remedy: "disconnect the other containers (docker network disconnect \(network.name) <container>): only the gateway may have a non-internal network")

            let bridge = network.bridgeInterface
            let guarded = firewall.forwardGuardedBridges.contains(bridge)
            checks.add(
                "configuration.ingress-forward-rule/\(key)", "configuration", "Host forwards no new connection from \(bridge)",
                probe: "iptables -S DOCKER-USER", expected: "-A DOCKER-USER -i \(bridge) ... -j REJECT (or DROP)",
                observed: guarded ? "present" : "no DOCKER-USER rule rejects new connections from \(bridge)",
                status: guarded ? .pass : .fail, remedy: repair)
        }
        guard target.publish != nil else { return }
        for network in snapshot.networks where network.driver == "bridge" {
            let key = network.label(IsolationLabels.composeNetwork) ?? network.name
            let bridge = network.bridgeInterface
            let guarded = firewall.guardedBridges.contains(bridge)
            checks.add(
                "configuration.host-input-rule/\(key)", "configuration", "Host accepts no new connection from \(bridge)",
                probe: "iptables -S INPUT", expected: "-A INPUT -i \(bridge) ... -j REJECT (or DROP)",
                observed: guarded ? "present" : "no INPUT rule rejects new connections from \(bridge)",
                status: guarded ? .pass : .fail, remedy: repair)
        }
    }
}
