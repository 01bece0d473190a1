import FrostbyteCore
import FrostbyteCrypto
import FrostbyteArchive
import BundleFormat
import Engine
import InstallationState
import FoundationEssentials
import Glibc

/// The release a delta bundle builds on (`base` of a format v2 manifest), as this
/// host holds it: its folder under the prefix and the engine's images.
///
/// A delta carries only what its base lacks. It installs only where
/// - `releases/<base.bundle_id>/MANIFEST.json` exists and hashes to `base.manifest_sha256`;
/// - every file the delta leaves out (`in_base`, outside `images/`) is in that folder;
/// - every image the delta cannot load by itself is in the engine: an image whose
///   manifest or config the delta leaves out must be present under its name as the
///   same image, and every layer it leaves out must be in the engine already: on
///   graphdriver engines as the same chain (the layers up to it are a prefix of the
///   `RootFS.Layers` of an image present), on the containerd store among the layers
///   of an image present. Only images the delta or the base names count, and only
///   when the engine holds them as the manifests say (never a lookalike).
/// `check` decides all this before anything is written; `copyLeftOutFiles` then
/// completes the staged release from the base folder, each file checked as it is copied.
public struct InstalledBase: Sendable {
    public let base: Manifest.Base
    /// `releases/<base.bundle_id>`.
    public let folder: String
    public let manifest: Manifest

    /// The base of `manifest` on this host, or nil for a full bundle (no `base`).
    /// Reads only.
    /// - Throws: `InstallError.deltaBaseMissing` (exit 2) naming the base and what is missing.
    public static func check(_ manifest: Manifest, layout: InstallationLayout, loader: ImageLoader) throws -> InstalledBase? {
        guard let base = manifest.base else { return nil }
        func refuse(_ reason: String) -> InstallError {
            .deltaBaseMissing(base: base, release: "\(manifest.name) \(manifest.version)", prefix: layout.prefix, reason: reason)
        }
        let folder = layout.release(base.bundleId)
        guard let data = FileManager.default.contents(atPath: "\(folder)/MANIFEST.json") else {
            throw refuse("that release is not installed under \(layout.prefix)")
        }
        guard SHA256Hasher.hash(data) == base.manifestSha256 else {
            throw refuse("\(folder)/MANIFEST.json is not the manifest the delta was built on")
        }
        guard let baseManifest = try? ManifestCoding.decodeManifest(data) else {
            throw refuse("\(folder)/MANIFEST.json cannot be read")
        }
        for file in manifest.files where !file.isCarried && !file.isDirectory && !BundleLayout.isImagesEntry(file.path) {
            guard ArchiveWriter.isValidPath(file.path) else { throw refuse("the delta names an unsafe path \(file.path)") }
            var info = stat()
            guard lstat("\(folder)/\(file.path)", &info) == 0, info.st_mode & S_IFMT == S_IFREG else {
                throw refuse("\(folder)/\(file.path) is missing")
            }
        }
        if let reason = missingImages(manifest, base: baseManifest, loader: loader) { throw refuse(reason) }
        return InstalledBase(base: base, folder: folder, manifest: baseManifest)
    }

    /// Why the engine cannot complete `manifest`'s images from what the delta carries,
    /// or nil when it can.
    static func missingImages(_ manifest: Manifest, base: Manifest, loader: ImageLoader) -> String? {
        let carried = Set(manifest.files.filter(\.isCarried).compactMap { OCILayout.digest(ofBlobPath: $0.path) })
        // The engine's images under every name either release uses, each asked once, at once.
        let names = Array(Set(manifest.images.map(\.name) + base.images.map(\.name)))
        let lookups = names.map { name in BackgroundWork { try loader.engine.image(name) } }
        var found: [String: EngineImage] = [:]
        for (name, work) in zip(names, lookups) { if let image = (try? work.join()) ?? nil { found[name] = image } }
        // Layer lists of the images the engine holds as one of the two manifests says.
        let expected = manifest.images + base.images
        let layerLists = found.compactMap { name, image in
            expected.contains { $0.name == name && loader.matches(image, $0) } ? image.diffIDs : nil
        }
        for image in manifest.images {
            if let present = found[image.name], loader.matches(present, image) { continue }
            let own = [image.digest] + (loader.store.isContainerd ? [image.manifestDigest ?? ""] : [])
            if own.contains(where: { !carried.contains($0) }) {
                return "the engine has no image \(image.name) as that release left it (\(image.digest.prefix(19)))"
            }
            let layers = image.layers ?? []
            for (index, layer) in layers.enumerated() where !carried.contains(layer) {
                let chain = Array(layers[0...index])
                let held = loader.store.isContainerd
                    ? layerLists.contains { $0.contains(layer) }
                    : layerLists.contains { $0.count > index && Array($0[0...index]) == chain }
                if !held {
                    return "the engine lacks layer \(layer.prefix(19)) of image \(image.name), which the delta leaves to that release"
                }
            }
        }
        return nil
    }

    /// Copies every file `manifest` leaves to the base (`in_base`, outside `images/`)
    /// from the base folder into `root` (the staged release), with the manifest's mode,
    /// hashing as it copies; fsynced.
    /// - Throws: `InstallError.verificationFailed` when a copy differs from the
    ///   manifest's SHA-256 or size (the base folder was changed), `InstallError.filesystem`.
    public func copyLeftOutFiles(of manifest: Manifest, into root: String) throws {
        for file in manifest.files where !file.isCarried && !file.isDirectory && !BundleLayout.isImagesEntry(file.path) {
            guard ArchiveWriter.isValidPath(file.path), let expected = file.sha256 else {
                throw InstallError.verificationFailed(detail: "the delta's manifest names an unsafe path \(file.path)")
            }
            let target = "\(root)/\(file.path)"
            try AtomicFile.makeFolder(PathText.deletingLastComponent(target), mode: 0o755)
            let copied = try Self.copy("\(folder)/\(file.path)", to: target, mode: file.mode == "0755" ? 0o755 : 0o644)
            guard copied.digest == expected, copied.size == file.size else {
                unlink(target)
                throw InstallError.verificationFailed(detail: "\(folder)/\(file.path) is not the file the delta leaves to its base "
                    + "(sha256 \(copied.digest.hex.prefix(12)), \(copied.size) bytes; expected \(expected.hex.prefix(12)), \(file.size) bytes); "
                    + "the base release was changed, install the full bundle")
            }
        }
    }

    /// Streams `source` (a regular file, never through a symlink) into a new file
    /// `target` with exactly `mode`, fsynced; returns what was copied.
    static func copy(_ source: String, to target: String, mode: mode_t) throws -> (digest: SHA256Digest, size: Int64) {
        let input = open(source, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
        guard input >= 0 else { throw InstallError.filesystem(operation: "read", path: source, reason: String(cString: strerror(errno))) }
        defer { close(input) }
        var info = stat()
        guard fstat(input, &info) == 0, info.st_mode & S_IFMT == S_IFREG else {
            throw InstallError.filesystem(operation: "read", path: source, reason: "not a regular file")
        }
        let output = open(target, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode)
        guard output >= 0 else { throw InstallError.filesystem(operation: "create", path: target, reason: String(cString: strerror(errno))) }
        var closed = false
        defer { if !closed { close(output) } }
        let tee = HashingTeeSource(input: input, inputPath: source, output: output, outputPath: target,
                                   progress: SilentProgress())
        do {
            try tee.drain()
        } catch FileReadError.readFailed(_, let reason) {
            throw InstallError.filesystem(operation: "read", path: source, reason: reason)
        } catch FileWriteError.writeFailed(_, let reason) {
            throw InstallError.filesystem(operation: "write", path: target, reason: reason)
        }
        guard fchmod(output, mode) == 0, fsync(output) == 0 else {
            throw InstallError.filesystem(operation: "write", path: target, reason: String(cString: strerror(errno)))
        }
        closed = true
        close(output)
        return (tee.finalize(), tee.size)
    }

}
