import FrostbyteCore
import FrostbyteCrypto
import BundleFormat
import Engine
import InstallationState
import FoundationEssentials
import Glibc
import Synchronization

/// Loads a release's images into the engine: `docker load` only for images not
/// already present under their name as the same image, then checks that the name now
/// resolves to that image. Format v1 images load from their verified `docker save`
/// archive (`images/<safe-ref>.tar`); format v2 images from a stream built on the fly
/// from the release's verified blob files (`ImageStream`), piped into `docker load`.
///
/// "The same image" is decided by what the engine's store reports
/// (docs/FORMAT.md, image identity): on graphdriver engines the image ID is the
/// config digest the manifest records; on the containerd image store it is a
/// manifest (or index) digest: the one the bundle records when its archive came
/// with an index.json, or the one this installation saw the engine assign when it
/// loaded that very archive (state/image-identities.json); and the layers' diff IDs
/// must equal the manifest's. A different image under the same name never passes.
public struct ImageLoader: Sendable {
    public var engine: DockerEngine
    public var store: ImageStore
    public var layout: InstallationLayout
    public var releaseFolder: String
    /// The layer chains the engine is known to hold, shared by every copy of this loader.
    public let heldLayers = HeldLayerChains()

    public init(engine: DockerEngine, store: ImageStore, layout: InstallationLayout, releaseFolder: String) {
        self.engine = engine; self.store = store; self.layout = layout; self.releaseFolder = releaseFolder
    }

    /// True when the engine holds `image` under its name, as the same image.
    public func isPresent(_ image: Manifest.Image) -> Bool {
        guard let found = try? engine.image(image.name), matches(found, image) else { return false }
        heldLayers.record(found.diffIDs)
        return true
    }

    /// Whether the engine's record `found` is the manifest's `image` on this store.
    func matches(_ found: EngineImage, _ image: Manifest.Image) -> Bool {
        switch store {
        case .graphdriver:
            return found.id == image.digest
        case .containerd:
            if let diffIDs = image.layerDiffIDs, diffIDs != found.diffIDs { return false }
            var known: Set<String> = [image.digest]
            if let manifestDigest = image.manifestDigest { known.insert(manifestDigest) }
            if let sha256 = image.sha256, let seen = ImageIdentityRecord.read(layout)[sha256.hex] { known.insert(seen) }
            return known.contains(found.id)
        }
    }

    /// Loads what is missing of `manifest`'s images from the release folder; returns
    /// name → engine image ID for every image and the names that had to be loaded now.
    /// Images in `settled` (what an `EarlyImageLoader` already made present from the
    /// same verified archives) are taken as they are, without asking the engine again.
    /// - Throws: `DockerEngineError.failed` when `docker load` fails,
    ///   `InstallError.imageIDMismatch` when the name does not resolve to the image loaded.
    public func load(_ manifest: Manifest, timeout: Double, settled: [String: LoadedImage] = [:],
                     progress: (String) -> Void = { _ in }) throws -> (ids: [String: String], loadedNow: [String]) {
        var loaded: [String: String] = [:]
        var loadedNow: [String] = []
        for image in manifest.images {
            let result = try settled[image.name]
                ?? ensure(image, from: source(of: image, in: manifest), timeout: timeout, progress: progress)
            loaded[image.name] = result.id
            if result.loadedNow { loadedNow.append(image.name) }
        }
        return (loaded, loadedNow)
    }

    /// Where an image loads from.
    public enum Source: Sendable {
        /// A verified `docker save` archive (format v1).
        case archive(String)
        /// The verified blob files under `folder` (format v2: the release folder, or the
        /// staging release root while it is verified), streamed by `ImageStream`.
        case blobs(manifest: Manifest, folder: String)
    }

    /// `image`'s source in this release folder: its v1 archive, or the v2 blobs.
    func source(of image: Manifest.Image, in manifest: Manifest) -> Source {
        image.archiveFile.map { .archive("\(releaseFolder)/\($0)") } ?? .blobs(manifest: manifest, folder: releaseFolder)
    }

    /// True when the release folder holds what `manifest`'s images load from: every v1
    /// archive, or every blob file the (v2) bundle carries.
    public func hasImagePayload(_ manifest: Manifest) -> Bool {
        let files = manifest.images.compactMap(\.archiveFile)
            + manifest.files.filter { $0.isCarried && OCILayout.digest(ofBlobPath: $0.path) != nil }.map(\.path)
        return files.allSatisfy { FileManager.default.fileExists(atPath: "\(releaseFolder)/\($0)") }
    }

    /// One image made present: its engine ID, and whether this call loaded it.
    public struct LoadedImage: Sendable, Equatable {
        public var id: String
        public var loadedNow: Bool
    }

    /// Makes `image` present from `source` (verified): nothing when the engine already
    /// holds it under its name as the same image, else `docker load`, then the
    /// identity check. Each load is recorded
    /// (`LoadedImagesRecord`) right after `docker load`, before the identity check, so
    /// uninstall knows what this installation brought even when it is killed a moment later.
    /// An image whose name the engine does not know yet is recorded with the ID it must
    /// get (graphdriver: the config digest; containerd: a v2 image's manifest digest)
    /// before `docker load` starts, since docker may finish a load after this process
    /// was killed (uninstall removes the name only if it resolves to that ID).
    /// Not recorded: a load over an image of the same layers already under that name on
    /// the containerd store (the same image saved with another manifest, e.g. built on
    /// this host and bundled in format v2's canonical form): the host had that image
    /// before, so uninstall must leave the name.
    /// - Throws: `DockerEngineError.failed` when `docker load` fails,
    ///   `InstallError.imageIDMismatch` when the name does not resolve to the image loaded.
    /// - Parameter knownAbsent: the caller has just seen the engine without `image.name`.
    public func ensure(_ image: Manifest.Image, from source: Source, timeout: Double, knownAbsent: Bool = false,
                       progress: (String) -> Void = { _ in }) throws -> LoadedImage {
        var equivalentBefore = false
        var absentBefore = knownAbsent
        if !knownAbsent {
            if let found = try engine.image(image.name) {
                if matches(found, image) {
                    heldLayers.record(found.diffIDs)
                    progress("image \(image.name) already present (\(found.id.prefix(19)))")
                    return LoadedImage(id: found.id, loadedNow: false)
                }
                equivalentBefore = store.isContainerd && image.layerDiffIDs == found.diffIDs
            } else {
                absentBefore = true
            }
        }
        try startLoad(image, from: source, timeout: timeout, absentBefore: absentBefore, progress: progress)
        return try confirmLoad(image, equivalentBefore: equivalentBefore)
    }

    /// The first half of `ensure`: records the ID an absent name must get, then runs
    /// `docker load` from `source`. `confirmLoad` must follow; the two are apart so a
    /// caller can start the next load while this one is confirmed.
    ///
    /// On a graphdriver engine a v2 stream leaves out the leading layers the engine
    /// already holds as a chain (`heldLayers`: images loaded or found present by this
    /// loader), which docker never reads; should that load fail (the layers were removed
    /// meanwhile), it is run again once with every layer.
    /// - Throws: `DockerEngineError.failed` when `docker load` fails.
    public func startLoad(_ image: Manifest.Image, from source: Source, timeout: Double, absentBefore: Bool,
                          progress: (String) -> Void = { _ in }) throws {
        if absentBefore, let expected = store.isContainerd ? (image.archiveFile == nil ? image.manifestDigest : nil) : image.digest {
            try LoadedImagesRecord.add([image.name: expected], in: layout)
        }
        progress("loading image \(image.name)")
        switch source {
        case .archive(let archive):
            try engine.load(archive: archive, timeout: timeout)
        case .blobs(let manifest, let folder):
            let layers = image.layers ?? []
            let stream = ImageStream(image: image, store: store, releaseFolder: folder, manifest: manifest,
                                     heldLeadingLayers: heldLayers.heldPrefix(of: layers))
            do {
                try engine.load(operation: "load \(image.name)", timeout: timeout, write: stream.write)
            } catch let error as DockerEngineError where !stream.omittedHeld.isEmpty {
                progress("loading image \(image.name) again with every layer (\(error.message))")
                let full = ImageStream(image: image, store: store, releaseFolder: folder, manifest: manifest)
                try engine.load(operation: "load \(image.name)", timeout: timeout, write: full.write)
            }
            heldLayers.record(layers)
        }
    }

    /// The second half of `ensure`, after `startLoad`: the name must now resolve to
    /// `image`; the ID found is recorded (unless the same layers were under that name
    /// before, `equivalentBefore`).
    /// - Throws: `InstallError.imageIDMismatch` when the name does not resolve to the image loaded.
    public func confirmLoad(_ image: Manifest.Image, equivalentBefore: Bool) throws -> LoadedImage {
        guard let found = try engine.image(image.name) else {
            throw InstallError.imageIDMismatch(image: image.name, expected: image.digest,
                                               found: "(no image under that name after loading)")
        }
        if !equivalentBefore { try LoadedImagesRecord.add([image.name: found.id], in: layout) }
        try checkLoaded(found, image)
        return LoadedImage(id: found.id, loadedNow: true)
    }

    /// After loading the verified archive of `image`: the name must resolve to it.
    /// On the containerd store an ID the bundle could not predict (an archive without
    /// index.json) is accepted when the layers match, and remembered for this archive.
    private func checkLoaded(_ found: EngineImage, _ image: Manifest.Image) throws {
        switch store {
        case .graphdriver:
            guard found.id == image.digest else {
                throw InstallError.imageIDMismatch(image: image.name, expected: image.digest, found: found.id)
            }
        case .containerd:
            if let diffIDs = image.layerDiffIDs, diffIDs != found.diffIDs {
                throw InstallError.imageIDMismatch(
                    image: image.name, expected: "layers \(diffIDs.map { $0.prefix(19) }.joined(separator: ","))",
                    found: "layers \(found.diffIDs.map { $0.prefix(19) }.joined(separator: ","))")
            }
            if let manifestDigest = image.manifestDigest, found.id != manifestDigest, found.id != image.digest {
                throw InstallError.imageIDMismatch(image: image.name, expected: manifestDigest, found: found.id)
            }
            if let sha256 = image.sha256 { try ImageIdentityRecord.add([sha256.hex: found.id], in: layout) }
        }
    }
}

/// Layer chains (diff IDs from the bottom layer up) a graphdriver engine is known to
/// hold: those of the images a loader loaded or found present. A chain stays held
/// unless someone removes its images meanwhile, which a load that relies on it reports
/// (docker cannot find the layer file), so a wrong guess costs a second load, never a
/// wrong image.
public final class HeldLayerChains: Sendable {
    private let chains = Mutex<[[String]]>([])

    public init() {}

    /// Records that the engine holds `layers` as one chain.
    func record(_ layers: [String]) {
        guard !layers.isEmpty else { return }
        chains.withLock { $0.append(layers) }
    }

    /// How many leading layers of `layers` the engine holds as one chain.
    func heldPrefix(of layers: [String]) -> Int {
        chains.withLock { chains in
            chains.map { chain in zip(chain, layers).prefix { $0 == $1 }.count }.max() ?? 0
        }
    }
}

/// The images this installation itself loaded (`state/images-loaded.json`, name → ID),
/// accumulated over its releases. Uninstall removes only these: an image that was
/// already on the host before the install is not the installation's to remove.
public enum LoadedImagesRecord {
    static func path(_ layout: InstallationLayout) -> String { "\(layout.state)/images-loaded.json" }

    /// The recorded images (empty when none).
    public static func read(_ layout: InstallationLayout) -> [String: String] {
        JSONRecord.read(path(layout))
    }

    /// Adds `images` (name → ID) to the record, atomically.
    public static func add(_ images: [String: String], in layout: InstallationLayout) throws {
        try JSONRecord.merge(images, into: path(layout))
    }

    /// Drops `names` from the record, atomically (images removed again).
    static func remove(_ names: [String], in layout: InstallationLayout) throws {
        try JSONRecord.remove(names, from: path(layout))
    }
}

/// The engine image ID the containerd store gave each archive this installation
/// loaded (`state/image-identities.json`, archive SHA-256 → image ID), for archives
/// whose manifest digest the bundle cannot know (no index.json in the save).
public enum ImageIdentityRecord {
    static func path(_ layout: InstallationLayout) -> String { "\(layout.state)/image-identities.json" }

    public static func read(_ layout: InstallationLayout) -> [String: String] {
        JSONRecord.read(path(layout))
    }

    public static func add(_ identities: [String: String], in layout: InstallationLayout) throws {
        try JSONRecord.merge(identities, into: path(layout))
    }
}

/// A small string map kept as a JSON file under `state/`, replaced atomically.
enum JSONRecord {
    static func read(_ path: String) -> [String: String] {
        guard let data = FileManager.default.contents(atPath: path),
              let record = try? JSONDecoder().decode([String: String].self, from: data) else { return [:] }
        return record
    }

    static func merge(_ entries: [String: String], into path: String) throws {
        guard !entries.isEmpty else { return }
        let merged = read(path).merging(entries) { $1 }
        try AtomicFile.write(try DeterministicJSON.encode(merged), to: path, mode: 0o600)
    }

    static func remove(_ keys: [String], from path: String) throws {
        var record = read(path)
        guard keys.contains(where: { record[$0] != nil }) else { return }
        for key in keys { record[key] = nil }
        try AtomicFile.write(try DeterministicJSON.encode(record), to: path, mode: 0o600)
    }
}
