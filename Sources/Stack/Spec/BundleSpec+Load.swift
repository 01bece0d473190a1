import FrostbyteCore
import FoundationEssentials
import Glibc

extension BundleSpec {
    static let topLevelKeys = [
        "name", "version", "created_at", "project", "compose", "network", "gateway",
        "images", "models", "template", "migrations", "exports", "profiles",
    ]

    /// Reads, parses and validates the spec at `path` (relative paths resolve
    /// against the current directory; paths inside the spec against its folder).
    /// - Throws: `SpecError` or `YAMLError`, each naming file:line:column.
    public static func load(path: String) throws -> BundleSpec {
        let absolute = absolutePath(path, relativeTo: FileManager.default.currentDirectoryPath)
        var isDirectory = false
        guard FileManager.default.fileExists(atPath: absolute, isDirectory: &isDirectory), !isDirectory else {
            throw SpecError.unreadable(path: path, reason: "no such file")
        }
        guard let data = FileManager.default.contents(atPath: absolute) else {
            throw SpecError.unreadable(path: path, reason: "permission denied or I/O error")
        }
        return try parse([UInt8](data), specPath: absolute)
    }

    /// Parses and validates spec text. `specPath` must be absolute: it names the
    /// file in errors and its folder anchors relative paths.
    /// - Throws: `SpecError` or `YAMLError`.
    public static func parse(_ bytes: [UInt8], specPath: String) throws -> BundleSpec {
        let root = try YAMLNode.parse(bytes, file: specPath)
        return try BundleSpec(root: root, specPath: specPath)
    }

    init(root: YAMLNode, specPath: String) throws {
        let top = try MappingReader(root, path: "", keys: Self.topLevelKeys)
        let folder = PathText.deletingLastComponent(specPath)
        func resolve(_ relative: String) -> String { Self.absolutePath(relative, relativeTo: folder) }

        self.specPath = specPath
        name = try top.string("name", matching: SpecPatterns.isBundleName, rule: "[a-z0-9][a-z0-9-]* (at most 63 characters)").0
        version = try top.string("version", matching: SpecPatterns.isVersion, rule: "[0-9A-Za-z.+-]+").0
        project = try top.string("project", matching: SpecPatterns.isProject,
                                 rule: "^[a-z0-9][a-z0-9_-]*$ (Compose v2 project names)").0
        createdAt = try Self.parseDate(top)

        let (compose, composeMark) = try top.string("compose")
        composePath = resolve(compose)
        try Self.requireFile(composePath, directory: false, path: "compose", at: composeMark)

        let (network, subnetMark) = try Self.parseNetwork(try top.requiredNode("network"), bundleName: name)
        self.network = network
        let (gateway, gatewayServiceMark) = try Self.parseGateway(try top.requiredNode("gateway"), subnet: network.subnet)
        self.gateway = gateway
        images = try Self.parseImages(top, resolve: resolve)
        models = try Self.parseModels(top, resolve: resolve)

        var templateMark: YAMLMark?
        if let (template, mark) = try top.optionalString("template") {
            templatePath = resolve(template)
            templateMark = mark
        } else {
            templatePath = nil
        }

        var migrationMarks: (service: YAMLMark, path: YAMLMark)?
        if let node = top.optionalNode("migrations") {
            let reader = try MappingReader(node, path: "migrations", keys: ["path", "service", "database", "user"])
            let (path, pathMark) = try reader.string("path")
            let (service, serviceMark) = try reader.string("service")
            migrations = Migrations(
                path: resolve(path), service: service,
                database: try reader.string("database").0, user: try reader.string("user").0)
            migrationMarks = (serviceMark, pathMark)
        } else {
            migrations = nil
        }

        let (exports, exportMarks) = try Self.parseExports(top)
        self.exports = exports
        profiles = try Self.parseProfiles(top)
        marks = Marks(
            compose: composeMark, gatewayService: gatewayServiceMark,
            migrationsService: migrationMarks?.service, exportServices: exportMarks,
            subnet: subnetMark, template: templateMark, migrationsPath: migrationMarks?.path)
    }

    // MARK: - Sections

    private static func parseDate(_ top: MappingReader) throws -> Date? {
        guard let (text, mark) = try top.optionalString("created_at") else { return nil }
        // RFC 3339 without fractional seconds: "Z" or a "+hh:mm" offset; or a bare
        // date, taken as 00:00 UTC (what ISO8601DateFormatter's withInternetDateTime
        // and withFullDate accepted).
        if !text.contains("."), let date = try? Date.ISO8601FormatStyle(timeZoneSeparator: .colon).parse(text) {
            return date
        }
        if text.count == 10, let date = try? Date.ISO8601FormatStyle().year().month().day().parse(text) {
            return date
        }
        throw SpecError.invalidValue(path: "created_at", value: text,
                                     reason: "is not an RFC 3339 time; write it like 2026-01-01T00:00:00Z", at: mark)
    }

    /// `network.name` defaults to `<name>-internal`.
    private static func parseNetwork(_ node: YAMLNode, bundleName: String) throws -> (Network, YAMLMark) {
        let reader = try MappingReader(node, path: "network", keys: ["name", "subnet"])
        let rule = "[a-zA-Z0-9][a-zA-Z0-9_.-]* (at most 63 characters)"
        let name = reader.optionalNode("name") == nil
            ? "\(bundleName)-internal" : try reader.string("name", matching: SpecPatterns.isComposeName, rule: rule).0
        guard SpecPatterns.isComposeName(name) else {
            throw SpecError.invalidValue(path: "network.name", value: name, reason: "(the default, <name>-internal) must match \(rule); set network.name", at: node.mark)
        }
        let (text, mark) = try reader.string("subnet")
        return (Network(name: name, subnet: try validatePrivateSubnet(text, path: "network.subnet", at: mark)), mark)
    }

    /// Parses `text` as a subnet a bundle may use: IPv4 CIDR with host bits zero,
    /// wholly inside one RFC 1918 block, prefix /8 to /29. The installer uses this
    /// for `--subnet` too.
    /// - Throws: `SpecError.invalidValue` saying which rule failed and what to use.
    public static func validatePrivateSubnet(_ text: String, path: String = "subnet", at mark: YAMLMark = .synthesized) throws -> IPv4Network {
        let network: IPv4Network
        switch IPv4Network.parse(text) {
        case .failure(let problem):
            throw SpecError.invalidValue(path: path, value: text, reason: problem.description, at: mark)
        case .success(let parsed):
            network = parsed
        }
        guard network.privateBlock != nil else {
            let crossed = IPv4Network.rfc1918.first { $0.overlaps(network) }
            let reason = crossed.map { "reaches outside the private block \($0); pick a subnet wholly inside it" }
                ?? "is not private (RFC 1918) address space; use a subnet inside 10.0.0.0/8, 172.16.0.0/12 or 192.168.0.0/16"
            throw SpecError.invalidValue(path: path, value: text, reason: reason, at: mark)
        }
        guard network.prefixLength <= 29 else {
            throw SpecError.invalidValue(path: path, value: text,
                                         reason: "is too small; use /29 or larger (network, bridge, broadcast and every service need an address)", at: mark)
        }
        return network
    }

    /// Checks that `address` can be a service's fixed address in `subnet`: inside
    /// it, and not the network, bridge gateway (first host) or broadcast address.
    /// Returns a reason when it cannot, nil when it can.
    public static func problem(withGatewayAddress address: IPv4Address, in subnet: IPv4Network) -> String? {
        if !subnet.contains(address) { return "is outside the subnet \(subnet)" }
        if address == subnet.address { return "is the network address of \(subnet)" }
        if address == subnet.broadcast { return "is the broadcast address of \(subnet)" }
        if address == subnet.bridgeGateway { return "is \(subnet)'s first address, which Docker gives the bridge itself" }
        return nil
    }

    private static func parseGateway(_ node: YAMLNode, subnet: IPv4Network) throws -> (Gateway, YAMLMark) {
        let reader = try MappingReader(node, path: "gateway", keys: ["service", "ipv4_address", "port", "health_path"])
        let (service, serviceMark) = try reader.string("service", matching: SpecPatterns.isComposeName, rule: "[a-zA-Z0-9][a-zA-Z0-9_.-]*")
        // Default: the subnet's tenth address, so that changing the subnet alone keeps the spec valid.
        let (text, mark) = try reader.optionalString("ipv4_address") ?? (subnet.address(atOffset: 10).description, node.mark)
        guard let address = IPv4Address(text) else {
            throw SpecError.invalidValue(path: "gateway.ipv4_address", value: text, reason: "is not an IPv4 address like 172.29.0.10", at: mark)
        }
        if let problem = problem(withGatewayAddress: address, in: subnet) {
            throw SpecError.invalidValue(path: "gateway.ipv4_address", value: text,
                                         reason: "\(problem); pick a host address such as \(subnet.address(atOffset: 10))", at: mark)
        }
        guard let (port, _) = try reader.optionalInt("port", range: 1...65535) else {
            throw SpecError.missingKey(path: "gateway.port", at: node.mark)
        }
        let healthPath = try reader.optionalString("health_path")
        if let (path, pathMark) = healthPath, !SpecPatterns.isHTTPPath(path) {
            throw SpecError.invalidValue(path: "gateway.health_path", value: path, reason: "must be an absolute HTTP path like /health", at: pathMark)
        }
        return (Gateway(service: service, ipv4Address: address, port: port, healthPath: healthPath?.0 ?? "/health"), serviceMark)
    }

    private static func parseImages(_ top: MappingReader, resolve: (String) -> String) throws -> [Image] {
        guard let items = try top.optionalList("images"), !items.isEmpty else {
            throw SpecError.missingKey(path: "images", at: top.node["images"]?.mark ?? top.node.mark)
        }
        var images: [Image] = []
        var seen: [String: YAMLMark] = [:]
        for (index, item) in items.enumerated() {
            let path = "images[\(index)]"
            let reader = try MappingReader(item, path: path, keys: ["ref", "archive", "written", "built_by"])
            let (text, mark) = try reader.string("ref")
            guard let reference = ImageReference(text) else {
                throw SpecError.invalidValue(path: "\(path).ref", value: text,
                                             reason: "is not a valid image reference (lower-case repository, then :tag or @sha256:digest)", at: mark)
            }
            guard reference.isPinned else {
                throw SpecError.invalidValue(path: "\(path).ref", value: text,
                                             reason: "has no tag or digest; pin it, e.g. \(text):1.0", at: mark)
            }
            if let first = seen[reference.normalized] {
                throw SpecError.duplicate(path: "images", value: text, at: mark, first: first)
            }
            seen[reference.normalized] = mark
            let archive = try reader.optionalString("archive").map { resolve($0.0) }
            var image = Image(reference: reference, archivePath: archive, mark: mark)
            if let (written, writtenMark) = try reader.optionalString("written") {
                guard written.contains("$") else {
                    throw SpecError.invalidValue(path: "\(path).written", value: written,
                                                 reason: "has no variable; 'written' is only for image references written with ${...}, remove it", at: writtenMark)
                }
                image.written = written
            }
            image.builtBy = try reader.optionalString("built_by").map { try SpecPatterns.checked($0, path: "\(path).built_by") }
            images.append(image)
        }
        return images
    }

    /// `profiles:` a list of Compose profile names (`*` enables every profile).
    private static func parseProfiles(_ top: MappingReader) throws -> [String] {
        try (top.optionalList("profiles") ?? []).map { item in
            guard let text = item.scalarValue, text == "*" || SpecPatterns.isComposeName(text) else {
                throw SpecError.invalidValue(path: "profiles", value: item.scalarValue ?? item.kindName,
                                             reason: "is not a Compose profile name ([a-zA-Z0-9][a-zA-Z0-9_.-]*)", at: item.mark)
            }
            return text
        }
    }

    private static func parseModels(_ top: MappingReader, resolve: (String) -> String) throws -> [Model] {
        var models: [Model] = []
        var names: [String: YAMLMark] = [:]
        var basenames: [String: YAMLMark] = [:]
        for (index, item) in (try top.optionalList("models") ?? []).enumerated() {
            let path = "models[\(index)]"
            let reader = try MappingReader(item, path: path, keys: ["name", "path"])
            let (name, nameMark) = try reader.string("name", matching: SpecPatterns.isComposeName, rule: "[a-zA-Z0-9][a-zA-Z0-9_.-]*")
            if let first = names[name] { throw SpecError.duplicate(path: "models", value: name, at: nameMark, first: first) }
            names[name] = nameMark
            let (file, fileMark) = try reader.string("path")
            let absolute = resolve(file)
            let base = PathText.lastComponent(absolute)
            if let first = basenames[base] {
                throw SpecError.duplicate(path: "models[].path file name", value: base, at: fileMark, first: first)
            }
            basenames[base] = fileMark
            models.append(Model(name: name, path: absolute, mark: fileMark))
        }
        return models
    }

    private static func parseExports(_ top: MappingReader) throws -> ([Export], [YAMLMark]) {
        var exports: [Export] = []
        var marks: [YAMLMark] = []
        var names: [String: YAMLMark] = [:]
        for (index, item) in (try top.optionalList("exports") ?? []).enumerated() {
            let path = "exports[\(index)]"
            let reader = try MappingReader(item, path: path, keys: ["name", "service", "command"])
            let (name, nameMark) = try reader.string("name", matching: SpecPatterns.isFileName, rule: "a plain file name (no '/')")
            if let first = names[name] { throw SpecError.duplicate(path: "exports", value: name, at: nameMark, first: first) }
            names[name] = nameMark
            let (service, serviceMark) = try reader.string("service")
            let commandNode = try reader.requiredNode("command")
            guard let items = commandNode.sequenceItems, !items.isEmpty,
                  let command = Optional(items.compactMap(\.scalarValue)), command.count == items.count else {
                throw SpecError.wrongType(path: "\(path).command", expected: "a non-empty list of strings", found: commandNode.kindName, at: commandNode.mark)
            }
            exports.append(Export(name: name, service: service, command: command))
            marks.append(serviceMark)
        }
        return (exports, marks)
    }

    // MARK: - Paths

    /// `path` made absolute against `folder` and normalised (`.` and `..` removed).
    static func absolutePath(_ path: String, relativeTo folder: String) -> String {
        let joined = path.hasPrefix("/") ? path : PathText.join(folder, path)
        return URL(fileURLWithPath: joined).standardized.path
    }
}
