import FrostbyteCore
import Engine
import InstallationState
import Isolation
import Installation
import ArgumentParser
import FoundationEssentials
import Glibc

/// `--prefix DIR`, shared by install, status and uninstall; made absolute so compose
/// labels and symlinks never depend on the working folder.
struct InstallationPrefixOptions: ParsableArguments {
    @Option(name: .long, help: "Installation folder (one compose project per prefix).", completion: .directory)
    var prefix: String = InstallationLayout.defaultPrefix

    var layout: InstallationLayout {
        let absolute = prefix.hasPrefix("/") ? prefix : FileManager.default.currentDirectoryPath + "/" + prefix
        return InstallationLayout(prefix: URL(fileURLWithPath: absolute).standardized.path)
    }

    func validate() throws {
        if prefix.isEmpty { throw ValidationError("--prefix must not be empty") }
    }
}

/// On `--json`, a failure is also one JSON document on stdout.
struct CommandFailure: Encodable {
    var ok = false
    var exitStatus: Int32
    var error: String
    enum CodingKeys: String, CodingKey {
        case ok, error
        case exitStatus = "exit_status"
    }

    /// Prints the failure as JSON when `json` is set, then rethrows it.
    static func reporting<T>(json: Bool, _ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let error as UserFacingError where json {
            try? Console.json(CommandFailure(exitStatus: error.exitStatus.rawValue, error: error.message))
            throw error
        }
    }
}

extension FrostbyteBundle {
    /// `install BUNDLE`: verify, load, start, check and activate a bundle under a prefix.
    struct Install: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "install",
            abstract: "Install or upgrade a bundle on this host (root).",
            discussion: """
                Steps, each journaled under PREFIX/state so a re-run resumes: preflight (root, \
                docker, compose >= \(Preflight.minimumCompose), space, subnet, project) -> verify \
                while extracting -> docker load -> secrets -> compose up -> health -> migrations \
                -> isolation -> switch PREFIX/current and write the receipt. An upgrade that fails \
                health, migrations or isolation rolls back to the previous release (exit 1). \
                Reads bundle formats v1 and v2; once the engine holds the images, the release \
                folder keeps no copy of them. A delta bundle installs only over its base release \
                under the same prefix, with the base's images in the engine (else exit 2). \
                A split bundle (build --split) is installed from its .parts.json, streaming \
                across the parts; with --trust its index must be signed by a trusted key too.
                """)

        @Argument(help: "The bundle (.tar.zst or .tar), an extracted bundle folder, or a split bundle's .parts.json.", completion: .file())
        var bundle: String

        @Option(name: .long, help: "Public key (PEM) the bundle must be signed by; repeatable.", completion: .file())
        var trust: [String] = []

        @Flag(name: .long, help: "Install a bundle without checking its signature.")
        var allowUnsigned = false

        @OptionGroup(title: "Installation")
        var location: InstallationPrefixOptions

        @Option(name: .long, help: "Compose project name (default: the installed one, else the bundle's).")
        var project: String?

        @Option(name: .long, help: "Subnet of the internal network (with --swarm: of the internal overlay; a second tenant of one bundle needs its own), RFC 1918 CIDR (default: the installed one, else the bundle's).")
        var subnet: String?

        @Option(name: .long, help: ArgumentHelp(
            "Host address and port where the gateway is published: PORT (on 127.0.0.1) or IPV4:PORT, e.g. 0.0.0.0:8443 for every address (default: the installed one, else 127.0.0.1 and the gateway's port).",
            valueName: "[ADDRESS:]PORT"))
        var publish: String?

        @Option(name: .long, help: "Subnet of the gateway's ingress network, RFC 1918 CIDR, /29 or larger (default: the installed one, else a free /29 of 172.31.255.0/24).")
        var ingressSubnet: String?

        @Flag(name: .long, help: "Install an older version of the installed bundle (a rollback); refused without it.")
        var allowDowngrade = false

        @Option(name: .long, help: "Seconds allowed for the stack to start and become healthy.")
        var timeout: Double = 300

        @Flag(name: .long, help: "Deploy as a Docker Swarm stack from this manager onto the prepared nodes (docs/SWARM.md).")
        var swarm = false

        @Option(name: .long, help: ArgumentHelp("With --swarm: run a service owning named volumes (or the gateway) on this node; repeatable; kept once installed.", valueName: "SERVICE=NODE"))
        var pin: [String] = []

        @Flag(name: .long, help: "With --swarm: encrypt the stack's overlay (needs ESP between the nodes; checked after the deploy).")
        var encryptOverlay = false

        @Flag(name: .long, help: "Print one JSON document on stdout.")
        var json = false

        func run() async throws {
            try await runReportingErrors {
                if swarm { return try runSwarm() }
                if encryptOverlay { throw ValidationError("--encrypt-overlay is a --swarm option (an overlay network is Swarm's)") }
                let request = InstallRequest(
                    bundlePath: bundle, trustKeyPaths: trust, allowUnsigned: allowUnsigned,
                    layout: location.layout, project: project, subnet: subnet, timeout: timeout,
                    publish: publish, ingressSubnet: ingressSubnet, allowDowngrade: allowDowngrade)
                var options = IsolationOptions()
                options.toolVersion = FrostbyteBundle.version
                let isolation = CheckerIsolationGate(options: options, progress: { Console.note($0) })
                let installer = Installer(request: request, unpacker: VerifierUnpacker(), isolation: isolation,
                                          progress: TerminalProgress(), note: { Console.note($0) })
                let result = try CommandFailure.reporting(json: json) { try installer.run() }
                if json {
                    try Console.json(result)
                } else {
                    printSummary(result)
                }
            }
        }

        private func printSummary(_ result: InstallResult) {
            Console.out("\(result.action): \(result.bundleId)")
            Console.out("project: \(result.project)  subnet: \(result.subnet)")
            if let previous = result.previousBundleId { Console.out("previous release: \(previous)") }
            if let url = result.gatewayURL { Console.out("gateway: \(url)") }
            for service in result.services {
                Console.out("  \(service.service): \(service.state)\(service.health.isEmpty ? "" : " (\(service.health))")")
            }
            if !result.migrationsApplied.isEmpty {
                Console.out("migrations applied: \(result.migrationsApplied.joined(separator: ", "))")
            }
            if let evidence = result.evidencePath { Console.out("isolation evidence: \(evidence)") }
        }
    }
}
