import BundleFormat
import Stack
import Engine
import InstallationState
import FoundationEssentials
import Glibc

extension IsolationChecker {
    /// Live configuration: networks (internal, subnet, members) and containers
    /// (networks, privilege, host namespaces, published ports, image, running).
    func checkConfiguration(_ snapshot: IsolationSnapshot, into checks: inout CheckList) {
        checkNetworks(snapshot, into: &checks)
        checkExtraNetworks(snapshot, into: &checks)
        for container in snapshot.containers { checkContainer(container, snapshot, into: &checks) }
        checkGatewayAddress(snapshot, into: &checks)
    }

    private func checkNetworks(_ snapshot: IsolationSnapshot, into checks: inout CheckList) {
        let inspect = "docker network inspect"
        var expected = target.networks
        if !target.hasManifest {
            // No manifest: every live project network must be internal; subnets unknown.
            expected = snapshot.networks.map {
                .init(name: $0.label(IsolationLabels.composeNetwork) ?? $0.name, subnet: nil, internal: !isIngress($0))
            }
            checks.add(
                "configuration.manifest", "configuration", "Manifest comparison",
                probe: "--project \(target.project) without --prefix", expected: "MANIFEST.json of the installation",
                observed: "no manifest: subnets and image IDs are not compared, every project network but the ingress network must be internal",
                status: .info)
        }
        if expected.isEmpty {
            checks.add(
                "configuration.networks", "configuration", "Project networks exist",
                probe: "\(inspect) (label \(IsolationLabels.composeProject)=\(target.project))",
                expected: "at least one internal network", observed: "none", status: .fail,
                remedy: "start the stack (install, or docker compose up) before checking it")
        }
        for want in expected {
            let live = snapshot.networks.first {
                $0.label(IsolationLabels.composeNetwork) == want.name || $0.name == want.name
                    || $0.name == "\(target.project)_\(want.name)"
            }
            guard let live else {
                // On Swarm a node holds an overlay only while a task here is attached:
                // the gateway's ingress overlay exists on the gateway's node alone.
                if target.isSwarm && !want.internal {
                    checks.add(
                        "configuration.network-present/\(want.name)", "configuration", "Network \(want.name) exists",
                        probe: "\(inspect) \(target.project)_\(want.name)", expected: "(only on the nodes of the tasks it serves)",
                        observed: "not on this node: no task here is attached to it", status: .info)
                    continue
                }
                checks.add(
                    "configuration.network-present/\(want.name)", "configuration", "Network \(want.name) exists",
                    probe: "\(inspect) \(target.project)_\(want.name)", expected: "present",
                    observed: "no network of project \(target.project) named \(want.name)", status: .fail,
                    remedy: "re-run install so compose creates the network")
                continue
            }
            checks.add(
                "configuration.network-internal/\(want.name)", "configuration", "Network \(live.name) is internal",
                probe: "\(inspect) \(live.name) --format {{.Internal}}", expected: "Internal: \(want.internal)",
                observed: "Internal: \(live.internal)", status: live.internal == want.internal ? .pass : .fail,
                remedy: "remove the network (docker network rm \(live.name)) and re-run install: compose reuses an existing network of the same name even when it is not internal")
            let subnets = live.ipv4Subnets.joined(separator: ", ")
            if let subnet = want.subnet, !(target.isSwarm && !want.internal) {
                checks.add(
                    "configuration.network-subnet/\(want.name)", "configuration", "Network \(live.name) subnet",
                    probe: "\(inspect) \(live.name) --format {{json .IPAM.Config}}", expected: subnet,
                    observed: subnets.isEmpty ? "no IPv4 subnet" : subnets,
                    status: live.ipv4Subnets == [subnet] ? .pass : .fail,
                    remedy: "remove the network and re-run install with --subnet \(subnet)")
            } else {
                checks.add(
                    "configuration.network-subnet/\(want.name)", "configuration", "Network \(live.name) subnet",
                    probe: "\(inspect) \(live.name)", expected: "(no manifest)", observed: subnets, status: .info)
            }
            // `lb-<network>`: the load-balancer endpoint Swarm gives every overlay on a node.
            let members = live.containers.filter { !$0.key.hasPrefix("lb-") }.map { (id, attachment) -> (String, Bool) in
                let own = snapshot.containers.contains { $0.id == id }
                return (attachment.name, own)
            }.sorted { $0.0 < $1.0 }
            let foreign = members.filter { !$0.1 }.map(\.0)
            checks.add(
                "configuration.network-members/\(want.name)", "configuration",
                "Only project containers on \(live.name)",
                probe: "\(inspect) \(live.name) --format {{json .Containers}}",
                expected: "every attached container belongs to project \(target.project)",
                observed: foreign.isEmpty
                    ? "\(members.count) container(s), all of the project"
                    : "foreign container(s) attached: \(foreign.joined(separator: ", "))",
                status: foreign.isEmpty ? .pass : .fail,
                remedy: "disconnect them: docker network disconnect \(live.name) <container>; two projects must never share a network")
        }
    }

    /// Live networks of the project the manifest does not declare.
    private func checkExtraNetworks(_ snapshot: IsolationSnapshot, into checks: inout CheckList) {
        guard target.hasManifest else { return }
        for live in snapshot.networks {
            let declared = target.networks.contains {
                live.label(IsolationLabels.composeNetwork) == $0.name || live.name == $0.name
                    || live.name == "\(target.project)_\($0.name)"
            }
            guard !declared else { continue }
            checks.add(
                "configuration.network-extra/\(live.name)", "configuration", "Network \(live.name) is not in the bundle",
                probe: "docker network inspect \(live.name)", expected: "only the bundle's networks carry the project's labels",
                observed: "extra network, Internal: \(live.internal), subnet \(live.ipv4Subnets.joined(separator: ", "))",
                status: live.internal ? .warn : .fail,
                remedy: "remove the network (docker network rm \(live.name)) or its containers; only the bundle's internal networks belong to the project")
        }
    }

    private func checkContainer(_ container: DockerContainer, _ snapshot: IsolationSnapshot, into checks: inout CheckList) {
        let name = container.name
        let inspect = "docker container inspect \(name)"
        checks.add(
            "configuration.running/\(name)", "configuration", "\(name) is running",
            probe: "\(inspect) --format {{.State.Status}}", expected: "running",
            observed: container.state.status, status: container.state.running && container.state.pid > 0 ? .pass : .warn,
            remedy: "a stopped container cannot be probed; start the stack and re-run the check")

        // Networks: only this project's internal networks.
        var offenders: [String] = []
        var attached: [String] = []
        if container.hostConfig.networkMode == "host" { offenders.append("host network") }
        for (networkName, endpoint) in container.networkSettings.networks.sorted(by: { $0.key < $1.key }) {
            attached.append(networkName)
            if networkName == "host" { continue }
            let network = snapshot.networksByID[endpoint.networkID]
            let own = snapshot.isProjectNetwork(id: endpoint.networkID)
            let isInternal = network?.internal ?? false
            // The gateway alone may also sit on the project's ingress network.
            if own && !isInternal, let network, isIngress(network), isGateway(container) { continue }
            if !own || !isInternal {
                offenders.append("\(networkName) (\([own ? nil : "not the project's", isInternal ? nil : "not internal"].compactMap { $0 }.joined(separator: ", ")))")
            }
        }
        checks.add(
            "configuration.container-networks/\(name)", "configuration",
            "\(name) is only on the project's internal networks",
            probe: "\(inspect) --format {{json .NetworkSettings.Networks}}",
            expected: "only internal networks of project \(target.project)",
            observed: offenders.isEmpty ? "attached to \(attached.joined(separator: ", "))"
                : "attached to \(attached.joined(separator: ", ")); offending: \(offenders.joined(separator: "; "))",
            status: offenders.isEmpty ? .pass : .fail,
            remedy: "disconnect the container from the offending networks (docker network disconnect <network> \(name)) or recreate it from the bundle")

        checks.add(
            "configuration.privileged/\(name)", "configuration", "\(name) is not privileged",
            probe: "\(inspect) --format {{.HostConfig.Privileged}}", expected: "false",
            observed: "\(container.hostConfig.privileged)", status: container.hostConfig.privileged ? .fail : .pass,
            remedy: "recreate the container without --privileged")

        let modes = [("network", container.hostConfig.networkMode), ("pid", container.hostConfig.pidMode),
                     ("ipc", container.hostConfig.ipcMode)]
        let shared = modes.filter { $0.1 == "host" }.map(\.0)
        checks.add(
            "configuration.host-namespaces/\(name)", "configuration", "\(name) shares no host namespace",
            probe: "\(inspect) --format {{.HostConfig.NetworkMode}} {{.HostConfig.PidMode}} {{.HostConfig.IpcMode}}",
            expected: "no host network, PID or IPC namespace",
            observed: modes.map { "\($0.0)=\($0.1.isEmpty ? "default" : $0.1)" }.joined(separator: " "),
            status: shared.isEmpty ? .pass : .fail,
            remedy: "recreate the container without --network/--pid/--ipc host")

        var published: [String] = []
        var unwanted: [String] = []
        var asked = false
        // The gateway of an installation with an ingress network is published exactly
        // where the operator asked (`install --publish`), and nowhere else.
        let publish = isGateway(container) ? target.publish : nil
        for (port, bindings) in container.networkSettings.ports.sorted(by: { $0.key < $1.key }) {
            for binding in bindings where !binding.hostPort.isEmpty {
                let host = binding.hostIP.isEmpty ? "0.0.0.0" : binding.hostIP
                let text = "\(host):\(binding.hostPort)->\(port)"
                published.append(text)
                if let publish {
                    // Swarm binds a host-mode port on every address; the node's firewall
                    // keeps it at `publish` (checked by configuration.swarm-firewall).
                    let wildcard = target.isSwarm && (host == "0.0.0.0" || host == "::")
                        && GatewayIngress.binding(publish: publish)?.port == UInt16(binding.hostPort)
                    if wildcard && port == "\(target.gateway?.port ?? 0)/tcp" {
                        asked = true
                    } else if "\(host):\(binding.hostPort)" == publish && port == "\(target.gateway?.port ?? 0)/tcp" { asked = true } else { unwanted.append(text) }
                } else if !Self.isLoopback(host) {
                    unwanted.append(text)
                }
            }
        }
        checks.add(
            "configuration.published-ports/\(name)", "configuration",
            publish.map { "\(name) is published on \($0) only" } ?? "\(name) publishes no port outside loopback",
            probe: "\(inspect) --format {{json .NetworkSettings.Ports}}",
            expected: publish.map { "\($0)->\(target.gateway?.port ?? 0)/tcp (install --publish) and nothing else" }
                ?? "no port bound to a non-loopback host address",
            observed: (published.isEmpty ? "no published port" : published.joined(separator: ", "))
                + (unwanted.isEmpty ? "" : "; not asked for: \(unwanted.joined(separator: ", "))"),
            status: unwanted.isEmpty && (publish == nil || asked) ? .pass : .fail,
            remedy: publish == nil
                ? "remove the port mapping; only the gateway is published, by install --publish"
                : "re-run install (with --publish ADDRESS:PORT to choose another address): only the installer publishes the gateway")

        let reference = container.config.image
        if target.isSwarm {
            // A Swarm task names its image by ID (`image: sha256:…`).
            let known = Set(target.expectedImages.values)
            checks.add(
                "configuration.image/\(name)", "configuration", "\(name) runs the bundle's image",
                probe: "\(inspect) --format {{.Config.Image}} {{.Image}}", expected: "an image ID of the bundle",
                observed: "\(reference) = \(container.image)", status: known.contains(container.image) ? .pass : .fail,
                remedy: "re-run install --swarm on the manager: it deploys every image by the bundle's ID")
        } else if let want = target.expectedImages[reference] {
            checks.add(
                "configuration.image/\(name)", "configuration", "\(name) runs the bundle's image",
                probe: "\(inspect) --format {{.Image}}", expected: "\(reference) = \(want)",
                observed: container.image, status: container.image == want ? .pass : .fail,
                remedy: "re-run install: it loads the bundle's images and recreates the containers")
        } else {
            checks.add(
                "configuration.image/\(name)", "configuration", "\(name) runs the bundle's image",
                probe: "\(inspect) --format {{.Config.Image}} {{.Image}}",
                expected: target.hasManifest ? "an image listed in the manifest" : "(no manifest)",
                observed: "\(reference) = \(container.image)", status: target.hasManifest ? .fail : .info,
                remedy: "this container runs an image the bundle does not carry; remove it or reinstall")
        }
    }

    private func checkGatewayAddress(_ snapshot: IsolationSnapshot, into checks: inout CheckList) {
        guard let gateway = target.gateway, !target.isSwarm else { return }  // Swarm assigns task addresses
        let members = snapshot.containers.filter { IsolationSnapshot.service(of: $0) == gateway.service }
        let addresses = members.flatMap { snapshot.projectAddresses(of: $0).map(\.address) }
        checks.add(
            "configuration.gateway-address", "configuration", "Gateway \(gateway.service) has its fixed address",
            probe: "docker container inspect (service \(gateway.service)) --format {{json .NetworkSettings.Networks}}",
            expected: gateway.ipv4Address,
            observed: addresses.isEmpty ? "no container of service \(gateway.service)" : addresses.joined(separator: ", "),
            status: addresses.contains(gateway.ipv4Address) ? .pass : .fail,
            remedy: "re-run install; the hardened compose file pins the gateway's ipv4_address")
    }

    /// True for the project's ingress network: labelled so by the hardened compose
    /// file, or declared non-internal under that name in the manifest.
    func isIngress(_ network: DockerNetwork) -> Bool {
        if network.label(IngressNetwork.roleLabel) == IngressNetwork.roleValue { return true }
        let key = network.label(IsolationLabels.composeNetwork)
        return target.networks.contains { !$0.internal && $0.name == IngressNetwork.name && $0.name == key }
    }

    /// True for a container of the gateway service (without a manifest the gateway is
    /// unknown: every container counts, and `configuration.ingress-members` allows
    /// one container on the ingress network).
    func isGateway(_ container: DockerContainer) -> Bool {
        guard let gateway = target.gateway else { return true }
        return IsolationSnapshot.service(of: container) == gateway.service
    }

    static func isLoopback(_ address: String) -> Bool {
        address.hasPrefix("127.") || address == "::1" || address == "[::1]" || address == "localhost"
    }
}
