import FrostbyteCore
import Stack
import Engine
import ArgumentParser
import FoundationEssentials
import Glibc

extension FrostbyteBundle {
    /// `init COMPOSE [-o SPEC] [--name N] [--version V] [--profile P] [--gateway S[:PORT]] [--force] [--json]`:
    /// drafts a bundle spec that `render` and `build` accept unedited, or names every obstacle.
    struct Init: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "init",
            abstract: "Draft a bundle spec from an existing compose stack.",
            discussion: """
                Reads COMPOSE as docker compose does (.env beside it and the environment for \
                variables, profiles) and writes a bundle spec with a one-line comment on each \
                field: every image once (variables resolved), the gateway (the service that \
                publishes a port), a private subnet no engine network or host route uses, the \
                files the stack refers to. When render would refuse something, or the gateway \
                is not clear, every problem is printed with file:line:column, nothing is \
                written, and the exit status is 2. An existing SPEC is kept unless --force.
                """)

        @Argument(help: "The compose file (or a folder holding compose.yaml / docker-compose.yml).", completion: .file())
        var compose: String

        @Option(name: .shortAndLong, help: "Where to write the spec (default: bundle-spec.yaml beside the compose file).", completion: .file())
        var output: String?

        @Option(help: "Bundle name (default: from the compose project name).")
        var name: String?

        @Option(help: "Bundle version (default: 0.1.0).")
        var version: String?

        @Option(help: ArgumentHelp("Bundle the services of this Compose profile too (repeatable; default: COMPOSE_PROFILES).", valueName: "PROFILE"))
        var profile: [String] = []

        @Option(help: ArgumentHelp("The gateway service, with its container port when it publishes none.", valueName: "SERVICE[:PORT]"))
        var gateway: String?

        @Option(help: "Read variables from this file instead of the .env beside the compose file.", completion: .file())
        var envFile: String?

        @Flag(help: "Replace an existing spec file.")
        var force = false

        @Flag(help: "Print one JSON document {spec_path, written, spec, name, version, project, network, gateway, images, profiles, files, notes, obstacles} on stdout.")
        var json = false

        func run() async throws {
            try await runReportingErrors {
                let cwd = FileManager.default.currentDirectoryPath
                let composePath = try InitPaths.composeFile(compose, cwd: cwd)
                let specPath = InitPaths.specFile(output, composePath: composePath, cwd: cwd)
                if !force && FileManager.default.fileExists(atPath: specPath) {
                    throw InitError("\(specPath) already exists; pass --force to replace it, or -o another file")
                }
                let request = InitRequest(
                    composePath: composePath, specPath: specPath, name: name, version: version, profiles: profile,
                    gateway: gateway, envFile: envFile.map { InitPaths.absolute($0, cwd: cwd) })
                let draft = try SpecDrafter.draft(request, facts: InitHostFacts.gather())
                let written = draft.obstacles.isEmpty
                if written {
                    do {
                        try AtomicFile.write(Data(draft.specText.utf8), to: specPath, mode: 0o644)
                    } catch let error as FileSystemError {
                        throw RenderOutput.WriteError(path: specPath, reason: error.reason)
                    }
                }
                if json {
                    try Console.json(InitReport(draft: draft, specPath: specPath, written: written))
                } else {
                    for note in draft.notes { Console.note("note: \(note)") }
                    for obstacle in draft.obstacles { Console.error(obstacle.description) }
                    if written { printSummary(draft, specPath: specPath) }
                }
                if !written {
                    let count = draft.obstacles.count
                    throw InitError(count == 1 ? "the problem above keeps render from accepting this stack; fix it and run init again (nothing was written)"
                                    : "the \(count) problems above keep render from accepting this stack; fix them and run init again (nothing was written)")
                }
            }
        }

        private func printSummary(_ draft: SpecDraft, specPath: String) {
            let inEngine = draft.images.filter { $0.engineID != nil }.count
            Console.out("wrote \(specPath)")
            Console.out("  bundle     \(draft.name)-\(draft.version) (project \(draft.project))")
            if let gateway = draft.gateway {
                Console.out("  gateway    \(gateway.service) at \(gateway.ipv4Address), port \(gateway.port), health \(gateway.healthPath)")
            }
            Console.out("  network    \(draft.networkName) \(draft.subnet)")
            Console.out("  images     \(draft.images.count) (\(inEngine) in the local engine)")
            if !draft.files.isEmpty { Console.out("  files      \(draft.files.count) referenced (listed at the end of the spec)") }
            Console.out("next: frostbyte-bundle render \(specPath)")
        }
    }
}

/// The `init --json` document.
private struct InitReport: Encodable {
    var draft: SpecDraft
    var specPath: String
    var written: Bool

    struct Network: Encodable { var name: String; var subnet: String }

    enum CodingKeys: String, CodingKey {
        case specPath = "spec_path", written, spec, name, version, project, network, gateway, images, profiles, files, notes, obstacles
    }

    func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(specPath, forKey: .specPath)
        try c.encode(written, forKey: .written)
        try c.encode(draft.specText, forKey: .spec)
        try c.encode(draft.name, forKey: .name)
        try c.encode(draft.version, forKey: .version)
        try c.encode(draft.project, forKey: .project)
        try c.encode(Network(name: draft.networkName, subnet: draft.subnet.description), forKey: .network)
        try c.encode(draft.gateway, forKey: .gateway)
        try c.encode(draft.images, forKey: .images)
        try c.encode(draft.profiles, forKey: .profiles)
        try c.encode(draft.files, forKey: .files)
        try c.encode(draft.notes, forKey: .notes)
        try c.encode(draft.obstacles, forKey: .obstacles)
    }
}

/// Where `init` reads and writes.
enum InitPaths {
    /// The names `docker compose` looks for in a folder, in its order.
    static let defaultNames = ["compose.yaml", "compose.yml", "docker-compose.yml", "docker-compose.yaml"]

    static func absolute(_ path: String, cwd: String) -> String {
        let joined = path.hasPrefix("/") ? path : PathText.join(cwd, path)
        return URL(fileURLWithPath: joined).standardized.path
    }

    /// The compose file named by the argument (a file, or a folder holding one of the default names).
    static func composeFile(_ argument: String, cwd: String) throws -> String {
        let path = absolute(argument, cwd: cwd)
        var isDirectory = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw InitError("compose file \(argument) does not exist; give the path of the stack's compose file (compose.yaml, docker-compose.yml)")
        }
        guard isDirectory else { return path }
        for name in defaultNames where FileManager.default.fileExists(atPath: PathText.join(path, name)) {
            return PathText.join(path, name)
        }
        throw InitError("folder \(argument) holds none of \(defaultNames.joined(separator: ", ")); give the compose file's path")
    }

    /// `-o` (a file, or a folder to write bundle-spec.yaml into), else bundle-spec.yaml beside the compose file.
    static func specFile(_ output: String?, composePath: String, cwd: String) -> String {
        guard let output else { return PathText.join(PathText.deletingLastComponent(composePath), "bundle-spec.yaml") }
        let path = absolute(output, cwd: cwd)
        var isDirectory = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory {
            return PathText.join(path, "bundle-spec.yaml")
        }
        return path
    }
}

extension InitHostFacts {
    /// The environment, the host's IPv4 routes (/proc/net/route) and, when an engine
    /// answers, its networks' subnets and a lookup of image IDs (through `Engine`).
    static func gather() -> InitHostFacts {
        let engine = DockerEngine(timeout: 20)
        var taken = FileManager.default.contents(atPath: "/proc/net/route").map { HostRoutes.parse(String(decoding: $0, as: UTF8.self)) } ?? []
        var reachable = false
        if let networks = try? engine.allNetworks() {
            reachable = true
            for network in networks {
                for config in network.ipamConfig {
                    if let subnet = IPv4Network(config.subnet) {
                        taken.append(.init(network: subnet, owner: "engine network \(network.name)"))
                    }
                }
            }
        }
        let answered = reachable
        let lookup: @Sendable (String) -> String? = { reference in
            guard answered else { return nil }
            return (try? engine.image(reference))??.id
        }
        return InitHostFacts(environment: ProcessInfo.processInfo.environment, takenSubnets: taken,
                             engineReachable: reachable, imageID: lookup)
    }
}
