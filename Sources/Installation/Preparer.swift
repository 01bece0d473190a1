import FrostbyteCore
import BundleFormat
import Engine
import InstallationState
import FoundationEssentials
import Glibc
import FrostbyteCrypto

/// Prepares this node for a bundle without starting anything: verifies the bundle
/// while extracting it, loads every image with its identity checked, keeps the
/// release folder (without `images/`, as `install` does) and writes the node's record
/// (`PreparedRelease`). This is what every node of a swarm runs before a deploy that
/// references the images by ID (docs/SWARM.md).
///
/// Guarantees:
/// - Before anything changes (reads only): the request, root, the engine, the bundle's
///   head, the image names, and for a delta its base release under the prefix
///   (`InstalledBase`, as for `install`).
/// - A name the engine holds as another image, which this prefix did not load
///   (`LoadedImagesRecord`), is refused (`PrepareError.nameHeldByOtherImage`, exit 2)
///   before any byte reaches docker. A name this prefix loaded (an earlier release's
///   tag) is loaded over, as `install` does.
/// - No byte reaches `docker load` before the verifier has verified it under the
///   signature policy (`EarlyImageLoader`, then `ImageLoader` for the rest: the same
///   loaders, streams and records as `install`). A bundle that fails verification
///   leaves no staging folder and none of the images loaded early.
/// - Success means every image of the bundle is present under its name with the
///   identity the manifest gives it on this engine's store, asked again at the end.
public final class Preparer {
    let request: PrepareRequest
    let unpacker: BundleUnpacker
    let progress: ProgressReporter
    let note: @Sendable (String) -> Void
    var layout: InstallationLayout { request.layout }

    /// - Parameters:
    ///   - unpacker: verifies and extracts (the verifier of `verify-bundle`).
    ///   - note: one human-readable line per step, possibly from a loading thread.
    public init(request: PrepareRequest, unpacker: BundleUnpacker = VerifierUnpacker(),
                progress: ProgressReporter = SilentProgress(), note: @escaping @Sendable (String) -> Void = { _ in }) {
        self.request = request; self.unpacker = unpacker; self.progress = progress; self.note = note
    }

    /// Runs `prepare`.
    /// - Throws: `InstallError`, `PrepareError` and the verifier's or engine's errors,
    ///   each with the contract's exit status.
    public func run() throws -> PrepareResult {
        let started = Date()
        let trust = try request.validate()
        try Preflight.checkRoot()
        let docker = DockerEngine()
        let engine = try Preflight.checkEngine(docker)
        let peeked = try BundlePeek.manifest(ofBundleAt: request.bundlePath, trust: trust)
        let manifest = peeked.manifest
        guard manifest.kind == .stack else { throw InstallError.notAStackBundle(kind: manifest.kind.rawValue) }
        let releaseFolder = layout.release(manifest.bundleId)
        let loader = ImageLoader(engine: docker, store: engine.imageStore, layout: layout, releaseFolder: releaseFolder)
        try refuseNamesHeldByOthers(manifest, loader: loader)
        let delta = try InstalledBase.check(manifest, layout: layout, loader: loader)
        let swarm = try? docker.swarmNode()
        note("preflight ok: engine \(engine.serverVersion) (\(engine.imageStore.description))"
             + (swarm.map { $0.isActive ? ", swarm node \($0.nodeID)" : ", in no swarm" } ?? ""))

        try AtomicFile.makeFolder(layout.prefix, mode: 0o755)
        try AtomicFile.makeFolder(layout.releases, mode: 0o755)
        let lock = try InstallLock(layout: layout)
        defer { lock.release() }

        let staging = "\(layout.releases)/.staging-\(Installer.randomSuffix())"
        let trustGiven = !trust.isEmpty, allowUnsigned = request.allowUnsigned, expected = peeked.bytes
        let early = EarlyImageLoader(loader: loader, timeout: request.timeout, progress: note) { verified in
            verified.manifestData == expected
                && SignaturePolicy.wouldAccept(verified.signature, trustGiven: trustGiven, allowUnsigned: allowUnsigned)
        }
        var timings: [String: Double] = [:]
        let images: (ids: [String: String], loadedNow: [String])
        do {
            note("verifying \(request.bundlePath) and loading its images")
            let verifyStart = Date()
            let report = try unpacker.unpack(bundlePath: request.bundlePath, trust: trust, stagingPath: staging,
                                             progress: progress, onVerifiedImage: early.offer)
            try SignaturePolicy.accept(report, trustGiven: trustGiven, allowUnsigned: allowUnsigned)
            guard report.manifestData == expected else {
                throw InstallError.verificationFailed(detail: "the bundle file changed while it was being prepared")
            }
            let settled = try early.finish()
            timings["verify_load"] = Date().timeIntervalSince(verifyStart)
            guard let root = StagingLayout.releaseRoot(in: staging) else {
                throw InstallError.verificationFailed(detail: "the extracted bundle has no MANIFEST.json at its root")
            }
            try delta?.copyLeftOutFiles(of: manifest, into: root)
            let loadStart = Date()
            var staged = loader
            staged.releaseFolder = root
            images = try staged.load(manifest, timeout: request.timeout, settled: settled) { note($0) }
            timings["load"] = Date().timeIntervalSince(loadStart)
            try keepRelease(root, at: releaseFolder, manifestBytes: expected)
        } catch {
            early.undo()
            try? FileManager.default.removeItem(atPath: staging)
            throw error
        }
        try? FileManager.default.removeItem(atPath: staging)

        // Asked again: the node must hold every image as the manifest says, now.
        for image in manifest.images where !loader.isPresent(image) {
            let found = (try? docker.image(image.name))?.id ?? "(no image under that name)"
            throw InstallError.imageIDMismatch(image: image.name, expected: image.digest, found: found)
        }
        let record = PreparedRelease(
            bundleId: manifest.bundleId, name: manifest.name, version: manifest.version,
            manifestSHA256: SHA256Hasher.hash(expected).hex, preparedAt: UTCTime.now(),
            engineVersion: engine.serverVersion, imageStore: engine.imageStore.description,
            swarmNodeID: swarm.flatMap { $0.isActive ? $0.nodeID : nil }, images: images.ids)
        let receiptPath = try record.write(layout)
        timings["total"] = Date().timeIntervalSince(started)
        note("\(manifest.bundleId) prepared on this node: \(manifest.images.count) image(s), \(images.loadedNow.count) loaded now")
        return PrepareResult(bundleId: manifest.bundleId, images: images.ids, imagesLoaded: images.loadedNow,
                             receiptPath: receiptPath, prepared: record, timings: timings)
    }

    /// Refuses the bundle when the engine holds another image under one of its names
    /// that this prefix did not load. On the containerd store an image with the same
    /// layers under another manifest digest is the same image, not another.
    /// - Throws: `PrepareError.nameHeldByOtherImage`, engine errors.
    func refuseNamesHeldByOthers(_ manifest: Manifest, loader: ImageLoader) throws {
        let ours = LoadedImagesRecord.read(layout)
        for image in manifest.images {
            guard let found = try loader.engine.image(image.name), !loader.matches(found, image) else { continue }
            if loader.store.isContainerd, image.layerDiffIDs == found.diffIDs { continue }
            if ours[image.name] == found.id { continue }
            let expected = loader.store.isContainerd ? (image.manifestDigest ?? image.digest) : image.digest
            throw PrepareError.nameHeldByOtherImage(image: image.name, found: found.id, expected: expected)
        }
    }

    /// Keeps the verified release (without `images/`: the engine holds them) at
    /// `releases/<bundle_id>`, as a later delta's base; an identical folder already
    /// there (installed or prepared before) is left as it is.
    /// - Throws: `PrepareError.releaseFolderDiffers`, `FileSystemError`.
    func keepRelease(_ root: String, at folder: String, manifestBytes: Data) throws {
        if let existing = FileManager.default.contents(atPath: "\(folder)/MANIFEST.json") {
            guard existing == manifestBytes else { throw PrepareError.releaseFolderDiffers(path: folder) }
            return
        }
        try? FileManager.default.removeItem(atPath: "\(root)/\(OCILayout.folder)")
        guard rename(root, folder) == 0 else { throw FileSystemError.current("move the verified release to", folder) }
        AtomicFile.syncFolder(layout.releases)
    }
}
