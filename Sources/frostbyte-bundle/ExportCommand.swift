import FrostbyteCore
import FrostbyteCrypto
import BundleFormat
import Export
import ArgumentParser
import FoundationEssentials
import Glibc

extension FrostbyteBundle {
    /// `export -o OUT`: the installed project's data as a signed, verifiable bundle.
    struct Export: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "export",
            abstract: "Export the installed project's data (the bundle's export steps) as a verifiable bundle.",
            discussion: """
                Runs each export step of the active release (PREFIX/current/MANIFEST.json) with \
                'docker exec' in its service's container. Each step's stdout is spooled to a 0700 \
                folder beside OUT and hashed as it streams (the manifest, which lists every size \
                and SHA-256, is the bundle's first entry), so memory stays flat and OUT's folder \
                needs free space for the dumps plus the bundle. The result is a bundle of kind \
                'export' (data/<name> per step, MANIFEST.json, SHA256SUMS, optional signature, \
                OUT.sha256) that 'verify-bundle' checks. A failing step fails the export: exit 1, \
                no OUT, no spool left (also on SIGINT/SIGTERM; only SIGKILL or a crash can leave a \
                .OUT.spool-XXXXXX folder, safe to delete). OUT (mode 0600) must not exist; an existing folder gets \
                <project>-export-<UTC time>.tar.zst; a name ending in .tar is not compressed. \
                A Swarm install: run it on the node where the steps' services run (their tasks' \
                containers are found there by their stack labels, the release is the one prepare \
                kept); on the manager, when they run elsewhere, it names that node.
                """)

        @OptionGroup(title: "Installation")
        var location: InstallationPrefixOptions

        @Option(name: [.short, .customLong("output")], help: "The export bundle to write (.tar.zst or .tar), or an existing folder.",
                completion: .file())
        var output: String

        @Option(name: .customLong("sign-key"), help: ArgumentHelp(
            "Ed25519 private key (PEM) to sign MANIFEST.json with.", valueName: "KEY"), completion: .file())
        var signKey: String?

        @Option(name: .long, help: "Seconds each step may run (0: no limit).")
        var timeout: Double = 6 * 3600

        @Option(name: .long, help: "On a node of a Swarm install: the stack to export when several run there.")
        var project: String?

        @Flag(name: .long, help: "Print one JSON document on stdout.")
        var json = false

        func validate() throws {
            if output.isEmpty { throw ValidationError("-o must name the export file or a folder") }
            if !(timeout >= 0) { throw ValidationError("--timeout must be 0 or more seconds") }
        }

        func run() async throws {
            try await runReportingErrors {
                let summary = try CommandFailure.reporting(json: json) { () throws -> ExportSummary in
                    let key = try signKey.map { try SigningKey(contentsOf: $0) }
                    var request = ExportRequest(
                        layout: location.layout, output: output, signingKey: key,
                        stepTimeout: timeout > 0 ? timeout : nil,
                        builder: Manifest.Builder(name: "frostbyte-bundle", version: FrostbyteBundle.version))
                    request.project = project
                    let progress: ProgressReporter = (!json && Console.stderrIsTTY) ? TerminalProgress() : SilentProgress()
                    return try Exporter(request: request, progress: progress, note: { Console.note($0) }).run()
                }
                if json {
                    try Console.json(summary)
                } else {
                    Console.out("export: \(summary.path)")
                    Console.out("bundle_id: \(summary.bundleId)  (source \(summary.source.bundleId), project \(summary.source.project))")
                    for file in summary.files {
                        Console.out("  \(file.path): \(file.size) bytes, sha256 \(file.sha256?.hex ?? "-")")
                    }
                    Console.out("sha256: \(summary.sha256.hex)  \(summary.signed ? "signed" : "unsigned")  sidecar: \(summary.sidecar)")
                }
            }
        }
    }
}
