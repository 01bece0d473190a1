import FrostbyteCore

/// Picks the gateway the way docs/SPEC.md ("init") says: the one service that
/// publishes a port; among several, the one no other service depends on, when
/// exactly one is; else none (the engineer names it with `--gateway`). Its
/// container port comes from `ports:`, its health path from an HTTP healthcheck.
struct GatewayChoice {
    /// One active service, already interpolated where it matters.
    struct Service {
        var name: String
        var node: YAMLNode
        var mark: YAMLMark
        /// Container ports of `ports:` (TCP), in order.
        var publishedTargets: [Int]
        /// Where `ports:` is, if present.
        var portsMark: YAMLMark?
        /// Words of the healthcheck test, interpolated.
        var healthcheck: [String]
    }

    /// The chosen gateway, or an obstacle explaining why there is none.
    enum Outcome {
        /// `reason`: why this service; `portSource`: where its port comes from.
        case chosen(service: Service, port: Int, reason: String, portSource: String, note: String?)
        case none(InitFinding)
    }

    static func choose(_ services: [Service], requested: String?, composePath: String, documentMark: YAMLMark) -> Outcome {
        let publishers = services.filter { !$0.publishedTargets.isEmpty }
        let list = publishers.map { "\($0.name) (\($0.publishedTargets.map(String.init).joined(separator: ", ")))" }.joined(separator: ", ")
        if let requested {
            let parts = requested.split(separator: ":", maxSplits: 1).map(String.init)
            guard let service = services.first(where: { $0.name == parts[0] }) else {
                let names = services.map(\.name).joined(separator: ", ")
                return .none(InitFinding(service: nil, message: "--gateway names '\(parts[0])', which is not a running service of the compose file (services: \(names)).", at: documentMark))
            }
            if parts.count == 2 {
                guard let port = Int(parts[1]), (1...65535).contains(port) else {
                    return .none(InitFinding(service: nil, message: "--gateway '\(requested)': the port must be 1-65535.", at: documentMark))
                }
                return .chosen(service: service, port: port, reason: "named with --gateway", portSource: "given with --gateway", note: nil)
            }
            return portOf(service, reason: "named with --gateway")
        }
        if publishers.count == 1 { return portOf(publishers[0], reason: "the one service that publishes a port") }
        if publishers.isEmpty {
            return .none(InitFinding(service: nil, message: "no service publishes a port, so there is no gateway for the host to reach; name it with --gateway SERVICE:PORT (the port it listens on inside the network).", at: documentMark))
        }
        // Several publishers: a service others depend on is a backend (a database
        // published for development); the front is the one nobody depends on.
        let dependedOn = Set(services.flatMap { ComposeProfiles.requiredDependencies(of: $0.node).map(\.0) })
        let fronts = publishers.filter { !dependedOn.contains($0.name) }
        if fronts.count == 1 {
            let others = publishers.filter { $0.name != fronts[0].name }.map(\.name).joined(separator: ", ")
            let outcome = portOf(fronts[0], reason: "")
            if case .chosen(let service, let port, _, let source, _) = outcome {
                return .chosen(service: service, port: port, reason: "of the services that publish ports, the one no other service depends on", portSource: source,
                               note: "several services publish ports (\(list)); '\(service.name)' is taken as the gateway because no service depends on it, and the ports of \(others) are removed. Use --gateway SERVICE to pick another.")
            }
            return outcome
        }
        return .none(InitFinding(service: nil, message: "several services publish ports (\(list)), so the gateway is not clear; name the one the host talks to with --gateway SERVICE.", at: publishers[0].portsMark ?? documentMark))
    }

    private static func portOf(_ service: Service, reason: String) -> Outcome {
        if let port = service.publishedTargets.first {
            return .chosen(service: service, port: port, reason: reason, portSource: "its container port (ports:)", note: nil)
        }
        if let port = healthcheckURL(service.healthcheck)?.port {
            return .chosen(service: service, port: port, reason: reason, portSource: "the port of its healthcheck URL", note: nil)
        }
        if let exposed = service.node["expose"]?.sequenceItems?.first?.scalarValue, let port = Int(exposed.split(separator: "/")[0]) {
            return .chosen(service: service, port: port, reason: reason, portSource: "its first expose:", note: nil)
        }
        return .none(InitFinding(service: service.name, message: "is the gateway but its port is not known (no ports:, expose: or HTTP healthcheck); name it with --gateway \(service.name):PORT.", at: service.mark))
    }

    // MARK: - Ports

    /// The container (target) TCP ports of a `ports:` list: short syntax
    /// `[HOST_IP:][HOST_PORT:]CONTAINER_PORT[/PROTO]` (ranges give their first port)
    /// or long syntax `{target, published, protocol}`. Items must be interpolated.
    static func targets(_ items: [YAMLNode], interpolate: (String) -> String) -> [Int] {
        var ports: [Int] = []
        for item in items {
            if let text = item.scalarValue {
                let resolved = interpolate(text)
                let (spec, proto) = splitProtocol(resolved)
                guard proto == "tcp" else { continue }
                // IPv6 host addresses are bracketed: [::1]:8080:80.
                let withoutHost = spec.hasPrefix("[") ? String(spec[(spec.firstIndex(of: "]").map { spec.index(after: $0) } ?? spec.endIndex)...]) : spec
                guard let last = withoutHost.split(separator: ":").last,
                      let port = Int(last.split(separator: "-")[0]), (1...65535).contains(port) else { continue }
                ports.append(port)
            } else if let target = item["target"]?.scalarValue.map(interpolate) {
                let proto = item["protocol"]?.scalarValue.map(interpolate) ?? "tcp"
                if proto == "tcp", let port = Int(target), (1...65535).contains(port) { ports.append(port) }
            }
        }
        return ports
    }

    private static func splitProtocol(_ text: String) -> (String, String) {
        guard let slash = text.lastIndex(of: "/") else { return (text, "tcp") }
        return (String(text[..<slash]), String(text[text.index(after: slash)...]).lowercased())
    }

    // MARK: - Health path

    /// The words of a healthcheck's test: `[CMD, ...]`, `[CMD-SHELL, "..."]` (split on
    /// spaces) or a string (a shell command). Empty for `NONE`, `disable: true` or none.
    static func healthcheckWords(_ service: YAMLNode, interpolate: (String) -> String) -> [String] {
        guard let check = service["healthcheck"] else { return [] }
        if let disable = check["disable"], ComposeHardener.isTrue(disable) { return [] }
        guard let test = check["test"] else { return [] }
        let words: [String]
        if let items = test.sequenceItems {
            words = items.compactMap(\.scalarValue).map(interpolate)
        } else if let text = test.scalarValue {
            words = [interpolate(text)]
        } else {
            return []
        }
        if words.first == "NONE" { return [] }
        return words.flatMap { $0.split(whereSeparator: { $0 == " " || $0 == "'" || $0 == "\"" }).map(String.init) }
    }

    /// The first `http://` or `https://` URL among the words: its port and its path.
    static func healthcheckURL(_ words: [String]) -> (port: Int?, path: String)? {
        for word in words {
            guard let range = word.firstRange(of: "http://") ?? word.firstRange(of: "https://") else { continue }
            let rest = word[range.upperBound...]
            let hostEnd = rest.firstIndex(where: { $0 == "/" || $0 == "?" }) ?? rest.endIndex
            let host = rest[..<hostEnd]
            var port: Int?
            if let colon = host.lastIndex(of: ":"), !host.hasSuffix("]") { port = Int(String(host[host.index(after: colon)...])) }
            if port == nil { port = word[range].hasPrefix("https") ? 443 : 80 }
            var path = String(rest[hostEnd...])
            if path.isEmpty || path.hasPrefix("?") { path = "/" + path }
            let stops: Set<Character> = ["|", ";", "&", ")", "'", "\""]
            path = String(path.prefix { !$0.isWhitespace && !stops.contains($0) })
            return (port, path)
        }
        return nil
    }
}
