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
    public func load(_ images: [Manifest.Image], progress: (String) -> Void = { _ in }) throws
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
            guard found == image.digest else {
                throw InstallError.imageIDMismatch(image: image.name, expected: image.digest, found: found)
            }
            loaded[image.name] = found
            loadedNow.append(image.name)
        }
        return (loaded, loadedNow)
    }
}
