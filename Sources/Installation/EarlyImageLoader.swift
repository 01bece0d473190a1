import FrostbyteCore
import BundleFormat
import Engine
import FoundationEssentials
import Glibc
import Synchronization

/// Overlaps `docker load` with verification: the verifier announces each image
/// archive as soon as it is verified and extracted (`VerifiedImage`), and this
/// loads it from the staging folder while later entries still stream. A format v2
/// image (no `file`) announced by a verifier loads from the blobs under the
/// announced path, the staging release root (`ImageStream`).
///
/// Guarantees:
/// - Nothing reaches `docker load` that the verifier has not announced, and only
///   when `accept` (the install's signature policy and expected manifest) agrees.
/// - Only images whose name the engine does not know at all are loaded here; any
///   other is left to `ImageLoader.load` after verification, as before. So `undo()`,
///   which removes what was loaded here, puts the engine back exactly as it was.
/// - One `docker load` at a time, in bundle order, each through `ImageLoader`'s
///   `startLoad` and `confirmLoad` (the same recording and identity check as the
///   load step); the engine is asked about a name when its image is offered, and a
///   loaded image is confirmed while the next one loads.
/// - `finish()` returns only when every load started here is over, so the caller
///   may then move or remove the files they read.
/// - With `payload`, an image the engine holds as the same image (loaded and confirmed
///   here, or found present) is settled there, which removes the staged files no other
///   image still needs; `offer` then returns only once the image offered before has
///   settled, so the verifier extracts at most one image ahead of the load under way
///   (`StagedPayload.peakBytes`).
public final class EarlyImageLoader: Sendable {
    private let loader: ImageLoader
    private let timeout: Double
    private let accept: @Sendable (VerifiedImage) -> Bool
    private let progress: @Sendable (String) -> Void
    private let payload: StagedPayload?
    /// Loads in the order they were offered: `load` (true when this loaded the image)
    /// waits for the `load` before it; `work` confirms the image once its load is over.
    private let loads = Mutex<[(name: String, load: BackgroundWork<Bool>, work: BackgroundWork<ImageLoader.LoadedImage?>)]>([])

    /// - Parameters:
    ///   - progress: hears `ensure`'s lines (`loading image NAME`) from the loading thread.
    ///   - accept: whether an announced image may be loaded now (policy).
    ///   - payload: the staged files to remove as images settle (nil: keep them all).
    public init(loader: ImageLoader, timeout: Double, payload: StagedPayload? = nil,
                progress: @escaping @Sendable (String) -> Void,
                accept: @escaping @Sendable (VerifiedImage) -> Bool) {
        self.loader = loader; self.timeout = timeout; self.payload = payload
        self.progress = progress; self.accept = accept
    }

    /// The verifier's callback: asks the engine about `verified`'s name at once, then
    /// loads it after the `docker load` before it has returned. Only the loads form a
    /// chain: the question before a load and the identity check after it run beside
    /// the neighbouring loads.
    public func offer(_ verified: VerifiedImage) {
        guard accept(verified) else { return }
        let loader = self.loader, timeout = self.timeout, progress = self.progress, payload = self.payload
        // At most one image extracted ahead of the load under way (its error is finish()'s).
        if payload != nil { _ = loads.withLock({ $0.last?.work })?.result() }
        loads.withLock { loads in
            let previous = loads.last?.load
            let load = BackgroundWork { () throws -> Bool in
                let found = try loader.engine.image(verified.image.name)
                _ = previous?.result()
                if let found {
                    if loader.matches(found, verified.image) { payload?.settle(verified) }
                    return false
                }
                do {
                    let source: ImageLoader.Source = try verified.image.archiveFile == nil
                        ? .blobs(manifest: ManifestCoding.decodeManifest(verified.manifestData), folder: verified.path)
                        : .archive(verified.path)
                    try loader.startLoad(verified.image, from: source, timeout: timeout, absentBefore: true,
                                         progress: progress)
                    return true
                } catch {
                    throw AttemptedLoadError(underlying: error)
                }
            }
            let confirmed = BackgroundWork { () throws -> ImageLoader.LoadedImage? in
                guard try load.join() else { return nil }
                do {
                    let loaded = try loader.confirmLoad(verified.image, equivalentBefore: false)
                    payload?.settle(verified)
                    return loaded
                } catch {
                    throw AttemptedLoadError(underlying: error)
                }
            }
            loads.append((verified.image.name, load, confirmed))
        }
    }

    /// Waits for every load started here; returns the images they made present (name →
    /// result). Images left to the load step are absent.
    /// - Throws: the first load's error (`docker load` failed, identity mismatch).
    public func finish() throws -> [String: ImageLoader.LoadedImage] {
        var settled: [String: ImageLoader.LoadedImage] = [:]
        var failure: (any Error)?
        for (name, _, work) in loads.withLock({ $0 }) {
            switch work.result() {
            case .success(let loaded?): settled[name] = loaded
            case .success(nil): continue
            case .failure(let error): failure = failure ?? ((error as? AttemptedLoadError)?.underlying ?? error)
            }
        }
        if let failure { throw failure }
        return settled
    }

    /// After a bundle that failed: waits for the loads, then removes every image
    /// loaded here (by name; no container can use it yet) and its record. Best effort.
    public func undo() {
        var names: [String] = []
        for (name, _, work) in loads.withLock({ $0 }) {
            switch work.result() {
            case .success(let loaded?) where loaded.loadedNow: names.append(name)
            case .failure(let error) where error is AttemptedLoadError: names.append(name)
            default: continue
            }
        }
        for name in names where (try? loader.engine.image(name)) != nil { _ = loader.engine.removeImage(name) }
        try? LoadedImagesRecord.remove(names, in: loader.layout)
    }
}

/// A failure after `docker load` was started for a name the engine did not know:
/// whatever the load left under that name is this install's to remove.
private struct AttemptedLoadError: Error {
    let underlying: any Error
}
