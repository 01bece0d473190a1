import FrostbyteCore
import Engine
import FoundationEssentials
import Glibc

/// Label keys the checker reads.
public enum IsolationLabels {
    public static let composeProject = "com.docker.compose.project"
    public static let composeService = "com.docker.compose.service"
    public static let composeNetwork = "com.docker.compose.network"
    public static let frostbyteProject = "io.frostbyte.project"
    public static let frostbyteBundle = "io.frostbyte.bundle"
    public static let stackNamespace = "com.docker.stack.namespace"
    public static let swarmService = "com.docker.swarm.service.name"
}

/// Docker's state as one run sees it, read once at the start: this project's
/// containers and networks, every network they (or other projects' containers) are
/// attached to, and the containers of the other frostbyte projects on the host.
/// Objects listed but gone by the time they were inspected are in `vanished`.
struct IsolationSnapshot: Sendable {
    var project: String
    /// This project's containers (compose or frostbyte project label), by name.
    var containers: [DockerContainer]
    /// This project's networks (compose or frostbyte project label), by name.
    var networks: [DockerNetwork]
    /// Every network any inspected container is attached to, by ID.
    var networksByID: [String: DockerNetwork]
    /// Running containers of other frostbyte projects, by name. Their endpoints on
    /// networks that vanished are dropped (no probe targets a stale address).
    var foreignContainers: [DockerContainer]
    /// Objects that were listed but no longer existed when inspected.
    var vanished: [VanishedObject] = []

    /// Reads containers and networks with a handful of docker CLI calls. Another
    /// project's container or network removed between listing and inspecting is
    /// recorded in `vanished` and otherwise ignored; one of this project is recorded
    /// there too (the checker fails it). `hook` runs after each phase.
    static func gather(
        project: String, inspector: DockerEngine, hook: (@Sendable (IsolationPhase) -> Void)? = nil
    ) throws -> IsolationSnapshot {
        // Every listing is asked for at once (one docker CLI start each), and this
        // project's networks are inspected while the containers are: only networks
        // that other projects' containers bring along wait for the container inspection.
        let networksByCompose = BackgroundWork { try inspector.networkIDs(label: IsolationLabels.composeProject, value: project) }
        let networksByFrostbyte = BackgroundWork { try inspector.networkIDs(label: IsolationLabels.frostbyteProject, value: project) }
        let networksByStack = BackgroundWork { try inspector.networkIDs(label: IsolationLabels.stackNamespace, value: project) }
        let byCompose = BackgroundWork { try inspector.listedContainers(label: IsolationLabels.composeProject, value: project) }
        let byFrostbyte = BackgroundWork { try inspector.listedContainers(label: IsolationLabels.frostbyteProject, value: project) }
        let frostbyteListed = try inspector.listedContainers(label: IsolationLabels.frostbyteProject)
        let ownListed = try byCompose.join() + byFrostbyte.join()
        let ownIDs = Set(ownListed.map(\.id))
        let networkIDs = Array(Set(try networksByCompose.join() + networksByFrostbyte.join() + networksByStack.join()))
        hook?(.containersListed)
        let ownNetworkInspection = BackgroundWork { try inspector.inspectNetworks(networkIDs) }
        let inspected: DockerInspection<DockerContainer>
        do {
            inspected = try inspector.inspectContainers((ownListed + frostbyteListed).map(\.id))
        } catch {
            _ = ownNetworkInspection.result()
            throw error
        }
        var vanished: [VanishedObject] = []
        for id in inspected.vanished {
            let listing = (ownListed + frostbyteListed).first { $0.id == id }
            let own = ownIDs.contains(id)
            vanished.append(VanishedObject(
                kind: .container, id: id, name: listing?.name ?? "", project: own ? project : listing?.project,
                ownedByTarget: own, phase: .inspecting))
        }
        let all = inspected.found
        let containers = all.filter { belongs($0.config.labels, to: project) }.sorted { $0.name < $1.name }
        var foreign = all.filter { !belongs($0.config.labels, to: project) && $0.state.running && $0.state.pid > 0 }
            .sorted { $0.name < $1.name }
        hook?(.containersInspected)

        var networkInspection = try ownNetworkInspection.join()
        let asked = Set(networkIDs)
        let attachedIDs = (containers + foreign).flatMap { $0.networkSettings.networks.values.map(\.networkID) }
            .filter { !$0.isEmpty && !asked.contains($0) }
        if !attachedIDs.isEmpty {
            let attached = try inspector.inspectNetworks(attachedIDs)
            networkInspection.found += attached.found
            networkInspection.vanished += attached.vanished
        }
        let networks = networkInspection.found
        for id in networkInspection.vanished {
            // Ours when listed by our label or when one of our containers is attached to it.
            let users = containers.filter { $0.networkSettings.networks.values.contains { $0.networkID == id } }
            let strangers = foreign.filter { $0.networkSettings.networks.values.contains { $0.networkID == id } }
            let own = networkIDs.contains(id) || !users.isEmpty
            let name = (users + strangers).lazy.compactMap { container in
                container.networkSettings.networks.first { $0.value.networkID == id }?.key
            }.first ?? ""
            vanished.append(VanishedObject(
                kind: .network, id: id, name: name,
                project: own ? project : strangers.first.map(IsolationSnapshot.projectName(of:)),
                ownedByTarget: own, phase: .inspecting))
        }
        let gone = Set(networkInspection.vanished)
        for index in foreign.indices {
            foreign[index].networkSettings.networks = foreign[index].networkSettings.networks
                .filter { !gone.contains($0.value.networkID) }
        }
        var byID: [String: DockerNetwork] = [:]
        for network in networks { byID[network.id] = network }
        let own = networks.filter { belongs($0.labels, to: project) }
        var unique: [String: DockerNetwork] = [:]
        for network in own { unique[network.id] = network }
        hook?(.snapshotTaken)
        return IsolationSnapshot(
            project: project, containers: containers,
            networks: unique.values.sorted { $0.name < $1.name },
            networksByID: byID, foreignContainers: foreign, vanished: vanished)
    }

    /// True when the labels place an object in `project` (a compose project, a
    /// frostbyte project, or a Swarm stack).
    static func belongs(_ labels: [String: String], to project: String) -> Bool {
        labels[IsolationLabels.composeProject] == project || labels[IsolationLabels.frostbyteProject] == project
            || labels[IsolationLabels.stackNamespace] == project
    }

    /// True when `id` is one of this project's networks.
    func isProjectNetwork(id: String) -> Bool { networks.contains { $0.id == id } }

    /// The compose service of a container, else its name.
    static func service(of container: DockerContainer) -> String {
        if let service = container.label(IsolationLabels.composeService) { return service }
        // A Swarm task: `<stack>_<service>`.
        if let service = container.label(IsolationLabels.swarmService), let stack = container.label(IsolationLabels.stackNamespace),
           service.hasPrefix("\(stack)_") {
            return String(service.dropFirst(stack.count + 1))
        }
        return container.name
    }

    /// The project a foreign container belongs to.
    static func projectName(of container: DockerContainer) -> String {
        container.label(IsolationLabels.composeProject) ?? container.label(IsolationLabels.frostbyteProject) ?? "?"
    }

    /// The container's IPv4 addresses on this project's networks, as (network, address).
    func projectAddresses(of container: DockerContainer) -> [(network: DockerNetwork, address: String)] {
        container.networkSettings.networks.values.compactMap { endpoint in
            guard let network = networks.first(where: { $0.id == endpoint.networkID }),
                  !endpoint.ipAddress.isEmpty else { return nil }
            return (network, endpoint.ipAddress)
        }.sorted { $0.network.name < $1.network.name }
    }

    /// Every IPv4 address of a container on any network.
    static func addresses(of container: DockerContainer) -> [String] {
        container.networkSettings.networks.values.map(\.ipAddress).filter { !$0.isEmpty }.sorted()
    }

    /// Running containers with a PID, the ones probes can enter.
    var runningContainers: [DockerContainer] { containers.filter { $0.state.running && $0.state.pid > 0 } }
}
