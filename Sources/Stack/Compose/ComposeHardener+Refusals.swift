extension ComposeHardener {
    /// Capabilities that let a container reconfigure or escape its network
    /// namespace, craft raw packets, or reach the host's kernel and memory.
    static let refusedCapabilities: Set<String> = [
        "ALL", "NET_ADMIN", "SYS_ADMIN", "NET_RAW", "SYS_MODULE", "SYS_RAWIO", "SYS_PTRACE", "DAC_READ_SEARCH", "BPF",
    ]

    /// Service keys refused outright, with the reason and the fix.
    private static let refusedKeys: [String: (why: String, fix: String)] = [
        "network_mode": ("the service would leave the bundle's internal network", "Remove it; every service joins the internal network."),
        "devices": ("host devices bypass the container's isolation", "Remove the device mapping."),
        "device_cgroup_rules": ("it grants access to host devices", "Remove it."),
        "extends": ("it refers to definitions the bundle may not carry", "Flatten the file first (docker compose config)."),
        "external_links": ("it links to containers outside the bundle", "Remove it; services reach each other by name."),
        "provider": ("provider services run outside Compose's control", "Replace it with a regular service."),
        "models": ("Docker Model Runner pulls models from a registry", "Serve the model from an image and list the files in the spec's models."),
    ]

    /// Throws for the first setting of `service` that breaks isolation or offline
    /// operation; the message names the service and the line.
    func refuseUnsafeSettings(service: String, _ node: YAMLNode) throws {
        for pair in node.mappingPairs ?? [] {
            let key = pair.key.scalarValue ?? ""
            let value = pair.value
            func refuse(_ what: String, _ why: String, _ fix: String, at mark: YAMLMark? = nil) -> ComposeError {
                .refused(service: service, what: what, why: why, fix: fix, at: mark ?? pair.key.mark)
            }
            if let rule = Self.refusedKeys[key], !value.isNull, !Self.isEmptyCollection(value) {
                throw refuse("'\(key)'", rule.why, rule.fix)
            }
            switch key {
            case "privileged":
                if !Self.isFalse(value) {
                    throw refuse("'privileged: \(value.scalarValue ?? "...")'", "a privileged container can reconfigure the host network and leave its namespace", "Remove it.")
                }
            case "pid", "ipc", "uts", "userns_mode", "cgroup":
                // Interpolated values are refused too: the bundle cannot check them.
                if let text = value.scalarValue, text == "host" || text.contains("$") {
                    throw refuse("'\(key): \(text)'", "it shares a host namespace with the container", "Remove it.")
                }
            case "cap_add":
                for item in value.sequenceItems ?? [value] {
                    guard let text = item.scalarValue else { continue }
                    let name = Self.capabilityName(text)
                    if Self.refusedCapabilities.contains(name) || text.contains("$") {
                        throw refuse("'cap_add: \(text)'", "it lets the container change or bypass its network isolation", "Remove that capability.", at: item.mark)
                    }
                }
            case "security_opt":
                for item in value.sequenceItems ?? [value] {
                    guard let text = item.scalarValue else { continue }
                    let compact = text.lowercased().replacing(" ", with: "").replacing("=", with: ":")
                    if ["apparmor:unconfined", "seccomp:unconfined", "label:disable", "systempaths:unconfined"].contains(compact) {
                        throw refuse("'security_opt: \(text)'", "it disables a kernel confinement layer", "Remove it.", at: item.mark)
                    }
                }
            case "use_api_socket":
                if !Self.isFalse(value) {
                    throw refuse("'use_api_socket'", "it mounts the Docker API socket, which controls the host", "Remove it.")
                }
            case "post_start", "pre_stop":
                for hook in value.sequenceItems ?? [] {
                    if let privileged = hook.pair("privileged"), !Self.isFalse(privileged.value) {
                        throw refuse("privileged '\(key)' hook", "a privileged hook runs outside the container's isolation", "Remove 'privileged' from the hook.", at: privileged.key.mark)
                    }
                }
            case "volumes":
                try checkServiceVolumes(service: service, value)
            default:
                break
            }
        }
    }

    /// Notes about settings that are kept but deserve the operator's attention.
    func notes(service: String, _ node: YAMLNode) -> [HardeningWarning] {
        var notes: [HardeningWarning] = []
        if let pair = node.pair("container_name") {
            notes.append(HardeningWarning(service: service, message: "container_name is not scoped by the project name, so two installs on one host will collide", at: pair.key.mark))
        }
        if let pair = node.pair("extra_hosts"), Self.mentions(pair.value, "host-gateway") {
            notes.append(HardeningWarning(service: service, message: "extra_hosts 'host-gateway' points at the host, which stays reachable from an internal network", at: pair.key.mark))
        }
        if let pair = node.pair("gpus") {
            notes.append(HardeningWarning(service: service, message: "'gpus' gives the container host GPU devices", at: pair.key.mark))
        }
        return notes
    }

    static func isEmptyCollection(_ node: YAMLNode) -> Bool {
        switch node.content {
        case .sequence(let items): return items.isEmpty
        case .mapping(let pairs): return pairs.isEmpty
        case .scalar: return false
        }
    }

    static func mentions(_ node: YAMLNode, _ text: String) -> Bool {
        switch node.content {
        case .scalar(let s): return s.value.contains(text)
        case .sequence(let items): return items.contains { mentions($0, text) }
        case .mapping(let pairs): return pairs.contains { mentions($0.value, text) }
        }
    }
}
