import FrostbyteCore
import FrostbyteCrypto
import FrostbyteArchive
import BundleFormat
import Stack
import Engine
import FoundationEssentials
import Glibc

/// A folder beside the output for `docker save` archives, removed when the build
/// ends (success, error, or SIGINT/SIGTERM through `CleanupOnSignal`).
final class StagingFolder {
    let path: String
    private var tokens: [CleanupOnSignal.Token?] = []
    private var files: [String] = []

    /// Creates `.<output name>.staging-<pid>` in the output's folder.
    /// - Throws: `BundleWriteError.cannotCreate`.
    init(besideOutput output: String) throws {
        let url = URL(fileURLWithPath: output)
        path = url.deletingLastPathComponent().path + "/." + url.lastPathComponent + ".staging-\(getpid())"
        guard mkdir(path, 0o700) == 0 else {
            throw BundleWriteError.cannotCreate(path: path, reason: String(cString: strerror(errno)))
        }
        tokens.append(CleanupOnSignal.register(path))
    }

    deinit { remove() }

    /// A new file path inside the folder, registered for cleanup before it exists.
    func file(named name: String) -> String {
        let file = path + "/" + name
        files.append(file)
        tokens.append(CleanupOnSignal.register(file))
        return file
    }

    /// Deletes the folder and its files; safe to call more than once.
    func remove() {
        for file in files { unlink(file) }
        files.removeAll()
        rmdir(path)
        for token in tokens { CleanupOnSignal.unregister(token) }
        tokens.removeAll()
    }
}

/// The facts the manifest records about one image archive.
public struct SavedImage: Sendable, Equatable {
    /// The reference as the spec names it.
    public var reference: String
    /// Where the archive is on disk (staged or given by the spec).
    public var path: String
    /// SHA-256 and size of the archive file when known at staging (saved while
    /// hashed); nil for an archive on disk, which the parallel hashing pre-pass reads.
    public var sha256: SHA256Digest?
    public var size: Int64?
    /// `sha256:` + SHA-256 of the image config: the ID graphdriver engines report.
    public var imageID: String
    /// The manifest digests the archive's index.json names (empty for a legacy
    /// archive): what the containerd image store reports as the image ID.
    public var manifestDigests: [String] = []
    /// The diff IDs of the image's layers, from its config.
    public var diffIDs: [String] = []
}

extension BundleBuilder {
    /// Gets one archive per spec image with its image ID: `archive:` files are parsed
    /// in place (hashed later by the parallel pre-pass); the others are checked to
    /// exist in the engine first (all of them, before any is saved), then streamed
    /// from `docker save` into `staging`, hashed and parsed while written, and their
    /// ID cross-checked with `docker image inspect`.
    /// - Throws: `DockerImageError`, `CommandError` (no docker), `DockerEngineError`.
    func stageImages(_ spec: BundleSpec, staging: () throws -> StagingFolder) throws -> [SavedImage] {
        let docker = DockerEngine()
        let engineIDs = try engineImageIDs(spec)
        var saved: [SavedImage] = []
        for image in spec.images {
            let reference = image.reference.text
            if let archive = image.archivePath {
                progress.begin("reading \(URL(fileURLWithPath: archive).lastPathComponent)", totalBytes: fileSize(archive))
                let summary = try Self.inspectArchive(at: archive, progress: progress)
                progress.end()
                let wanted = image.reference.normalized
                guard summary.repoTags.contains(where: { ImageReference($0)?.normalized == wanted }) else {
                    throw DockerImageError.archiveLacksReference(path: archive, reference: reference, found: summary.repoTags)
                }
                saved.append(SavedImage(reference: reference, path: archive, sha256: nil, size: nil,
                                        imageID: summary.configDigest, manifestDigests: summary.manifestDigests,
                                        diffIDs: summary.diffIDs))
            } else {
                let path = try staging().file(
                    named: URL(fileURLWithPath: BuildInputs.imageFileName(reference)).lastPathComponent)
                let result = try docker.save(reference, to: path, progress: progress)
                // The engine names the image by its config digest (graphdriver) or by the
                // manifest or index digest its save's index.json carries (containerd store).
                let summary = result.summary
                if let engineID = engineIDs[reference], engineID != summary.configDigest,
                   !summary.manifestDigests.contains(engineID) {
                    throw DockerImageError.idMismatch(reference: reference, archive: summary.configDigest, engine: engineID)
                }
                saved.append(SavedImage(reference: reference, path: path, sha256: result.digest,
                                        size: result.size, imageID: summary.configDigest,
                                        manifestDigests: summary.manifestDigests, diffIDs: summary.diffIDs))
            }
        }
        return saved
    }

    /// Reads a `docker save` archive on disk: its image ID (from the config its
    /// manifest.json names) and tags. The file is not hashed here: the bundle's
    /// hashing pre-pass reads it in parallel with the other big files.
    /// - Throws: `DockerImageError.badArchive`, `FileReadError`.
    static func inspectArchive(at path: String, progress: ProgressReporter = SilentProgress()) throws
        -> ImageArchiveSummary
    {
        let input = open(path, O_RDONLY | O_CLOEXEC)
        guard input >= 0 else {
            throw FileReadError.cannotOpen(path: path, reason: String(cString: strerror(errno)))
        }
        defer { close(input) }
        let source = HashingTeeSource(input: input, inputPath: path, output: nil, outputPath: path,
                                      progress: progress, hashing: false)
        let inspection = ImageArchiveInspector.inspect(source)
        if let error = source.error { throw error }
        switch inspection {
        case .success(let summary): return summary
        case .failure(let problem): throw DockerImageError.badArchive(path: path, problem: problem.description)
        }
    }

    private func fileSize(_ path: String) -> Int64? {
        var info = stat()
        return stat(path, &info) == 0 ? Int64(info.st_size) : nil
    }
}
