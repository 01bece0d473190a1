import FrostbyteCore
import BundleFormat
import Engine
import InstallationState
import Installation
import ArgumentParser
import FoundationEssentials

/// A release folder `prepare` kept and that node's record of it: the inputs of the
/// Swarm drafts (`swarm-render`, `swarm-check-prepared`).
struct PreparedReleaseInput {
    var folder: String
    var manifest: Manifest
    var record: PreparedRelease

    /// Reads `folder/MANIFEST.json` and the record (`recordPath`, default
    /// `folder/../../state/prepared/<bundle_id>.json`).
    /// - Throws: `ValidationError` (exit 2) naming what cannot be read.
    init(folder: String, recordPath: String?) throws {
        self.folder = folder
        manifest = try ManifestCoding.decodeManifest(try Self.read("\(folder)/MANIFEST.json"))
        let path = recordPath ?? "\(folder)/../../state/prepared/\(manifest.bundleId).json"
        guard let record = try? JSONDecoder().decode(PreparedRelease.self, from: try Self.read(path)) else {
            throw ValidationError("\(path) is not a prepare record")
        }
        self.record = record
    }

    static func read(_ path: String) throws -> Data {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ValidationError("cannot read \(path); give a release folder that prepare kept and its record")
        }
        return data
    }
}

extension FrostbyteBundle {
    /// `swarm-check-prepared RELEASE`: a draft, hidden until `install --swarm` uses it.
    struct SwarmCheckPrepared: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "swarm-check-prepared",
            abstract: "Draft: ask the swarm (from a manager) which nodes hold a prepared release's images.",
            discussion: """
                One one-shot global job per image, by ID, with an entrypoint no image has: \
                "No such image" on a node that lacks it, an exec error on a node that holds \
                it; nothing inside an image runs (SwarmPreparedCheck). Exit 0 when every node \
                that takes tasks holds every image, 1 when one does not (named), 2/3 for bad \
                input or when this engine is not a manager. See docs/SWARM.md.
                """,
            shouldDisplay: false)

        @Argument(help: "The prepared release folder (PREFIX/releases/<bundle_id>) on this manager.", completion: .directory)
        var release: String

        @Option(name: .long, help: "This manager's prepare record (default: ../../state/prepared/<bundle_id>.json).")
        var prepared: String?

        @Option(name: .long, help: "Seconds to wait for every node's answer.")
        var timeout: Double = 60

        @Flag(name: .long, help: "Print one JSON document on stdout.")
        var json = false

        func run() async throws {
            try await runReportingErrors {
                let input = try PreparedReleaseInput(folder: release, recordPath: prepared)
                let reports = try CommandFailure.reporting(json: json) {
                    try SwarmPreparedCheck(engine: DockerEngine()).check(images: input.record.images, timeout: timeout)
                }
                let unprepared = reports.filter { $0.state != "prepared" && $0.state != "not-checked" }
                if json {
                    try Console.json(reports)
                } else {
                    for report in reports {
                        let why = (report.missing.map { "lacks \($0)" } + report.detail).joined(separator: "; ")
                        Console.out("\(report.node): \(report.state)\(why.isEmpty ? "" : " (\(why))")")
                    }
                }
                if !unprepared.isEmpty {
                    Console.error("not prepared for \(input.manifest.bundleId): \(unprepared.map(\.node).joined(separator: ", ")); run prepare there")
                    throw ExitCode(ExitStatus.checkFailed.rawValue)
                }
            }
        }
    }
}
