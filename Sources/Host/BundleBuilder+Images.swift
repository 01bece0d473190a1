import BundleFormat
import Foundation
import Stack

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

extension BundleBuilder {
    /// Gets one archive per spec image with its image ID: `archive:` files are parsed
    /// in place (hashed later by the parallel pre-pass); the others are checked to
    /// exist in the engine first (all of them, before any is saved), then streamed
    /// from `docker save` into `staging`, hashed and parsed while written, and their
    /// ID cross-checked with `docker image inspect`.
    /// - Throws: `DockerImageError`, `CommandError` (no docker), `DockerInspectError`.
    func stageImages(_ spec: BundleSpec, staging: () throws -> StagingFolder) throws -> [SavedImage] {
        let docker = DockerImages()
        let needEngine = spec.images.filter { $0.archivePath == nil }
        var engineIDs: [String: String] = [:]
        if !needEngine.isEmpty {
            try docker.engineVersion()
            var missing: [String] = []
            for image in needEngine {
                if let id = try docker.imageID(image.reference.text) {
                    engineIDs[image.reference.text] = id
                } else {
                    missing.append(image.reference.text)
                }
            }
            guard missing.isEmpty else {
                throw DockerImageError.missingImages(references: missing, specPath: spec.specPath)
            }
        }
        var saved: [SavedImage] = []
        for image in spec.images {
            let reference = image.reference.text
            if let archive = image.archivePath {
                progress.begin("reading \(URL(fileURLWithPath: archive).lastPathComponent)", totalBytes: fileSize(archive))
                let summary = try DockerImages.inspectArchive(at: archive, progress: progress)
                progress.end()
                let wanted = image.reference.normalized
                guard summary.repoTags.contains(where: { ImageReference($0)?.normalized == wanted }) else {
                    throw DockerImageError.archiveLacksReference(path: archive, reference: reference, found: summary.repoTags)
                }
                saved.append(SavedImage(reference: reference, path: archive, sha256: nil, size: nil,
                                        imageID: summary.configDigest))
            } else {
                let path = try staging().file(
                    named: URL(fileURLWithPath: BuildInputs.imageFileName(reference)).lastPathComponent)
                let result = try docker.save(reference, to: path, progress: progress)
                if let engineID = engineIDs[reference], engineID != result.summary.configDigest {
                    throw DockerImageError.idMismatch(
                        reference: reference, archive: result.summary.configDigest, engine: engineID)
                }
                saved.append(SavedImage(reference: reference, path: path, sha256: result.digest,
                                        size: result.size, imageID: result.summary.configDigest))
            }
        }
        return saved
    }

    private func fileSize(_ path: String) -> Int64? {
        var info = stat()
        return stat(path, &info) == 0 ? Int64(info.st_size) : nil
    }
}
