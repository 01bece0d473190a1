import FrostbyteCore
import BundleFormat
import Engine
import InstallationState
import FoundationEssentials
import Glibc

/// What `prepare` asks for.
public struct PrepareRequest: Sendable {
    /// The bundle: a `.tar.zst`/`.tar` file, an extracted bundle folder, or a `.parts.json`.
    public var bundlePath: String
    /// Paths of trusted public keys (`--trust`).
    public var trustKeyPaths: [String]
    public var allowUnsigned: Bool
    /// Where the prepared release and its receipt are kept (the prefix `install` uses).
    public var layout: InstallationLayout
    /// Seconds allowed for each `docker load`.
    public var timeout: Double

    public init(bundlePath: String, trustKeyPaths: [String] = [], allowUnsigned: Bool = false,
                layout: InstallationLayout = InstallationLayout(), timeout: Double = 300) {
        self.bundlePath = bundlePath; self.trustKeyPaths = trustKeyPaths; self.allowUnsigned = allowUnsigned
        self.layout = layout; self.timeout = timeout
    }

    /// The same checks `install` makes of its request (keys, policy, timeout, bundle path).
    /// - Throws: `InstallError` (bad input) or `SigningError` for an unreadable key.
    func validate() throws -> [TrustedKey] {
        try InstallRequest(bundlePath: bundlePath, trustKeyPaths: trustKeyPaths, allowUnsigned: allowUnsigned,
                           layout: layout, timeout: timeout).validate()
    }
}

/// The node's record that it holds a release's images (`state/prepared/<bundle_id>.json`
/// under the prefix), written atomically by `prepare` once every image is present with
/// the identity the manifest gives it. It names the engine and the swarm node it was
/// made on, so a record copied to another node, or left from before the node rejoined a
/// swarm, is told apart by whoever reads it.
public struct PreparedRelease: Codable, Sendable, Equatable {
    public var bundleId: String
    public var name: String
    public var version: String
    /// SHA-256 of the release's MANIFEST.json bytes (what a signature covers).
    public var manifestSHA256: String
    public var preparedAt: String
    public var engineVersion: String
    /// `overlay2`, `containerd (overlayfs)`, ...: what the image IDs below are on.
    public var imageStore: String
    /// The swarm's ID of this node, nil when the engine was in no swarm.
    public var swarmNodeID: String?
    /// Image name → engine image ID, every image of the release.
    public var images: [String: String]

    enum CodingKeys: String, CodingKey {
        case name, version, images
        case bundleId = "bundle_id"
        case manifestSHA256 = "manifest_sha256"
        case preparedAt = "prepared_at"
        case engineVersion = "engine_version"
        case imageStore = "image_store"
        case swarmNodeID = "swarm_node_id"
    }

    /// `state/prepared` under the prefix.
    public static func folder(_ layout: InstallationLayout) -> String { "\(layout.state)/prepared" }

    /// The record of `bundleId` under the prefix.
    public static func path(_ layout: InstallationLayout, bundleId: String) -> String {
        "\(folder(layout))/\(bundleId).json"
    }

    /// Writes the record atomically (0644: it names images, never a secret).
    /// - Throws: `FileSystemError`.
    func write(_ layout: InstallationLayout) throws -> String {
        try AtomicFile.makeFolder(Self.folder(layout), mode: 0o755)
        let path = Self.path(layout, bundleId: bundleId)
        try AtomicFile.write(try DeterministicJSON.encode(self), to: path, mode: 0o644)
        return path
    }

    /// The record of `bundleId`, nil when the node has none (or it cannot be read).
    public static func read(_ layout: InstallationLayout, bundleId: String) -> PreparedRelease? {
        guard let data = FileManager.default.contents(atPath: path(layout, bundleId: bundleId)) else { return nil }
        return try? JSONDecoder().decode(PreparedRelease.self, from: data)
    }
}

/// What `prepare` did, printed by `prepare --json`.
public struct PrepareResult: Codable, Sendable {
    public var bundleId: String
    /// Image name → engine image ID, every image of the release.
    public var images: [String: String]
    /// The images this run loaded (the others were present already, as the same image).
    public var imagesLoaded: [String]
    /// The node's record (`PreparedRelease`).
    public var receiptPath: String
    public var prepared: PreparedRelease
    /// Seconds: verify_load (verification with the early loads), load (the rest), total.
    public var timings: [String: Double]

    enum CodingKeys: String, CodingKey {
        case images, prepared, timings
        case bundleId = "bundle_id"
        case imagesLoaded = "images_loaded"
        case receiptPath = "receipt"
    }
}

/// What `prepare` refuses.
public enum PrepareError: UserFacingError, Equatable {
    /// The engine holds another image under one of the bundle's image names, and this
    /// prefix did not load it.
    case nameHeldByOtherImage(image: String, found: String, expected: String)
    /// `releases/<bundle_id>` holds a different MANIFEST.json.
    case releaseFolderDiffers(path: String)

    public var message: String {
        switch self {
        case .nameHeldByOtherImage(let image, let found, let expected):
            return "this node holds another image under \(image) (\(found), the bundle's is \(expected)); nothing was loaded: remove or re-tag that image ('docker image inspect \(image)'), then run prepare again"
        case .releaseFolderDiffers(let path):
            return "\(path) holds another MANIFEST.json than this bundle's under the same bundle id; nothing was kept: move that folder away, then run prepare again"
        }
    }

    public var exitStatus: ExitStatus { .badInput }
}
