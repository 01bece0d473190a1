extension ComposeHardener {
    /// Host paths whose bind mount hands a container the Docker (or containerd)
    /// API, directly or through a parent folder.
    static let dangerousHostPaths: Set<String> = [
        "/", "/var", "/run", "/var/run", "/var/run/docker", "/run/docker", "/var/lib/docker",
        "/run/containerd", "/var/run/containerd",
    ]

    static func isDockerSocketPath(_ path: String) -> Bool {
        var normalized = path
        while normalized.contains("//") { normalized = normalized.replacing("//", with: "/") }
        normalized = normalized.replacing("/./", with: "/")
        while normalized.count > 1 && normalized.hasSuffix("/") { normalized.removeLast() }
        if dangerousHostPaths.contains(normalized) { return true }
        let last = normalized.split(separator: "/").last.map(String.init) ?? normalized
        return ["docker.sock", "containerd.sock", "podman.sock", "dockershim.sock"].contains(last)
    }

    /// Refuses bind mounts of the Docker socket (or a folder holding it), in the
    /// short (`/var/run/docker.sock:/var/run/docker.sock`) and long
    /// (`{type: bind, source: ...}`) syntax. The target is checked too, and a
    /// `${VAR:-default}` source by its text, which includes the default.
    func checkServiceVolumes(service: String, _ value: YAMLNode) throws {
        for item in value.sequenceItems ?? [] {
            var source: String?
            var target: String?
            var isBind = false
            if let text = item.scalarValue {
                let parts = Self.splitVolumeSpec(text)
                if parts.count >= 2 {
                    source = parts[0]
                    target = parts[1]
                    isBind = ["/", ".", "~", "$"].contains { parts[0].hasPrefix($0) }
                } else {
                    target = parts.first
                }
            } else if item.mappingPairs != nil {
                source = item["source"]?.scalarValue
                target = item["target"]?.scalarValue
                isBind = item["type"]?.scalarValue == "bind"
            }
            let sourceHitsSocket = isBind && source.map { Self.isDockerSocketPath($0) || Self.interpolationMentionsSocket($0) } == true
            let targetHitsSocket = target.map { Self.isDockerSocketPath($0) && $0.hasSuffix(".sock") } == true
            if sourceHitsSocket || targetHitsSocket {
                throw ComposeError.refused(
                    service: service, what: "bind mount '\(source ?? "")' -> '\(target ?? "")'",
                    why: "it exposes the Docker socket, which controls the host and every network on it",
                    fix: "Remove the mount.", at: item.mark)
            }
        }
    }

    /// Splits short volume syntax on `:` outside `${...}` interpolations, so
    /// `${SOCK:-/var/run/docker.sock}:/s` has the source `${SOCK:-/var/run/docker.sock}`.
    static func splitVolumeSpec(_ text: String) -> [String] {
        var parts: [String] = []
        var current = ""
        var depth = 0
        var previous: Character = " "
        for c in text {
            if c == "{" && previous == "$" { depth += 1 }
            if c == "}" && depth > 0 { depth -= 1 }
            if c == ":" && depth == 0 {
                parts.append(current)
                current = ""
            } else {
                current.append(c)
            }
            previous = c
        }
        parts.append(current)
        return parts
    }

    static func interpolationMentionsSocket(_ text: String) -> Bool {
        text.contains("$") && (text.contains(".sock") || text.contains("/var/run") || text.contains("/run"))
    }

    /// Adds the bundle's labels to every top-level volume (turning `name:` with a
    /// null value into a mapping). External volumes are refused, and so is a
    /// local-driver volume that binds a Docker socket path.
    func hardenVolumes(_ pair: YAMLPair?) throws -> (YAMLNode?, [HardeningWarning]) {
        guard let pair, !pair.value.isNull else { return (nil, []) }
        guard let volumes = pair.value.mappingPairs else {
            throw ComposeError.invalid(path: "volumes", expected: "a mapping", found: pair.value.kindName, at: pair.value.mark)
        }
        var result: [YAMLPair] = []
        for volume in volumes {
            let name = volume.key.scalarValue ?? ""
            var node = volume.value.isNull ? YAMLNode(.mapping([]), mark: volume.value.mark) : volume.value
            guard node.mappingPairs != nil else {
                throw ComposeError.invalid(path: "volumes.\(name)", expected: "a mapping or nothing", found: node.kindName, at: node.mark)
            }
            if let external = node.pair("external"), !Self.isFalse(external.value) {
                throw ComposeError.refused(service: nil, what: "volume '\(name)' with 'external'",
                                           why: "the bundle cannot create, label or clean up a volume it does not own",
                                           fix: "Remove 'external' so Compose creates the volume for this project.", at: external.key.mark)
            }
            if let device = node["driver_opts"]?["device"]?.scalarValue, Self.isDockerSocketPath(device) {
                throw ComposeError.refused(service: nil, what: "volume '\(name)' binding '\(device)'",
                                           why: "it exposes the Docker socket", fix: "Remove the driver_opts device.", at: node.mark)
            }
            node.set("labels", try labels(service: nil, node["labels"], values: sharedLabels.map { ($0.0, $0.1.scalarValue ?? "") }))
            result.append(YAMLPair(key: volume.key, value: node))
        }
        return (YAMLNode(.mapping(result), mark: pair.value.mark), [])
    }
}
