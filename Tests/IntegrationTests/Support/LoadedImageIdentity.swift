import Foundation
import TestSupport
import Testing

/// What the engine DOCKER_HOST names reports for an image it loaded, and the check
/// that it is a given image of a bundle's MANIFEST, right for the engine's store:
/// - graph driver store (overlay2): the image ID is the config digest, MANIFEST's
///   `digest`;
/// - containerd store: the image ID is the digest of the manifest the engine holds,
///   which `docker load` of a docker-archive writes itself (docker v2 media types,
///   uncompressed layers: neither the bundle's OCI manifest digest nor the config
///   digest). The engine's own `docker save` gives that manifest: its digest must be
///   the ID and its config the bundle's config digest, its layers the bundle's diff IDs.
/// On both, `RootFS.Layers` must be MANIFEST's `layers`.
struct LoadedImageIdentity {
    let id: String
    let diffIDs: [String]
    /// The config digest the engine's image names (the ID on a graph driver store;
    /// from the saved manifest on the containerd store).
    let configDigest: String
    let containerdStore: Bool

    /// True when the engine's store is the containerd image store.
    static func containerdStore() throws -> Bool {
        try TestCommand.check(["docker", "info", "--format", "{{json .DriverStatus}}"]).contains("io.containerd.snapshotter")
    }

    /// Reads `reference`'s identity from the engine (`docker image inspect`, and on the
    /// containerd store `docker save` into `scratch`).
    init(reference: String, scratch: String) throws {
        let text = try TestCommand.check(["docker", "image", "inspect", "--format", "{{.Id}} {{json .RootFS.Layers}}", reference])
        let parts = text.split(separator: " ", maxSplits: 1).map(String.init)
        id = parts[0]
        diffIDs = (try? JSONDecoder().decode([String].self, from: Data(parts.last!.utf8))) ?? []
        containerdStore = try Self.containerdStore()
        guard containerdStore else {
            configDigest = id
            return
        }
        let saved = scratch + "/saved-\(UUID().uuidString.prefix(8)).tar"
        defer { try? FileManager.default.removeItem(atPath: saved) }
        try TestCommand.check(["docker", "save", "-o", saved, reference])
        let index = try Self.json(TestCommand.check(["tar", "-xOf", saved, "index.json"]))
        let manifests = index["manifests"] as? [[String: Any]] ?? []
        try #require(manifests.count == 1, "\(reference): docker save lists one manifest: \(index)")
        let digest = try #require(manifests[0]["digest"] as? String)
        let blob = "blobs/sha256/" + digest.replacingOccurrences(of: "sha256:", with: "")
        let bytes = try TestCommand.check(["sh", "-c", "tar -xOf \"$1\" \"$2\" | sha256sum | cut -c1-64", "sh", saved, blob])
        let manifest = try Self.json(TestCommand.check(["tar", "-xOf", saved, blob]))
        try #require("sha256:" + bytes == digest, "\(reference): the saved manifest's bytes hash to its digest")
        try #require(digest == id, "\(reference): the ID \(id) is the digest of the manifest the engine holds (\(digest))")
        configDigest = try #require((manifest["config"] as? [String: Any])?["digest"] as? String)
        let layers = (manifest["layers"] as? [[String: Any]] ?? []).compactMap { $0["digest"] as? String }
        try #require(layers == diffIDs, "\(reference): the saved manifest's layers are its diff IDs")
    }

    private static func json(_ text: String) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
    }

    /// True when this loaded image is MANIFEST's `digest` (config) with diff IDs `layers`.
    func isImage(configDigest expected: String, layers: [String]?) -> Bool {
        configDigest == expected && (layers == nil || diffIDs == layers)
    }
}
