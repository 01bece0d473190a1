import FrostbyteCore
import BundleFormat
import Stack
import InstallationState
import Installation
import ArgumentParser
import FoundationEssentials

extension FrostbyteBundle {
    /// `swarm-render RELEASE`: a draft, hidden until `install --swarm` uses it. Turns a
    /// prepared release's hardened compose file into a stack file (`SwarmRenderer`).
    struct SwarmRender: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "swarm-render",
            abstract: "Draft: render a prepared release's compose file as a Swarm stack file.",
            discussion: """
                RELEASE is a release folder that prepare kept (PREFIX/releases/<bundle_id>); the \
                image IDs come from that node's record (PREFIX/state/prepared/<bundle_id>.json). \
                Writes the stack file to --output (or stdout), the notes and the obligations the \
                deploy must still enforce to stderr. Exit 2 with the service and key for a \
                guarantee Swarm cannot keep. See docs/SWARM.md.
                """,
            shouldDisplay: false)

        @Argument(help: "The prepared release folder.", completion: .directory)
        var release: String

        @Option(name: .long, help: "The node's prepare record (default: ../../state/prepared/<bundle_id>.json).")
        var prepared: String?

        @Option(name: .long, help: ArgumentHelp("Pin a service owning named volumes to a node; repeatable.", valueName: "SERVICE=NODE"))
        var pin: [String] = []

        @Option(name: .long, help: ArgumentHelp("Where the gateway is published: PORT (on 127.0.0.1) or IPV4:PORT.", valueName: "[ADDRESS:]PORT"))
        var publish: String?

        @Flag(name: .long, help: "Encrypt the internal overlay (needs ESP between the nodes).")
        var encryptOverlay = false

        @Option(name: [.short, .long], help: "The stack file to write (default: stdout).")
        var output: String?

        @Flag(name: .long, help: "Print one JSON document on stdout (the stack file in 'stack' unless --output).")
        var json = false

        /// What `--json` prints.
        struct Result: Encodable {
            var stack: String?
            var output: String?
            var notes: [String]
            var obligations: [String]
        }

        func run() async throws {
            try await runReportingErrors {
                let input = try PreparedReleaseInput(folder: release, recordPath: prepared)
                let manifest = input.manifest, record = input.record
                guard let gateway = manifest.gateway, let compose = manifest.compose else {
                    throw ValidationError("\(release)/MANIFEST.json names no gateway or compose file")
                }
                let pins = try parsePins(pin)
                let binding = GatewayIngress.binding(publish: try IngressPlan.parsePublish(publish ?? "\(gateway.port)"))
                let options = SwarmRenderOptions(
                    imageIDs: record.images, gatewayService: gateway.service, gatewayPort: gateway.port,
                    publishAddress: binding?.address ?? "127.0.0.1", publishPort: Int(binding?.port ?? 0),
                    volumePins: pins, encryptOverlay: encryptOverlay)
                let path = "\(release)/\(compose.file)"
                let tree = try YAMLParser(bytes: Array(try PreparedReleaseInput.read(path)), file: path)
                    .parseSingleDocument()
                let rendering = try CommandFailure.reporting(json: json) { try SwarmRenderer(options: options).render(tree) }
                if let output { try AtomicFile.write(Data(rendering.stackYAML), to: output, mode: 0o644) }
                if json {
                    try Console.json(Result(stack: output == nil ? String(decoding: rendering.stackYAML, as: UTF8.self) : nil,
                                            output: output, notes: rendering.notes, obligations: rendering.obligations))
                    return
                }
                for note in rendering.notes { Console.note("note: \(note)") }
                for obligation in rendering.obligations { Console.note("the deploy must: \(obligation)") }
                if output == nil { FileDescriptorIO.writeStandardOutput(Data(rendering.stackYAML)) }
            }
        }
    }
}
