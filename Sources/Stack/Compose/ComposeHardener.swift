import FoundationEssentials
import Glibc

/// Turns a source compose stack into the hardened stack a bundle carries
/// (DESIGN.md "Compose hardening", docs/SPEC.md "Hardened compose file"):
/// one `internal: true` network, every service on it, `pull_policy: never`,
/// `cap_drop` with NET_RAW, ownership labels, no `ports:` but the gateway's one
/// (`${FROSTBYTE_PUBLISH}`, through the non-internal `ingress` network it alone
/// joins), a fixed gateway address, and a refusal (with service and line) for
/// anything that would break isolation or offline operation. Output is deterministic.
public struct ComposeHardener: Sendable {
    /// The validated spec whose compose file is hardened.
    public let spec: BundleSpec

    /// Creates a hardener for `spec`.
    public init(spec: BundleSpec) {
        self.spec = spec
    }

    static let topLevelKeys = ["name", "version", "services", "networks", "volumes", "secrets", "configs"]

    /// Reads `spec.composePath`, hardens it and emits the compose YAML.
    /// - Throws: `ComposeError`, `YAMLError`.
    public func render() throws -> RenderedStack {
        guard let data = FileManager.default.contents(atPath: spec.composePath) else {
            throw ComposeError.unreadable(path: spec.composePath, reason: "no such file or not readable")
        }
        return try render(composeBytes: [UInt8](data))
    }

    /// Hardens compose text (named `spec.composePath` in errors) and emits YAML.
    /// - Throws: `ComposeError`, `YAMLError`.
    public func render(composeBytes: [UInt8]) throws -> RenderedStack {
        let source = try YAMLNode.parse(composeBytes, file: spec.composePath)
        let result = try harden(source)
        return RenderedStack(
            composeYAML: try result.document.emitted(), warnings: result.warnings, project: spec.project,
            networks: [.init(name: spec.network.name, subnet: spec.network.subnet.description, internal: true),
                       .init(name: IngressNetwork.name, subnet: IngressNetwork.defaultSubnet, internal: false)],
            services: result.services)
    }

    /// The hardened tree before emission, with warnings and service names.
    public struct Hardened: Sendable {
        /// The hardened compose document.
        public var document: YAMLNode
        /// Changes and notes, in source order.
        public var warnings: [HardeningWarning]
        /// Service names in source order.
        public var services: [String]
    }

    /// Hardens a parsed compose document.
    /// - Throws: `ComposeError` for the first refused or invalid setting.
    public func harden(_ source: YAMLNode) throws -> Hardened {
        guard let topPairs = source.mappingPairs else {
            throw ComposeError.invalid(path: "(document)", expected: "a mapping with 'services'", found: source.kindName, at: source.mark)
        }
        var warnings: [HardeningWarning] = []
        for pair in topPairs {
            let key = pair.key.scalarValue ?? ""
            if key.hasPrefix("x-") || Self.topLevelKeys.contains(key) { continue }
            switch key {
            case "include":
                throw ComposeError.refused(service: nil, what: "'include'", why: "it pulls in compose files the bundle does not carry",
                                           fix: "Merge them into one file (docker compose config > merged.yaml).", at: pair.key.mark)
            case "models":
                throw ComposeError.refused(service: nil, what: "top-level 'models'", why: "Docker Model Runner pulls models from a registry, which an offline host cannot",
                                           fix: "Serve the model from a service image and list the files under the spec's models.", at: pair.key.mark)
            default:
                throw ComposeError.unknownTopLevelKey(key: key, suggestion: KeySuggestion.nearest(to: key, in: Self.topLevelKeys), at: pair.key.mark)
            }
        }

        guard let servicesPair = source.pair("services") else {
            throw ComposeError.invalid(path: "services", expected: "a mapping of services", found: "nothing", at: source.mark)
        }
        guard let allServices = servicesPair.value.mappingPairs, !allServices.isEmpty else {
            throw ComposeError.invalid(path: "services", expected: "a non-empty mapping of services", found: servicesPair.value.kindName, at: servicesPair.value.mark)
        }
        // Services of profiles the spec does not run are left out, as Compose leaves them out.
        let (servicePairs, profileNotes) = try ComposeProfiles(active: spec.profiles).select(allServices)
        warnings += profileNotes

        // Every image a service uses, to match against the spec both ways.
        let specImages = Dictionary(uniqueKeysWithValues: spec.images.map { ($0.reference.normalized, $0) })
        var usedImages = Set<String>()
        var hardenedServices: [YAMLPair] = []
        var containers = 0
        for pair in servicePairs {
            let name = pair.key.scalarValue ?? ""
            containers += try replicas(service: name, pair.value)
            let (service, image, notes) = try hardenService(name: name, pair.value, specImages: specImages)
            usedImages.insert(image)
            warnings += notes
            hardenedServices.append(YAMLPair(key: pair.key, value: service))
        }
        let serviceNames = hardenedServices.compactMap { $0.key.scalarValue }
        try checkSpecAgainst(services: serviceNames, containers: containers, usedImages: usedImages)

        let (volumes, volumeNotes) = try hardenVolumes(source.pair("volumes"))
        warnings += volumeNotes
        warnings += try droppedNetworks(source.pair("networks"))

        // Output order: our `name` first, then the source's keys in order, with
        // `networks` where the source had it (else right after `services`).
        var output: [YAMLPair] = [YAMLPair(key: .string("name"), value: .string(projectReference))]
        let hasNetworks = source.pair("networks") != nil
        for pair in topPairs {
            switch pair.key.scalarValue ?? "" {
            case "name":
                if pair.value.scalarValue != spec.project {
                    warnings.append(HardeningWarning(service: nil, message: "top-level name '\(pair.value.scalarValue ?? "")' replaced by \(projectReference) (the spec's project)", at: pair.key.mark))
                }
            case "version":
                warnings.append(HardeningWarning(service: nil, message: "obsolete top-level 'version' removed", at: pair.key.mark))
            case "services":
                output.append(YAMLPair(key: pair.key, value: YAMLNode(.mapping(hardenedServices), mark: pair.value.mark)))
                if !hasNetworks { output.append(YAMLPair(key: .string("networks"), value: networksNode())) }
            case "networks":
                output.append(YAMLPair(key: pair.key, value: networksNode()))
            case "volumes":
                output.append(YAMLPair(key: pair.key, value: volumes ?? pair.value))
            default:
                output.append(pair)
            }
        }
        return Hardened(document: YAMLNode(.mapping(output), mark: source.mark), warnings: warnings, services: serviceNames)
    }

    // MARK: - Spec cross-checks

    private func checkSpecAgainst(services: [String], containers: Int, usedImages: Set<String>) throws {
        func require(_ service: String, role: String, at mark: YAMLMark) throws {
            guard services.contains(service) else {
                throw ComposeError.serviceMissing(role: role, service: service, available: services, at: mark)
            }
        }
        try require(spec.gateway.service, role: "gateway.service", at: spec.marks.gatewayService)
        if let migrations = spec.migrations {
            try require(migrations.service, role: "migrations.service", at: spec.marks.migrationsService ?? spec.marks.compose)
        }
        for (export, mark) in zip(spec.exports, spec.marks.exportServices) {
            try require(export.service, role: "exports '\(export.name)'", at: mark)
        }
        // Spec images must match the compose file exactly: an unused image would
        // be carried and loaded for nothing, and usually means a typo.
        for image in spec.images where !usedImages.contains(image.reference.normalized) {
            throw ComposeError.imageUnused(image: image.reference.text, composePath: spec.composePath, at: image.mark)
        }
        // Network address, bridge, broadcast, plus one address per container.
        if UInt64(containers) + 3 > spec.network.subnet.size {
            throw ComposeError.subnetTooSmall(subnet: spec.network.subnet.description, services: containers, at: spec.marks.subnet)
        }
    }

    /// How many containers a service runs (`scale` or `deploy.replicas`, default
    /// 1). The gateway must run exactly one: a fixed address fits one container.
    private func replicas(service: String, _ node: YAMLNode) throws -> Int {
        let candidates = [node.pair("scale"), node["deploy"]?.pair("replicas")].compactMap { $0 }
        var count = 1
        for pair in candidates {
            guard let text = pair.value.scalarValue, let value = Int(text), value >= 0 else { continue }
            count = max(count, value)
            if service == spec.gateway.service && value > 1 {
                throw ComposeError.refused(service: service, what: "'\(pair.key.scalarValue ?? "")' of \(value) on the gateway",
                                           why: "the gateway has one fixed address, which only one container can hold",
                                           fix: "Run one gateway container.", at: pair.key.mark)
            }
        }
        return count
    }

    // MARK: - Networks

    var projectReference: String {
        ComposeVariables.reference(ComposeVariables.project, default: spec.project)
    }

    /// The networks of the hardened file: the internal one, keyed by the spec's
    /// network name, that every service joins, and the gateway's ingress network
    /// (not internal, no IP masquerading; see `IngressNetwork`).
    func networksNode() -> YAMLNode {
        func ipam(_ variable: String, _ subnet: String) -> YAMLNode {
            .mapping([("config", .sequence([.mapping([("subnet", .string(ComposeVariables.reference(variable, default: subnet)))])]))])
        }
        let bridgeName = { (variable: String) in
            (IngressNetwork.bridgeNameOption, YAMLNode.string(ComposeVariables.reference(variable, default: "")))
        }
        let network = YAMLNode.mapping([
            ("driver", .string("bridge")),
            ("internal", .bool(true)),
            ("enable_ipv6", .bool(false)),
            ("driver_opts", .mapping([
                ("com.docker.network.bridge.gateway_mode_ipv4",
                 .string(ComposeVariables.reference(ComposeVariables.gatewayMode, default: "nat"))),
                bridgeName(ComposeVariables.bridge),
            ])),
            ("ipam", ipam(ComposeVariables.subnet, spec.network.subnet.description)),
            ("labels", .mapping(sharedLabels)),
        ])
        let ingress = YAMLNode.mapping([
            ("driver", .string("bridge")),
            ("internal", .bool(false)),
            ("enable_ipv6", .bool(false)),
            ("driver_opts", .mapping([
                (IngressNetwork.masqueradeOption, .string("false")),
                bridgeName(ComposeVariables.ingressBridge),
            ])),
            ("ipam", ipam(ComposeVariables.ingressSubnet, IngressNetwork.defaultSubnet)),
            ("labels", .mapping(sharedLabels + [(IngressNetwork.roleLabel, .string(IngressNetwork.roleValue))])),
        ])
        return .mapping([(spec.network.name, network), (IngressNetwork.name, ingress)])
    }

    /// Labels on networks and volumes: no version, so upgrades keep Compose's
    /// configuration hash (a changed volume hash prompts to delete data).
    var sharedLabels: [(String, YAMLNode)] {
        [(BundleLabels.name, .string(spec.name)), (BundleLabels.project, .string(projectReference))]
    }

    /// Labels on services: the shared ones plus `io.frostbyte.bundle`.
    var serviceLabels: [(String, String)] {
        [(BundleLabels.bundle, spec.bundleStem), (BundleLabels.name, spec.name), (BundleLabels.project, projectReference)]
    }

    /// Source networks are replaced by the bundle's network: each non-external
    /// one is dropped with a warning; an external one is refused (the bundle
    /// cannot own or guarantee a network it does not create).
    func droppedNetworks(_ pair: YAMLPair?) throws -> [HardeningWarning] {
        guard let pair, !pair.value.isNull else { return [] }
        guard let networks = pair.value.mappingPairs else {
            throw ComposeError.invalid(path: "networks", expected: "a mapping", found: pair.value.kindName, at: pair.value.mark)
        }
        var warnings: [HardeningWarning] = []
        for network in networks {
            let name = network.key.scalarValue ?? ""
            if let external = network.value.pair("external"), !Self.isFalse(external.value) {
                throw ComposeError.refused(service: nil, what: "network '\(name)' with 'external'",
                                           why: "a network the bundle does not create may not be internal",
                                           fix: "Remove it; every service joins the bundle's internal network '\(spec.network.name)'.", at: external.key.mark)
            }
            if name != spec.network.name {
                warnings.append(HardeningWarning(service: nil, message: "network '\(name)' dropped; every service joins '\(spec.network.name)' (internal)", at: network.key.mark))
            }
        }
        return warnings
    }

    /// True for a false boolean, or null (an absent value means false). A quoted
    /// `"false"` counts: Compose converts strings to booleans after interpolation.
    static func isFalse(_ node: YAMLNode) -> Bool {
        if node.isNull { return true }
        guard let scalar = node.scalar else { return false }
        return ScalarResolution.isFalse(scalar.value)
    }

    static func isTrue(_ node: YAMLNode) -> Bool {
        guard let scalar = node.scalar else { return false }
        return ScalarResolution.isTrue(scalar.value)
    }
}
