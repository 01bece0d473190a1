import FrostbyteCore
import FrostbyteCrypto
import FrostbyteArchive
import BundleFormat
import InstallationState
import FoundationEssentials
import Glibc

/// What `export` is asked to do.
public struct ExportRequest: Sendable {
    public var layout: InstallationLayout
    /// The bundle file to write, or an existing folder to write `<name>-<version>.tar.zst` into.
    public var output: String
    public var signingKey: SigningKey?
    /// Seconds each step may run; nil for no limit.
    public var stepTimeout: Double?
    /// The tool writing the export (name and version for MANIFEST.json).
    public var builder: Manifest.Builder
    /// The export's time: its version, created_at and every entry's mtime.
    public var now: Date
    /// On a node of a Swarm install: the stack to export when several run there.
    public var project: String?

    public init(layout: InstallationLayout, output: String, signingKey: SigningKey? = nil, stepTimeout: Double? = nil,
                builder: Manifest.Builder, now: Date = Date()) {
        self.layout = layout; self.output = output; self.signingKey = signingKey; self.stepTimeout = stepTimeout
        self.builder = builder; self.now = now
    }
}

/// The result of an export, printed by the CLI (and as JSON with `--json`).
public struct ExportSummary: Codable, Sendable, Equatable {
    public var ok = true
    public var path: String
    public var sidecar: String
    public var bundleId: String
    public var sha256: SHA256Digest
    public var size: Int64
    public var signed: Bool
    public var source: Manifest.ExportSource
    /// The exported files (`data/<name>`) with their digests and sizes.
    public var files: [Manifest.File]

    enum CodingKeys: String, CodingKey {
        case ok, path, sidecar, sha256, size, signed, source, files
        case bundleId = "bundle_id"
    }
}

/// Exports an installed project's data as a bundle of kind `export`
/// (docs/auditor.md): each of the active release's `exports` steps runs in its
/// service's container, its stdout is spooled to disk and hashed as it streams
/// (`StepSpooler`), then `BundleWriter` packs the spools as `data/<name>` after a
/// MANIFEST.json naming the source bundle, project, host, and per file the step
/// (service, command, exit status) that produced it; SHA256SUMS, an optional
/// Ed25519 signature and the `.sha256` sidecar complete it, so `verify-bundle`
/// checks an export like any bundle.
///
/// Guarantees: memory does not grow with the data (one 1 MiB buffer per stream);
/// OUT and its sidecar are mode 0600 (tenant data);
/// a failing step stops the export with the step's name and the tail of its
/// stderr; on any error or SIGINT/SIGTERM no OUT, no sidecar and no spool remain.
public struct Exporter: Sendable {
    public var request: ExportRequest
    public var progress: ProgressReporter
    /// Receives one line per step as it starts and ends.
    public var note: @Sendable (String) -> Void

    public init(request: ExportRequest, progress: ProgressReporter = SilentProgress(),
                note: @escaping @Sendable (String) -> Void = { _ in }) {
        self.request = request; self.progress = progress; self.note = note
    }

    /// Runs every step and writes the export bundle.
    /// - Throws: `ExportError` (bad installation, failed step, disk full), `BundleWriteError`,
    ///   `ArchiveWriteError`, `CommandError` (no docker).
    public func run() throws -> ExportSummary {
        var spooledBytes: Int64?
        do {
            return try runSteps(spooledBytes: &spooledBytes)
        } catch {
            // The spools plus at most as much again for the bundle written from them.
            throw FullDisk.explain(error, folders: [request.output], what: "the export",
                                   neededBytes: spooledBytes.map { 2 * $0 }, option: "-o")
        }
    }

    /// The export itself; `spooledBytes` is set once every step is spooled.
    private func runSteps(spooledBytes: inout Int64?) throws -> ExportSummary {
        // The export holds tenant data: OUT, its sidecar and the spools are created
        // readable by the owner only (0600), whatever the caller's umask.
        let previousMask = umask(0o077)
        defer { umask(previousMask) }
        // A Swarm install's node: its stack's containers here; else the single-host install.
        let swarm = SwarmExportTarget.applies(request.layout)
            ? try SwarmExportTarget.load(request.layout, project: request.project) : nil
        let target = try swarm.map { (project: $0.stack, manifest: $0.manifest, steps: $0.steps) } ?? {
            let single = try ExportTarget.load(request.layout)
            return (project: single.receipt.project, manifest: single.manifest, steps: single.steps)
        }()
        let name = "\(target.project)-export"
        let version = Self.version(of: request.now)
        let outputPath = try Self.resolveOutput(request.output, bundleName: "\(name)-\(version)")

        let workspace = try ExportWorkspace(besides: outputPath)
        defer { workspace.remove() }
        var spooler = StepSpooler(project: target.project, timeout: request.stepTimeout, progress: progress)
        spooler.containers = swarm?.containers ?? [:]
        var spooled: [SpooledStep] = []
        for (index, step) in target.steps.enumerated() {
            note("step \(index + 1)/\(target.steps.count): \(step.name) (service \(step.service))")
            let result = try spooler.run(step, spoolPath: workspace.file("\(index).out"),
                                         stderrPath: workspace.file("\(index).err"))
            note("  \(step.name): \(result.size) bytes, sha256 \(result.sha256.hex)")
            spooled.append(result)
        }

        spooledBytes = spooled.reduce(Int64(0)) { $0 + $1.size }
        let source = Manifest.ExportSource(
            bundleId: target.manifest.bundleId, project: target.project, host: Self.hostName(),
            steps: spooled.map {
                Manifest.ExportResult(path: Self.dataPath($0.step.name), service: $0.step.service,
                                      command: $0.step.command, exitStatus: $0.exitStatus)
            })
        let manifest = Manifest(kind: .export, name: name, version: version, bundleId: "",
                                createdAt: Self.timestamp(request.now), builder: request.builder,
                                source: source, files: [])
        let entries = spooled.map {
            BundleEntry(path: Self.dataPath($0.step.name), source: .file($0.spoolPath), mode: .file,
                        digest: $0.sha256, size: $0.size)
        }
        let writer = BundleWriter(compression: Self.compression(for: outputPath),
                                  mtime: Int64(request.now.timeIntervalSince1970), signingKey: request.signingKey,
                                  progress: progress)
        let written = try writer.write(manifest: manifest, entries: entries, to: outputPath)
        return ExportSummary(path: written.path, sidecar: written.sidecarPath, bundleId: written.manifest.bundleId,
                             sha256: written.sha256, size: written.size, signed: written.signed, source: source,
                             files: written.manifest.files.filter { !$0.isDirectory })
    }

    /// `data/<name>`: where a step's output lives in the export bundle.
    public static func dataPath(_ name: String) -> String { "data/\(name)" }

    /// The export's version: its UTC time, `20260101T120000Z` (sorts by time, valid
    /// in bundle names).
    public static func version(of date: Date) -> String {
        UTCTime.format(date, .compact)
    }

    /// ISO 8601 UTC with seconds, as MANIFEST.json's created_at.
    public static func timestamp(_ date: Date) -> String {
        UTCTime.format(date, .seconds)
    }

    /// OUT as given, or `<OUT>/<bundle>.tar.zst` when OUT is an existing folder.
    /// - Throws: `ExportError.outputExists` (never overwrite an earlier export),
    ///   `.outputFolderMissing`.
    static func resolveOutput(_ output: String, bundleName: String) throws -> String {
        let absolute = output.hasPrefix("/") ? output : FileManager.default.currentDirectoryPath + "/" + output
        var path = URL(fileURLWithPath: absolute).standardized.path
        var isFolder = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isFolder) {
            guard isFolder else { throw ExportError.outputExists(path: path) }
            path += "/\(bundleName).tar.zst"
            if FileManager.default.fileExists(atPath: path) { throw ExportError.outputExists(path: path) }
        } else if output.hasSuffix("/") {
            throw ExportError.outputFolderMissing(path: path)
        }
        if FileManager.default.fileExists(atPath: path + ".sha256") {
            throw ExportError.outputExists(path: path + ".sha256")
        }
        let folder = PathText.deletingLastComponent(path)
        guard FileManager.default.fileExists(atPath: folder, isDirectory: &isFolder), isFolder else {
            throw ExportError.outputFolderMissing(path: folder)
        }
        return path
    }

    /// `.tar` means no compression; anything else is zstd.
    static func compression(for path: String) -> ArchiveCompression {
        path.hasSuffix(".tar") ? .none : .standard
    }

    /// This host's name (gethostname, no resolver involved).
    static func hostName() -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count - 1) == 0 else { return "unknown" }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
