import FrostbyteCore

extension SwarmRenderer {
    /// Keys a hardened service may carry that Swarm honours as they are.
    static let keptKeys: Set<String> = [
        "image", "command", "entrypoint", "environment", "env_file", "working_dir", "user", "labels", "healthcheck",
        "stop_signal", "stop_grace_period", "cap_drop", "cap_add", "read_only", "init", "ulimits", "sysctls",
        "hostname", "logging", "volumes", "networks", "ports", "deploy", "group_add",
    ]

    /// One service of the hardened file as Swarm must run it.
    func renderService(_ name: String, _ source: YAMLNode, networks: Networks, notes: inout [String]) throws -> YAMLNode {
        func refuse(_ key: String, _ reason: String) -> SwarmRenderError {
            SwarmRenderError(service: name, key: key, reason: reason)
        }
        var service: [(String, YAMLNode)] = []
        var deploy = source["deploy"] ?? .mapping([])
        var limits: [(String, YAMLNode)] = [], reservations: [(String, YAMLNode)] = []
        var tmpfsMounts: [YAMLNode] = []
        for pair in source.mappingPairs ?? [] {
            let key = pair.key.scalarValue ?? "", value = pair.value
            switch key {
            case "image":
                guard let reference = value.scalarValue, let id = options.imageIDs[reference], id.hasPrefix("sha256:") else {
                    throw refuse("image", "no image ID for '\(value.scalarValue ?? "")'; prepare the nodes and pass the IDs they recorded")
                }
                service.append(("image", .string(id)))
            case "pull_policy":
                notes.append("service '\(name)': 'pull_policy' removed: the image is referenced by ID, which Swarm never pulls")
            case "restart":
                deploy.set("restart_policy", try restartPolicy(value.scalarValue ?? "", service: name))
            case "depends_on":
                notes.append("service '\(name)': 'depends_on' removed: Swarm starts services together and restarts a task until its healthcheck passes")
            case "privileged":
                guard value.scalarValue == "false" else { throw refuse("privileged", "Swarm ignores it; a hardened file never has it") }
            case "security_opt":
                let options = (value.sequenceItems ?? []).compactMap(\.scalarValue)
                let onlyNoNewPrivileges = options.allSatisfy { $0 == "no-new-privileges:true" || $0 == "no-new-privileges" }
                guard onlyNoNewPrivileges, self.options.nodesEnforceNoNewPrivileges else {
                    throw refuse("security_opt", "docker stack deploy ignores it; no-new-privileges is kept only when every node's dockerd runs with \"no-new-privileges\": true")
                }
                notes.append("service '\(name)': 'security_opt' removed: the nodes' dockerd enforces no-new-privileges")
            case "tmpfs":
                tmpfsMounts += try tmpfs(value, service: name)
            case "mem_limit": limits.append(("memory", value))
            case "cpus": limits.append(("cpus", .string(value.scalarValue ?? "")))
            case "pids_limit": limits.append(("pids", value))
            case "mem_reservation": reservations.append(("memory", value))
            case "ports":
                guard name == options.gatewayService else { throw refuse("ports", "only the gateway publishes a port") }
                service.append(("ports", .sequence([.mapping([
                    ("target", .plain("\(options.gatewayPort)")), ("published", .plain("\(options.publishPort)")),
                    ("protocol", .string("tcp")), ("mode", .string("host")),
                ])])))
            case "networks":
                service.append(("networks", try attachments(value, service: name, networks: networks, notes: &notes)))
            case "deploy":
                continue
            case "container_name", "pid", "ipc", "uts", "userns_mode", "cgroup", "network_mode", "devices", "scale":
                throw refuse(key, "Swarm cannot keep what the single-host rendering guarantees with it")
            default:
                guard Self.keptKeys.contains(key) else {
                    throw refuse(key, "this renderer does not know how Swarm treats it; nothing is dropped silently")
                }
                service.append((key, value))
            }
        }
        if name == options.gatewayService {
            Self.addLabel(&service, key: SwarmRenderer.publishLabel, value: "\(options.publishAddress):\(options.publishPort)")
        }
        if !tmpfsMounts.isEmpty {
            let volumes = (source["volumes"]?.sequenceItems ?? []) + tmpfsMounts
            if let index = service.firstIndex(where: { $0.0 == "volumes" }) {
                service[index].1 = .sequence(volumes)
            } else {
                service.append(("volumes", .sequence(volumes)))
            }
        }
        if !limits.isEmpty || !reservations.isEmpty {
            var resources: [(String, YAMLNode)] = []
            if !limits.isEmpty { resources.append(("limits", .mapping(limits))) }
            if !reservations.isEmpty { resources.append(("reservations", .mapping(reservations))) }
            deploy.set("resources", .mapping(resources))
        }
        deploy.set("endpoint_mode", .string("dnsrr"))
        try placeVolumeOwner(name, source, deploy: &deploy)
        let monitor = Self.monitorWindow(source["healthcheck"])
        deploy.set("update_config", .mapping([
            ("parallelism", .plain("1")), ("order", .string("stop-first")), ("failure_action", .string("rollback")),
            ("monitor", .string(monitor)),
        ]))
        deploy.set("rollback_config", .mapping([
            ("parallelism", .plain("1")), ("order", .string("stop-first")), ("failure_action", .string("pause")),
            ("monitor", .string(monitor)),
        ]))
        service.append(("deploy", deploy))
        return .mapping(service)
    }

    /// Adds one container label to a service (a mapping or a `KEY=VALUE` list of labels).
    static func addLabel(_ service: inout [(String, YAMLNode)], key: String, value: String) {
        guard let index = service.firstIndex(where: { $0.0 == "labels" }) else {
            service.append(("labels", .mapping([(key, .string(value))])))
            return
        }
        if var items = service[index].1.sequenceItems {
            items.append(.string("\(key)=\(value)"))
            service[index].1 = .sequence(items)
        } else {
            service[index].1.set(key, .string(value))
        }
    }

    /// `restart:` as `deploy.restart_policy` (Swarm's own; `restart` is ignored by stack deploy).
    func restartPolicy(_ value: String, service: String) throws -> YAMLNode {
        let condition: String
        switch value {
        case "always", "unless-stopped": condition = "any"
        case "on-failure": condition = "on-failure"
        case "no": condition = "none"
        default:
            throw SwarmRenderError(service: service, key: "restart", reason: "'\(value)' has no Swarm restart condition")
        }
        return .mapping([("condition", .string(condition)), ("delay", .string("2s"))])
    }

    /// Service `tmpfs` entries (`/path` or `/path:size=N`) as tmpfs mounts, which
    /// Swarm honours (stack deploy ignores the service key).
    func tmpfs(_ value: YAMLNode, service: String) throws -> [YAMLNode] {
        let entries = value.sequenceItems.map { $0.compactMap(\.scalarValue) } ?? [value.scalarValue ?? ""]
        return try entries.map { entry in
            let parts = entry.split(separator: ":", maxSplits: 1).map(String.init)
            var mount: [(String, YAMLNode)] = [("type", .string("tmpfs")), ("target", .string(parts.first ?? ""))]
            if parts.count == 2 {
                guard parts[1].hasPrefix("size="), !parts[1].contains(","), let bytes = Self.bytes(String(parts[1].dropFirst(5))) else {
                    throw SwarmRenderError(service: service, key: "tmpfs",
                                           reason: "'\(entry)': a Swarm tmpfs mount takes only a size in bytes, k, m or g, not '\(parts[1])'")
                }
                mount.append(("tmpfs", .mapping([("size", .plain("\(bytes)"))])))
            }
            return .mapping(mount)
        }
    }

    /// The service's networks: internal ones kept (aliases only; Swarm assigns
    /// addresses), the ingress network for the gateway alone.
    func attachments(_ value: YAMLNode, service: String, networks: Networks, notes: inout [String]) throws -> YAMLNode {
        var pairs: [(String, YAMLNode)] = []
        for pair in value.mappingPairs ?? [] {
            let network = pair.key.scalarValue ?? ""
            if network == networks.ingress {
                guard service == options.gatewayService else {
                    throw SwarmRenderError(service: service, key: "networks.\(network)", reason: "only the gateway joins the ingress network")
                }
                pairs.append((network, .mapping([])))
                continue
            }
            guard networks.internal.contains(network) else {
                throw SwarmRenderError(service: service, key: "networks.\(network)", reason: "the network is not declared internal")
            }
            var attachment: [(String, YAMLNode)] = []
            if let aliases = pair.value["aliases"] { attachment.append(("aliases", aliases)) }
            if pair.value["ipv4_address"] != nil {
                notes.append("service '\(service)': 'ipv4_address' on \(network) removed: Swarm assigns task addresses; the gateway is reached at its published port")
            }
            pairs.append((network, .mapping(attachment)))
        }
        return .mapping(pairs)
    }

    /// A service owning named volumes runs one task, on the node holding its data; any
    /// other pinned service (the gateway) is placed on its node too; every service gets
    /// `options.constraints`.
    func placeVolumeOwner(_ name: String, _ source: YAMLNode, deploy: inout YAMLNode) throws {
        let named = Self.ownsNamedVolumes(source)
        var constraints = deploy["placement"]?["constraints"]?.sequenceItems ?? []
        constraints += options.constraints.map { YAMLNode.string($0) }
        let pin = options.volumePins[name].map { node in
            options.pinLabel.map { "node.labels.\($0).\(name) == true" } ?? "node.hostname == \(node)"
        }
        defer { if !constraints.isEmpty { deploy.set("placement", .mapping([("constraints", .sequence(constraints))])) } }
        guard named else {
            if let pin { constraints.append(.string(pin)) }
            return
        }
        guard let pin else {
            throw SwarmRenderError(service: name, key: "volumes",
                                   reason: "it owns named volumes and must be pinned to the node that holds them; name that node")
        }
        if let replicas = deploy["replicas"]?.scalarValue, replicas != "1" {
            throw SwarmRenderError(service: name, key: "deploy.replicas", reason: "a service owning named volumes runs exactly one task")
        }
        if deploy["mode"]?.scalarValue == "global" {
            throw SwarmRenderError(service: name, key: "deploy.mode", reason: "a service owning named volumes runs exactly one task")
        }
        deploy.set("replicas", .plain("1"))
        constraints.append(.string(pin))
    }

    /// True when the service mounts a named volume (its data lives on one node).
    public static func ownsNamedVolumes(_ source: YAMLNode) -> Bool {
        (source["volumes"]?.sequenceItems ?? []).contains { volume in
            if let text = volume.scalarValue { return !text.hasPrefix("/") && !text.hasPrefix(".") && text.contains(":") }
            return volume["type"]?.scalarValue == "volume"
        }
    }

    /// `update_config.monitor`: longer than the healthcheck can take to pass
    /// (start_period + interval × retries), so a failing new task is seen before
    /// the update moves on; 30 s without a healthcheck.
    static func monitorWindow(_ healthcheck: YAMLNode?) -> String {
        guard let healthcheck else { return "30s" }
        let interval = seconds(healthcheck["interval"]?.scalarValue) ?? 30
        let start = seconds(healthcheck["start_period"]?.scalarValue) ?? 0
        let retries = Double(healthcheck["retries"]?.scalarValue ?? "") ?? 3
        return "\(Int((start + interval * retries).rounded(.up)) + 5)s"
    }

    /// A tmpfs size (`65536`, `64k`, `1m`, `2g`; binary units) in bytes, which is
    /// all a stack file's `tmpfs.size` accepts; nil when unreadable.
    static func bytes(_ text: String) -> Int? {
        let lower = text.lowercased()
        let units: [Character: Int] = ["k": 1 << 10, "m": 1 << 20, "g": 1 << 30]
        if let unit = lower.last.flatMap({ units[$0] }) {
            return Int(lower.dropLast()).map { $0 * unit }
        }
        return Int(lower)
    }

    /// A Compose duration (`1m30s`, `500ms`, `2s`, `1h`) in seconds, nil when unreadable.
    static func seconds(_ text: String?) -> Double? {
        guard let text, !text.isEmpty else { return nil }
        var rest = Substring(text)
        var total = 0.0
        let units: [(String, Double)] = [("ms", 0.001), ("us", 0.000_001), ("h", 3600), ("m", 60), ("s", 1)]
        while !rest.isEmpty {
            let digits = rest.prefix { $0.isNumber || $0 == "." }
            guard let value = Double(digits), !digits.isEmpty else { return nil }
            rest = rest.dropFirst(digits.count)
            guard let unit = units.first(where: { rest.hasPrefix($0.0) }) else { return nil }
            total += value * unit.1
            rest = rest.dropFirst(unit.0.count)
        }
        return total
    }
}
