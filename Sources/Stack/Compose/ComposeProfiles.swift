import FrostbyteCore

/// Compose profiles as `docker compose` applies them: a service without
/// `profiles:` always runs; a service with profiles runs only when one of them is
/// active (`*` activates every profile). `render` keeps the active services, and
/// drops `profiles:` from them so the installed stack starts them without
/// `--profile`; `init` uses the same rule to decide which images to list.
struct ComposeProfiles: Sendable {
    /// The active profile names.
    let active: Set<String>

    init(active: [String]) {
        self.active = Set(active)
    }

    /// The profiles a service declares (empty when it has none).
    static func profiles(of service: YAMLNode) -> [String] {
        (service["profiles"]?.sequenceItems ?? []).compactMap(\.scalarValue)
    }

    /// True when the service runs with the active profiles.
    func runs(_ service: YAMLNode) -> Bool {
        let declared = Self.profiles(of: service)
        return declared.isEmpty || active.contains("*") || declared.contains(where: active.contains)
    }

    /// The services that run, each without its `profiles:` key, and a note for
    /// every service left out or changed.
    /// - Throws: `ComposeError.refused` when a running service depends on one left
    ///   out (Compose refuses to start it too), `.invalid` when none runs.
    func select(_ services: [YAMLPair]) throws -> ([YAMLPair], [HardeningWarning]) {
        var kept: [YAMLPair] = []
        var notes: [HardeningWarning] = []
        var leftOut: [String: [String]] = [:]
        for pair in services {
            let name = pair.key.scalarValue ?? ""
            guard runs(pair.value) else {
                let declared = Self.profiles(of: pair.value)
                leftOut[name] = declared
                notes.append(HardeningWarning(service: name, message: "left out: its profiles (\(declared.joined(separator: ", "))) are not in the spec's profiles", at: pair.key.mark))
                continue
            }
            var service = pair.value
            if let removed = service.remove("profiles") {
                notes.append(HardeningWarning(service: name, message: "'profiles' removed: the bundle always starts the service", at: removed.key.mark))
            }
            kept.append(YAMLPair(key: pair.key, value: service))
        }
        guard let first = services.first else { return ([], notes) }
        guard !kept.isEmpty else {
            throw ComposeError.invalid(path: "services", expected: "at least one service that runs with the spec's profiles (\(active.sorted().joined(separator: ", ")))",
                                       found: "only services of other profiles", at: first.key.mark)
        }
        for pair in kept {
            for (dependency, mark) in Self.requiredDependencies(of: pair.value) {
                guard let profiles = leftOut[dependency] else { continue }
                throw ComposeError.refused(
                    service: pair.key.scalarValue, what: "depends_on '\(dependency)'",
                    why: "'\(dependency)' runs only with profile \(profiles.joined(separator: " or ")), which is not active",
                    fix: "Add one of those profiles to the spec's profiles (init --profile), or remove the dependency.", at: mark)
            }
        }
        return (kept, notes)
    }

    /// `depends_on` entries (list or mapping form) other than `required: false` ones.
    static func requiredDependencies(of service: YAMLNode) -> [(String, YAMLMark)] {
        guard let node = service["depends_on"] else { return [] }
        if let items = node.sequenceItems {
            return items.compactMap { item in item.scalarValue.map { ($0, item.mark) } }
        }
        return (node.mappingPairs ?? []).compactMap { pair in
            if let required = pair.value["required"], ComposeHardener.isFalse(required) { return nil }
            return pair.key.scalarValue.map { ($0, pair.key.mark) }
        }
    }
}
