import FrostbyteCore

/// What the Swarm rendering needs beyond the hardened compose file.
public struct SwarmRenderOptions: Sendable, Equatable {
    /// Image name as the compose file writes it → engine image ID (`sha256:…`), every
    /// service's image (what `prepare` recorded on the nodes).
    public var imageIDs: [String: String]
    /// The gateway service (the one whose port is published).
    public var gatewayService: String
    /// The gateway's container port and where it is published: the port on the node
    /// (host mode, `published`), and the address the operator asked for, which Swarm
    /// cannot bind and the deploy must enforce with a firewall rule (an obligation).
    public var gatewayPort: Int
    public var publishAddress: String
    public var publishPort: Int
    /// Service owning named volumes → node hostname it is pinned to.
    public var volumePins: [String: String]
    /// `--encrypt-overlay`: the internal overlay gets `encrypted` (needs ESP between nodes).
    public var encryptOverlay: Bool
    /// The nodes' dockerd runs with `no-new-privileges` (daemon.json): the only way a
    /// service's `security_opt: [no-new-privileges:true]` is kept on Swarm.
    public var nodesEnforceNoNewPrivileges: Bool
    /// Placement constraints every service gets (e.g. the prepared-node label).
    public var constraints: [String] = []
    /// When set, a pinned service is placed by the node label `<pinLabel>.<service> == true`
    /// (which the deploy sets on the node) instead of `node.hostname`.
    public var pinLabel: String? = nil

    public init(imageIDs: [String: String], gatewayService: String, gatewayPort: Int, publishAddress: String = "127.0.0.1",
                publishPort: Int, volumePins: [String: String] = [:], encryptOverlay: Bool = false,
                nodesEnforceNoNewPrivileges: Bool = false) {
        self.imageIDs = imageIDs; self.gatewayService = gatewayService; self.gatewayPort = gatewayPort
        self.publishAddress = publishAddress; self.publishPort = publishPort; self.volumePins = volumePins
        self.encryptOverlay = encryptOverlay; self.nodesEnforceNoNewPrivileges = nodesEnforceNoNewPrivileges
    }
}

/// A stack file for `docker stack deploy`, and what the deploy must still do.
public struct SwarmRendering: Sendable, Equatable {
    /// The stack file (UTF-8 YAML).
    public var stackYAML: [UInt8]
    /// What changed and why, one line each, in service order.
    public var notes: [String]
    /// Guarantees the stack file cannot carry and the deploy must enforce on the nodes
    /// (firewall rules), one sentence each.
    public var obligations: [String]
}

/// A guarantee of the single-host rendering that the Swarm rendering cannot keep.
public struct SwarmRenderError: UserFacingError, Equatable {
    public var service: String?
    public var key: String
    public var reason: String

    public var message: String {
        let subject = service.map { "service '\($0)': " } ?? ""
        return "\(subject)'\(key)' cannot be kept on Swarm: \(reason)"
    }

    public var exitStatus: ExitStatus { .badInput }
}

/// Turns the hardened single-host compose file (what `render` writes and a bundle
/// carries) into a stack file Swarm honours, keeping every guarantee of the single-host
/// rendering with a key Swarm applies, or refusing with the service and key
/// (`SwarmRenderError`, exit 2). Per guarantee (docs/SWARM.md):
/// - images by ID (`sha256:…`; never pulled), `pull_policy` dropped;
/// - the internal network becomes one overlay, `internal: true`, not attachable, with
///   its subnet; the gateway's ingress bridge becomes a non-internal overlay only the
///   gateway joins (host-mode publishing needs one), its egress an obligation;
/// - `endpoint_mode: dnsrr` (no IPVS), the gateway's port published in host mode;
/// - `cap_drop`, `cap_add`, `read_only`, `user` and healthchecks kept as they are;
///   `restart` → `deploy.restart_policy`; `mem_limit`/`cpus`/`pids_limit`/
///   `mem_reservation` → `deploy.resources`; service `tmpfs` → tmpfs mounts;
/// - health-gated updates: `update_config` with `failure_action: rollback` and a
///   monitor window longer than the healthcheck's; `rollback_config`;
/// - a service owning named volumes runs once, pinned to its node (`volumePins`).
/// Refused: a host namespace or `privileged` (never in a hardened file), `security_opt`
/// (kept only when the nodes enforce no-new-privileges), tmpfs options Swarm cannot
/// express, a volume owner without a pin or with more than one replica, an image
/// without an ID, a non-internal network other than the gateway's ingress.
public struct SwarmRenderer: Sendable {
    public var options: SwarmRenderOptions

    /// The container label the gateway's tasks carry: `ADDR:PORT`, where it is
    /// published. The node that runs the task reads it to put up the firewall rules
    /// that keep it there (`repair`, `check-isolation`).
    public static let publishLabel = "io.frostbyte.swarm.publish"

    public init(options: SwarmRenderOptions) { self.options = options }

    /// Renders `compose` (the hardened file's YAML tree).
    /// - Throws: `SwarmRenderError` for a guarantee it cannot keep, `YAMLError` from the emitter.
    public func render(_ compose: YAMLNode) throws -> SwarmRendering {
        var notes: [String] = []
        var obligations: [String] = []
        let networks = try renderNetworks(compose["networks"])
        guard let services = compose["services"]?.mappingPairs, !services.isEmpty else {
            throw SwarmRenderError(service: nil, key: "services", reason: "the compose file has no services")
        }
        var rendered: [(String, YAMLNode)] = []
        for pair in services {
            let name = pair.key.scalarValue ?? ""
            rendered.append((name, try renderService(name, pair.value, networks: networks, notes: &notes)))
        }
        guard rendered.contains(where: { $0.0 == options.gatewayService }) else {
            throw SwarmRenderError(service: options.gatewayService, key: "services",
                                   reason: "the gateway service is not in the compose file")
        }
        if networks.ingress != nil {
            obligations.append("on the gateway's node, drop everything the gateway sends out through docker_gwbridge except replies (the ingress overlay gives it a way out that the single-host ingress network, without masquerading, does not)")
        }
        if options.publishAddress != "0.0.0.0" {
            obligations.append("on the gateway's node, accept port \(options.publishPort) only on \(options.publishAddress) (Swarm publishes host-mode ports on every address of the node)")
        }
        var root: [(String, YAMLNode)] = [("services", .mapping(rendered)), ("networks", networks.node)]
        if let volumes = compose["volumes"] { root.append(("volumes", volumes)) }
        if compose["name"] != nil { notes.append("'name' removed: the stack's name is given to docker stack deploy") }
        for pair in compose.mappingPairs ?? [] {
            let key = pair.key.scalarValue ?? ""
            guard !["name", "services", "networks", "volumes"].contains(key), !key.hasPrefix("x-") else { continue }
            throw SwarmRenderError(service: nil, key: key, reason: "this renderer does not carry top-level '\(key)' yet")
        }
        let emitter = try YAMLEmitter()
        return SwarmRendering(stackYAML: try emitter.emit(.mapping(root)), notes: notes, obligations: obligations)
    }

    /// The rendered networks: the node, the internal overlay's key and the ingress key.
    struct Networks {
        var node: YAMLNode
        var `internal`: Set<String>
        var ingress: String?
    }

    /// Internal bridges → internal overlays (subnet and labels kept, not attachable);
    /// the bridge labelled `io.frostbyte.network-role: ingress` → a non-internal overlay.
    func renderNetworks(_ source: YAMLNode?) throws -> Networks {
        var pairs: [(String, YAMLNode)] = []
        var internalKeys: Set<String> = []
        var ingress: String?
        for pair in source?.mappingPairs ?? [] {
            let name = pair.key.scalarValue ?? ""
            let network = pair.value
            let isInternal = network["internal"]?.scalarValue == "true"
            let isIngress = network["labels"]?["io.frostbyte.network-role"]?.scalarValue == "ingress"
            guard isInternal || isIngress else {
                throw SwarmRenderError(service: nil, key: "networks.\(name)",
                                       reason: "only internal networks and the gateway's ingress network are carried; a network with a way out is not")
            }
            var overlay: [(String, YAMLNode)] = [("driver", .string("overlay")), ("internal", .bool(isInternal)),
                                                 ("attachable", .bool(false))]
            if isInternal && options.encryptOverlay {
                overlay.append(("driver_opts", .mapping([("encrypted", .string("true"))])))
            }
            if isInternal, let ipam = network["ipam"] { overlay.append(("ipam", ipam)) }
            if let labels = network["labels"] { overlay.append(("labels", labels)) }
            pairs.append((name, .mapping(overlay)))
            if isInternal { internalKeys.insert(name) } else { ingress = name }
        }
        guard !internalKeys.isEmpty else {
            throw SwarmRenderError(service: nil, key: "networks", reason: "the compose file has no internal network")
        }
        return Networks(node: .mapping(pairs), internal: internalKeys, ingress: ingress)
    }
}
