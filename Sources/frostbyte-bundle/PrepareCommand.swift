import FrostbyteCore
import InstallationState
import Installation
import ArgumentParser
import FoundationEssentials

extension FrostbyteBundle {
    /// `prepare BUNDLE`: this node holds every image of the bundle, verified and with
    /// its identity checked; nothing is started.
    struct Prepare: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "prepare",
            abstract: "Load a bundle's images on this node, verified, without starting anything (root).",
            discussion: """
                Run on every node of a swarm before a deploy. Verifies the bundle while \
                extracting it (no byte reaches docker before it is verified under --trust or \
                --allow-unsigned), loads every image with its identity checked on this engine's \
                store, keeps the release under PREFIX/releases (without its images, a later \
                delta's base) and writes PREFIX/state/prepared/<bundle_id>.json. Exit 0 once \
                the node holds every image of the bundle; 1 when verification or an identity \
                check fails; 2 when the node holds another image under one of the bundle's \
                names (nothing is loaded), or a delta's base release is not prepared here.
                """)

        @Argument(help: "The bundle (.tar.zst or .tar), an extracted bundle folder, or a split bundle's .parts.json.", completion: .file())
        var bundle: String

        @Option(name: .long, help: "Public key (PEM) the bundle must be signed by; repeatable.", completion: .file())
        var trust: [String] = []

        @Flag(name: .long, help: "Prepare a bundle without checking its signature.")
        var allowUnsigned = false

        @OptionGroup(title: "Installation")
        var location: InstallationPrefixOptions

        @Option(name: .long, help: "Seconds allowed for each docker load.")
        var timeout: Double = 300

        @Flag(name: .long, help: "Print one JSON document on stdout.")
        var json = false

        func run() async throws {
            try await runReportingErrors {
                let request = PrepareRequest(bundlePath: bundle, trustKeyPaths: trust, allowUnsigned: allowUnsigned,
                                             layout: location.layout, timeout: timeout)
                let preparer = Preparer(request: request, progress: TerminalProgress(), note: { Console.note($0) })
                let result = try CommandFailure.reporting(json: json) { try preparer.run() }
                if json {
                    try Console.json(result)
                } else {
                    Console.out("prepared: \(result.bundleId)")
                    for (name, id) in result.images.sorted(by: { $0.key < $1.key }) {
                        Console.out("  \(name): \(id)\(result.imagesLoaded.contains(name) ? " (loaded now)" : "")")
                    }
                    Console.out("receipt: \(result.receiptPath)")
                }
            }
        }
    }
}
