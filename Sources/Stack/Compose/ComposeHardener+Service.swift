extension ComposeHardener {
    /// Checks one service and returns its hardened form, the normalised image it
    /// uses, and warnings. Keys keep their source order; changed keys stay in
    /// place and new ones are appended.
    func hardenService(name: String, _ node: YAMLNode, specImages: [String: BundleSpec.Image])
        throws -> (YAMLNode, String, [HardeningWarning])
    {
        guard node.mappingPairs != nil else {
            throw ComposeError.invalid(path: "services.\(name)", expected: "a mapping", found: node.kindName, at: node.mark)
        }
        try refuseUnsafeSettings(service: name, node)
        var warnings = notes(service: name, node)
        let (image, resolved) = try checkImage(service: name, node, specImages: specImages)
        var service = node
        if let resolved {
            // The spec resolves an image written with variables, or names a build-only service's image.
            let source = node.pair("image")
            warnings.append(HardeningWarning(service: name, message: source.map { "image '\($0.value.scalarValue ?? "")' is '\(resolved.reference.text)' (the spec's images, written:)" }
                                                 ?? "image '\(resolved.reference.text)' (the spec's images, built_by:) replaces 'build'", at: source?.value.mark ?? node.mark))
            service.set("image", .string(resolved.reference.text))
        }

        if let build = service.remove("build") {
            warnings.append(HardeningWarning(service: name, message: "'build' removed: the bundle carries the image '\(service["image"]?.scalarValue ?? "")' and never builds", at: build.key.mark))
        }
        if let ports = service.remove("ports") {
            let list = (ports.value.sequenceItems ?? []).map { $0.scalarValue ?? "{...}" }.joined(separator: ", ")
            let reach = name == spec.gateway.service
                ? "the installer publishes port \(spec.gateway.port) on the host address it is given (\(gatewayPublishReference))"
                : "reach it through the gateway"
            warnings.append(HardeningWarning(service: name, message: "ports [\(list)] removed: published ports do nothing on an internal network; \(reach)", at: ports.key.mark))
        }
        service.set("networks", try networkAttachment(service: name, node, warnings: &warnings))
        if name == spec.gateway.service {
            service.set("ports", .sequence([.string("\(gatewayPublishReference):\(spec.gateway.port)")]))
        }
        if let policy = node.pair("pull_policy"), policy.value.scalarValue != "never" {
            warnings.append(HardeningWarning(service: name, message: "pull_policy '\(policy.value.scalarValue ?? "")' replaced by 'never': an offline host must never contact a registry", at: policy.key.mark))
        }
        service.set("pull_policy", .string("never"))
        service.set("cap_drop", try capDrop(service: name, node))
        service.set("labels", try labels(service: name, node["labels"], values: serviceLabels))
        return (service, image, warnings)
    }

    // MARK: - Image

    /// The normalised image `service` uses, and the spec image to write in its place
    /// when the compose file cannot be taken literally (variables, or build only).
    private func checkImage(service: String, _ node: YAMLNode, specImages: [String: BundleSpec.Image]) throws -> (String, BundleSpec.Image?) {
        guard let imagePair = node.pair("image") else {
            if node.pair("build") != nil, let image = spec.images.first(where: { $0.builtBy == service }) {
                return (image.reference.normalized, image)
            }
            if let build = node.pair("build") {
                throw ComposeError.refused(service: service, what: "'build' without 'image'", why: "the bundle carries built images, it cannot build on the host",
                                           fix: "Build the image, give it a tagged name in 'image', and list it in the spec's images.", at: build.key.mark)
            }
            throw ComposeError.invalid(path: "services.\(service).image", expected: "an image reference", found: "nothing", at: node.mark)
        }
        guard let text = imagePair.value.scalarValue, !imagePair.value.isNull else {
            throw ComposeError.invalid(path: "services.\(service).image", expected: "a string", found: imagePair.value.kindName, at: imagePair.value.mark)
        }
        if text.contains("$") {
            if let image = spec.images.first(where: { $0.written == text }) { return (image.reference.normalized, image) }
            throw ComposeError.refused(service: service, what: "image '\(text)' with interpolation", why: "the bundle must know exactly which image it carries",
                                       fix: "Give the resolved reference in the spec's images with 'written: \"\(text)\"' (frostbyte-bundle init does it), or write the full reference with its tag.", at: imagePair.value.mark)
        }
        guard let reference = ImageReference(text) else {
            throw ComposeError.invalid(path: "services.\(service).image", expected: "a valid image reference", found: "'\(text)'", at: imagePair.value.mark)
        }
        guard reference.isPinned else {
            throw ComposeError.refused(service: service, what: "image '\(text)' without a tag", why: "an untagged image means ':latest', which is not reproducible",
                                       fix: "Pin it, e.g. '\(text):1.0', in the compose file and the spec.", at: imagePair.value.mark)
        }
        guard specImages[reference.normalized] != nil else {
            throw ComposeError.imageNotInSpec(service: service, image: text, specPath: spec.specPath, at: imagePair.value.mark)
        }
        return (reference.normalized, nil)
    }

    // MARK: - Networks

    /// `networks: {<bundle network>: {aliases?, ipv4_address?}}`; aliases from the
    /// source networks are kept (deduplicated, in order).
    private func networkAttachment(service: String, _ node: YAMLNode, warnings: inout [HardeningWarning]) throws -> YAMLNode {
        var aliases: [String] = []
        if let source = node.pair("networks") {
            switch source.value.content {
            case .sequence:
                break
            case .mapping(let entries):
                for entry in entries {
                    guard let settings = entry.value.mappingPairs else { continue }
                    for setting in settings {
                        switch setting.key.scalarValue {
                        case "aliases":
                            for alias in setting.value.sequenceItems ?? [] {
                                if let text = alias.scalarValue, !aliases.contains(text) { aliases.append(text) }
                            }
                        case "ipv4_address", "ipv6_address", "link_local_ips", "mac_address":
                            warnings.append(HardeningWarning(service: service, message: "'\(setting.key.scalarValue ?? "")' on network '\(entry.key.scalarValue ?? "")' dropped: addresses come from the bundle's network", at: setting.key.mark))
                        default:
                            break
                        }
                    }
                }
            default:
                if !source.value.isNull {
                    throw ComposeError.invalid(path: "services.\(service).networks", expected: "a list or mapping", found: source.value.kindName, at: source.value.mark)
                }
            }
        }
        var attachment: [(String, YAMLNode)] = []
        if !aliases.isEmpty { attachment.append(("aliases", .sequence(aliases.map { .string($0) }))) }
        if service == spec.gateway.service {
            attachment.append(("ipv4_address", .string(ComposeVariables.reference(ComposeVariables.gatewayIP, default: spec.gateway.ipv4Address.description))))
        }
        guard service == spec.gateway.service else { return .mapping([(spec.network.name, .mapping(attachment))]) }
        return .mapping([(spec.network.name, .mapping(attachment)), (IngressNetwork.name, .mapping([]))])
    }

    /// `${FROSTBYTE_PUBLISH:-127.0.0.1:<port>}`: the gateway's host binding, loopback
    /// unless the installer is told otherwise.
    var gatewayPublishReference: String {
        ComposeVariables.reference(ComposeVariables.publish, default: "127.0.0.1:\(spec.gateway.port)")
    }

    // MARK: - Capabilities and labels

    /// The source `cap_drop` plus NET_RAW, unless it already drops NET_RAW or ALL.
    private func capDrop(service: String, _ node: YAMLNode) throws -> YAMLNode {
        guard let existing = node["cap_drop"], !existing.isNull else { return .sequence([.string("NET_RAW")]) }
        guard var items = existing.sequenceItems else {
            throw ComposeError.invalid(path: "services.\(service).cap_drop", expected: "a list", found: existing.kindName, at: existing.mark)
        }
        let dropped = Set(items.compactMap { $0.scalarValue.map(Self.capabilityName) })
        if !dropped.contains("NET_RAW") && !dropped.contains("ALL") { items.append(.string("NET_RAW")) }
        return YAMLNode(.sequence(items), mark: existing.mark)
    }

    /// `cap_net_raw`, `CAP_NET_RAW` and `NET_RAW` all name the same capability.
    static func capabilityName(_ text: String) -> String {
        let upper = text.uppercased()
        return upper.hasPrefix("CAP_") ? String(upper.dropFirst(4)) : upper
    }

    /// The source labels (mapping or `KEY=VALUE` list form, kept as written) with
    /// the bundle's labels set, replacing any earlier value of the same key.
    func labels(service: String?, _ existing: YAMLNode?, values: [(String, String)]) throws -> YAMLNode {
        guard let existing, !existing.isNull else {
            return .mapping(values.map { ($0.0, .string($0.1)) })
        }
        var result = existing
        switch existing.content {
        case .mapping:
            for (key, value) in values { result.set(key, .string(value)) }
        case .sequence(var items):
            let keys = Set(values.map(\.0))
            items.removeAll { item in
                guard let text = item.scalarValue else { return false }
                return keys.contains(String(text.prefix { $0 != "=" }))
            }
            items += values.map { .string("\($0.0)=\($0.1)") }
            result.content = .sequence(items)
        case .scalar:
            let path = service.map { "services.\($0).labels" } ?? "labels"
            throw ComposeError.invalid(path: path, expected: "a mapping or a list", found: existing.kindName, at: existing.mark)
        }
        return result
    }
}
