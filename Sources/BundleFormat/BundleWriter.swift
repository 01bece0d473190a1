import FrostbyteCore
import FrostbyteCrypto
import FrostbyteArchive
import FoundationEssentials
import Glibc

/// What `BundleWriter.write` produced.
public struct BundleWriteResult: Sendable, Equatable {
    /// The bundle file.
    public var path: String
    /// `<path>.sha256`, in `sha256sum` format.
    public var sidecarPath: String
    /// The manifest as written (with `files` and `bundle_id` filled in).
    public var manifest: Manifest
    /// The exact bytes of MANIFEST.json.
    public var manifestData: Data
    /// SHA-256 of the bundle file.
    public var sha256: SHA256Digest
    /// Size of the bundle file in bytes.
    public var size: Int64
    /// Size of the tar stream before compression.
    public var uncompressedSize: Int64
    /// True when MANIFEST.json.sig was written.
    public var signed: Bool
}

/// Writes a bundle (format v1 or v2, as `manifest.format` says; docs/FORMAT.md): one root folder `<name>-<version>/`
/// holding MANIFEST.json, MANIFEST.json.sig (when a key is given), SHA256SUMS, then
/// the entries in `BundleLayout` order, as a deterministic pax tar (zstd-compressed
/// unless `.none`), plus `<file>.sha256` beside it.
///
/// Guarantees: the manifest's `files` and `bundle_id` and SHA256SUMS are derived
/// here from the hashed entries, so they always agree; the output is written to a
/// temporary file in the output's folder and renamed only when complete, so on any
/// error (or SIGINT/SIGTERM) neither the file nor its sidecar appears; memory stays
/// bounded whatever the entry sizes. Same entries, manifest, key and mtime give a
/// byte-identical file.
public struct BundleWriter: Sendable {
    public var compression: ArchiveCompression
    /// Modification time of every entry (SOURCE_DATE_EPOCH).
    public var mtime: Int64
    public var signingKey: SigningKey?
    public var progress: ProgressReporter

    public init(compression: ArchiveCompression = .standard, mtime: Int64, signingKey: SigningKey? = nil,
                progress: ProgressReporter = SilentProgress()) {
        self.compression = compression; self.mtime = mtime; self.signingKey = signingKey; self.progress = progress
    }

    /// Fills `manifest.files` and `manifest.bundleId` from `entries`, which must all be
    /// hashed (`BundleWriter.hash`). Returns the completed manifest, its bytes, and
    /// the SHA256SUMS text.
    /// - Throws: the layout errors of `BundleLayout.plan`.
    public static func completeManifest(_ manifest: Manifest, entries: [BundleEntry]) throws
        -> (manifest: Manifest, data: Data, sums: Data, plan: [BundleEntry])
    {
        let plan = try BundleLayout.plan(entries, blobOrder: manifest.isV2 ? (manifest.blobs ?? []).map(\.path) : nil)
        precondition(plan.allSatisfy(\.isHashed), "BundleWriter: entries must be hashed before writing")
        var manifest = manifest
        manifest.files = plan.map(\.manifestFile)
        let sums = SHA256Sums.render(manifest.files)
        manifest.bundleId = SHA256Sums.bundleId(name: manifest.name, version: manifest.version, sums: sums)
        return (manifest, try DeterministicJSON.encode(manifest), sums, plan)
    }

    /// Writes the bundle to `outputPath` and its sidecar to `outputPath + ".sha256"`.
    /// - Parameters:
    ///   - manifest: everything but `files` and `bundleId`, which are derived.
    ///   - entries: the bundle's contents, all hashed.
    /// - Throws: `BundleWriteError`, `ArchiveWriteError`, `FileReadError`, `SigningError`.
    public func write(manifest: Manifest, entries: [BundleEntry], to outputPath: String) throws -> BundleWriteResult {
        let output = try AtomicOutputFile(finalPath: outputPath)
        let sidecar = try AtomicOutputFile(finalPath: outputPath + ".sha256")
        return try write(manifest: manifest, entries: entries, output: output, sidecar: sidecar)
    }

    /// Writes the bundle into `output` and its digest line into `sidecar`, then commits
    /// both (bundle first). Callers create the outputs early to fail fast on an
    /// unwritable folder; on any error both are discarded.
    /// - Throws: `BundleWriteError`, `ArchiveWriteError`, `FileReadError`, `SigningError`.
    public func write(manifest: Manifest, entries: [BundleEntry], output: AtomicOutputFile,
                      sidecar: AtomicOutputFile) throws -> BundleWriteResult {
        try write(manifest: manifest, entries: entries, to: SingleFileDestination(output: output, sidecar: sidecar))
    }

    /// Writes the bundle into `output` (one file and its sidecar, or parts and their
    /// index: `BundleDestination`), then commits it. On any error nothing of it
    /// remains. For parts, `path` is the name they make up joined and `sidecarPath` the index.
    /// - Throws: `BundleWriteError`, `ArchiveWriteError`, `FileReadError`, `SigningError`.
    public func write(manifest: Manifest, entries: [BundleEntry], to output: BundleDestination) throws -> BundleWriteResult {
        defer { output.discard() }
        let outputPath = output.bundlePath
        let completed = try Self.completeManifest(manifest, entries: entries)
        let signature = try signingKey?.sign(completed.data)
        let root = "\(manifest.name)-\(manifest.version)"

        let archive = try ArchiveWriter(output: output, compression: compression, mtime: mtime)
        try archive.writeFile("\(root)/MANIFEST.json", mode: .file, contents: completed.data)
        if let signature {
            try archive.writeFile("\(root)/MANIFEST.json.sig", mode: .file, contents: signature)
        }
        try archive.writeFile("\(root)/SHA256SUMS", mode: .file, contents: completed.sums)

        progress.begin("writing \(URL(fileURLWithPath: outputPath).lastPathComponent)",
                       totalBytes: completed.plan.filter { !$0.inBase }.reduce(0) { $0 + ($1.size ?? 0) })
        for entry in completed.plan where !entry.inBase {
            let path = "\(root)/\(entry.path)"
            switch entry.source {
            case .directory:
                try archive.writeDirectory(path)
            case .data(let data):
                try archive.writeFile(path, mode: entry.mode, contents: data)
                progress.advance(by: Int64(data.count))
            case .file(let source):
                try archive.writeFile(path, mode: entry.mode, size: entry.size ?? 0, from: source) {
                    progress.advance(by: $0)
                }
            case .zstdFile(let source):
                try archive.writeFile(path, mode: entry.mode, size: entry.size ?? 0, fromZstd: source) {
                    progress.advance(by: $0)
                }
            }
        }
        try archive.finish()
        progress.end()

        let digest = try output.close()
        let sidecarPath = try output.commit(manifest: completed.manifest, digest: digest, signingKey: signingKey)
        return BundleWriteResult(
            path: outputPath, sidecarPath: sidecarPath, manifest: completed.manifest,
            manifestData: completed.data, sha256: digest, size: output.size,
            uncompressedSize: archive.uncompressedBytes, signed: signature != nil)
    }
}
