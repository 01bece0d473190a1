import BundleFormat
import Foundation

/// Loads a release's image archives into the engine: `docker load` only for images
/// not already present under their name with the manifest's image ID, then checks
/// that the name now resolves to exactly that ID.
public struct ImageLoader: Sendable {
    public var releaseFolder: String
    public var timeout: Double

    public init(releaseFolder: String, timeout: Double = 1800) {
        self.releaseFolder = releaseFolder; self.timeout = timeout
    }

    /// The image ID `reference` resolves to in the engine, or nil when absent.
    public static func imageID(of reference: String) throws -> String? {
        let result = try CommandRunner.run(["docker", "image", "inspect", "--format", "{{.Id}}", reference], timeout: 60)
        guard result.status == 0 else { return nil }
        let id = result.output
        return id.isEmpty ? nil : id
    }

    /// True when `image` is present under its name with the manifest's ID.
    public static func isPresent(_ image: Manifest.Image) -> Bool {
        (try? imageID(of: image.name)) == image.digest
    }

    /// Loads what is missing; returns name → image ID for every image of the manifest
    /// and the names that had to be loaded now.
    /// - Throws: `InstallError.docker` when `docker load` fails,
    ///   `InstallError.imageIDMismatch` when the loaded ID differs from the manifest.
    /// `didLoad` runs right after each `docker load` (before the ID check), so the
    /// installation records what it loaded even when it is killed a moment later.
    public func load(_ images: [Manifest.Image], didLoad: (String, String) throws -> Void = { _, _ in },
                     progress: (String) -> Void = { _ in }) throws
        -> (ids: [String: String], loadedNow: [String]) {
        var loaded: [String: String] = [:]
        var loadedNow: [String] = []
        for image in images {
            if try Self.imageID(of: image.name) == image.digest {
                progress("image \(image.name) already present (\(image.digest.prefix(19)))")
                loaded[image.name] = image.digest
                continue
            }
            progress("loading image \(image.name)")
            let archive = "\(releaseFolder)/\(image.file)"
            let result = try CommandRunner.run(["docker", "load", "-q", "-i", archive], timeout: timeout)
            guard result.status == 0 else {
                throw InstallError.docker(operation: "load \(archive)", detail: result.errorOutput)
            }
            let found = try Self.imageID(of: image.name) ?? "(no image named \(image.name) after loading)"
            if found.hasPrefix("sha256:") { try didLoad(image.name, found) }
            guard found == image.digest else {
                throw InstallError.imageIDMismatch(image: image.name, expected: image.digest, found: found)
            }
            loaded[image.name] = found
            loadedNow.append(image.name)
        }
        return (loaded, loadedNow)
    }
}

/// The images this installation itself loaded (`state/images-loaded.json`, name → ID),
/// accumulated over its releases. Uninstall removes only these: an image that was
/// already on the host before the install is not the installation's to remove.
public enum LoadedImagesRecord {
    static func path(_ layout: InstallationLayout) -> String { "\(layout.state)/images-loaded.json" }

    /// The recorded images (empty when none).
    public static func read(_ layout: InstallationLayout) -> [String: String] {
        guard let data = FileManager.default.contents(atPath: path(layout)),
              let record = try? JSONDecoder().decode([String: String].self, from: data) else { return [:] }
        return record
    }

    /// Adds `images` (name → ID) to the record, atomically.
    public static func add(_ images: [String: String], in layout: InstallationLayout) throws {
        guard !images.isEmpty else { return }
        let merged = read(layout).merging(images) { $1 }
        try AtomicFile.write(try ManifestCoding.encode(merged), to: path(layout), mode: 0o600)
    }
}
