import FrostbyteCore
import Stack
import ArgumentParser
import FoundationEssentials
import Glibc

extension FrostbyteBundle {
    /// `render SPEC [-o FILE] [--json]`: prints the hardened compose file a bundle
    /// of SPEC would carry. Warnings go to stderr (or into the JSON document).
    struct Render: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "render",
            abstract: "Print the hardened compose file a bundle built from SPEC would carry.",
            discussion: """
                Validates the spec and its compose file, refuses settings that break \
                network isolation (exit 2, with file:line:column), and prints the hardened \
                compose YAML. Changes such as removed ports are printed as warnings on stderr.
                """)

        @Argument(help: "The bundle spec (YAML, see docs/SPEC.md).", completion: .file())
        var spec: String

        @Option(name: .shortAndLong, help: "Write the compose file to FILE (atomically) instead of stdout.", completion: .file())
        var output: String?

        @Flag(help: "Print one JSON document {compose, warnings, project, networks, services} on stdout.")
        var json = false

        func run() async throws {
            try await runReportingErrors {
                let bundleSpec = try BundleSpec.load(path: spec)
                let rendered = try ComposeHardener(spec: bundleSpec).render()
                if let output {
                    try RenderOutput.writeAtomically(rendered.composeYAML, to: output)
                }
                if json {
                    try Console.json(RenderReport(
                        compose: String(decoding: rendered.composeYAML, as: UTF8.self),
                        warnings: rendered.warnings, project: rendered.project,
                        networks: rendered.networks, services: rendered.services))
                    return
                }
                for warning in rendered.warnings {
                    Console.note("warning: \(warning)")
                }
                if output == nil {
                    FileDescriptorIO.writeStandardOutput(Data(rendered.composeYAML))
                }
            }
        }
    }
}

/// The `--json` document of `render`.
private struct RenderReport: Encodable {
    var compose: String
    var warnings: [HardeningWarning]
    var project: String
    var networks: [RenderedStack.Network]
    var services: [String]
}

/// Writing `-o FILE` without ever leaving a partial file (`AtomicFile`).
enum RenderOutput {
    /// Failure to write the output file (environment problem, exit 3).
    struct WriteError: UserFacingError {
        var path: String
        var reason: String
        var message: String { "cannot write \(path): \(reason). Check the folder exists and is writable." }
        var exitStatus: ExitStatus { .environment }
    }

    static func writeAtomically(_ bytes: [UInt8], to path: String) throws {
        do {
            try AtomicFile.write(Data(bytes), to: path, mode: 0o644)
        } catch let error as FileSystemError {
            throw WriteError(path: path, reason: error.reason)
        }
    }
}
