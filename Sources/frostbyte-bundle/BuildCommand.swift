import FrostbyteCore
import FrostbyteCrypto
import FrostbyteArchive
import BundleFormat
import Builder
import ArgumentParser
import FoundationEssentials
import Glibc

/// `--compression zstd|none`.
enum CompressionChoice: String, ExpressibleByArgument, CaseIterable {
    case zstd, none
}

/// `--format v2|v1`.
enum FormatChoice: String, ExpressibleByArgument, CaseIterable {
    case v2, v1
    var manifestFormat: String { self == .v2 ? Manifest.formatV2 : Manifest.formatV1 }
}

extension FrostbyteBundle {
    /// `build SPEC -o OUT`: one reproducible, optionally signed bundle (format v1).
    struct Build: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "build",
            abstract: "Build a reproducible bundle (.tar.zst) from a bundle spec.",
            discussion: """
                Stages every image (docker save, or the spec's archive: files), the model \
                files, the template, migrations, the hardened compose file and this binary \
                (bin/frostbyte-bundle), and writes OUT plus OUT.sha256. The same inputs and \
                SOURCE_DATE_EPOCH give a byte-identical OUT. Nothing is left behind on failure. \
                With --split SIZE the bundle is written as parts OUT.part001, OUT.part002, ... \
                of SIZE bytes (the last smaller) plus their index OUT.parts.json (and \
                OUT.parts.json.sig with --sign-key), for media that cap file sizes (FAT32: \
                --split 4095M); `cat OUT.part* > OUT` joins them, and verify-bundle, inspect \
                and install read OUT.parts.json directly.
                """)

        @Argument(help: "The bundle spec (YAML, see docs/SPEC.md).", completion: .file())
        var spec: String

        @Option(name: .shortAndLong, help: "The bundle file, or a folder to write <name>-<version>.tar.zst into.",
                completion: .file())
        var output: String

        @Option(help: "Ed25519 private key (PEM) to sign MANIFEST.json with.", completion: .file())
        var signKey: String?

        @Option(help: "Entry mtime and created_at, in seconds since 1970 (default: $SOURCE_DATE_EPOCH, then the spec's created_at, then 0).")
        var sourceDateEpoch: Int64?

        @Option(help: "zstd (default) or none (plain .tar).")
        var compression: CompressionChoice = .zstd

        @Option(help: "zstd level, 1-19.")
        var level: Int = 3

        @Option(help: "The installer binary to carry as bin/frostbyte-bundle (default: this executable; release bundles carry scripts/release-binary's output).",
                completion: .file())
        var installer: String?

        @Option(help: "Bundle format: v2 (default: images as one OCI layout, each blob once) or v1 (one docker save archive per image).")
        var format: FormatChoice = .v2

        @Option(help: "Build a delta: leave out every file and blob this earlier release (its bundle, or its MANIFEST.json) already has.",
                completion: .file())
        var base: String?

        @Option(help: ArgumentHelp(
            "Write parts of SIZE bytes (4G, 4700M, 1048576; K/M/G/T are binary units; at least 1M) and OUT.parts.json instead of OUT.",
            valueName: "SIZE"))
        var split: String?

        @Flag(help: "Print one JSON summary on stdout.")
        var json = false

        func validate() throws {
            guard ArchiveCompression.zstdLevels.contains(level) else {
                throw ValidationError("--level must be between 1 and 19, not \(level)")
            }
            if let sourceDateEpoch, sourceDateEpoch < 0 {
                throw ValidationError("--source-date-epoch must be >= 0")
            }
        }

        func run() async throws {
            try await runReportingErrors {
                var request = BuildRequest(
                    specPath: spec, outputPath: output, signingKeyPath: signKey, sourceDateEpoch: sourceDateEpoch,
                    compression: compression == .none ? .none : .zstd(level: level), installerPath: installer,
                    builder: Manifest.Builder(name: "frostbyte-bundle", version: FrostbyteBundle.version))
                request.format = format.manifestFormat
                request.basePath = base
                request.splitSize = try split.map(SplitSize.parse)
                if request.splitSize == 4 << 30 {
                    Console.note("note: FAT32 holds files of at most 4G minus one byte; for FAT32 media use --split 4095M")
                }
                let builder = BundleBuilder(request: request, progress: TerminalProgress()) { warning in
                    Console.note("warning: \(warning)")
                }
                let summary: BuildSummary
                do {
                    summary = try builder.build()
                } catch {
                    throw FullDisk.explain(error, folders: [output], what: "the bundle", neededBytes: nil, option: "-o")
                }
                // A split build: the index stands where the bundle file would.
                let parts = try request.splitSize.map { _ in try SplitPartsSet(indexPath: summary.sidecar).index }
                if json {
                    if let parts { try Console.json(SplitBuildSummary(summary: summary, index: parts)) }
                    else { try Console.json(summary) }
                    return
                }
                Console.out("""
                    \(parts == nil ? summary.path : summary.sidecar)
                      bundle_id  \(summary.bundleId)
                      sha256     \(summary.sha256.hex)\(parts.map { " (the parts joined: \($0.bundle))" } ?? "")
                      size       \(formatBytes(summary.size)) (\(formatBytes(summary.uncompressedSize)) uncompressed)
                      contents   \(summary.files) entries, \(summary.images.count) images, \(summary.models.count) models
                      signed     \(summary.signed ? "yes" : "no")\(parts != nil && summary.signed ? " (MANIFEST.json.sig and the index's .sig)" : "")
                      format     \(summary.format)
                    """)
                if let parts { printParts(parts) }
                if let blobs = summary.blobs, let carried = summary.blobsCarried, let bytes = summary.blobBytesCarried {
                    Console.out("  blobs      \(carried) of \(blobs) carried (\(formatBytes(bytes))); sharing saved \(formatBytes(summary.sharedBlobBytesSaved ?? 0))")
                }
                if let base = summary.base {
                    Console.out("  delta of   \(base.bundleId) (install it over that release)")
                }
            }
        }

        /// The parts line of a split build's summary.
        private func printParts(_ index: SplitPartsIndex) {
            let first = index.parts.first?.file ?? "", last = index.parts.last?.file ?? ""
            Console.out("  parts      \(index.parts.count) of at most \(formatBytes(index.partSize)): \(first)\(index.parts.count > 1 ? " ... " + last : "")")
        }
    }
}

/// `build --split --json`: the build summary (whose `sidecar` is the parts index) plus
/// `parts_index`, `part_size` and `parts[]` {file, index, size, sha256}.
struct SplitBuildSummary: Encodable {
    let summary: BuildSummary
    let index: SplitPartsIndex

    enum CodingKeys: String, CodingKey {
        case partsIndex = "parts_index"
        case partSize = "part_size"
        case parts
    }

    func encode(to encoder: Encoder) throws {
        try summary.encode(to: encoder)
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(summary.sidecar, forKey: .partsIndex)
        try container.encode(index.partSize, forKey: .partSize)
        try container.encode(index.parts, forKey: .parts)
    }
}
