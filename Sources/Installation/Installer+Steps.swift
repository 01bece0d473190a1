import FrostbyteCore
import BundleFormat
import Engine
import InstallationState
import FoundationEssentials
import Glibc

extension Installer {
    /// Verifies the bundle while extracting it into `releases/.staging-<random>`, applies
    /// the signature policy, completes a delta with the files it leaves to its base
    /// (`InstalledBase.copyLeftOutFiles`), then renames the extracted root to
    /// `releases/<bundle_id>`. Image archives the verifier announces as verified
    /// (`VerifiedImage`) are loaded from the staging folder meanwhile when the policy
    /// already accepts them (`EarlyImageLoader`); the rename waits for those loads.
    /// Returns the images so made present. A bundle that fails leaves no staging folder
    /// behind and none of those images. Skipped when this install's journal already
    /// recorded the extraction of the very same manifest and the images are in the
    /// engine (`imagesPresent`) or still in the release folder; when neither holds them
    /// (install drops `images/` once loaded), the bundle is verified and extracted again
    /// and only its `images/` joins the existing release folder. Records
    /// `verify_extract` and the wait for the early loads as `load`.
    func extract(trust: [TrustedKey], expectedManifest: Data, manifest: Manifest, delta: InstalledBase?,
                 loader: ImageLoader, imagesPresent: Bool,
                 journal: inout InstallJournal) throws -> [String: ImageLoader.LoadedImage] {
        let folder = layout.release(journal.bundleId)
        let installed = FileManager.default.contents(atPath: "\(folder)/MANIFEST.json")
        let extracted = installed == expectedManifest
            && (journal.isDone(.extracted) || ReleaseSwitcher.currentBundleId(layout) == journal.bundleId)
        if extracted, imagesPresent || loader.hasImagePayload(manifest) {
            // Nothing is extracted again, but this run's signature policy still applies.
            try timed("verify_extract") { try verifyWithoutExtracting(trust: trust, expectedManifest: expectedManifest) }
            note("release \(journal.bundleId) already verified and extracted")
            if !journal.isDone(.extracted) { try journal.complete(.extracted, in: layout) }
            return [:]
        }
        let staging = "\(layout.releases)/.staging-\(Self.randomSuffix())"
        note("verifying and extracting \(request.bundlePath)")
        let trustGiven = !trust.isEmpty, allowUnsigned = request.allowUnsigned
        let early = EarlyImageLoader(loader: loader, timeout: request.timeout, payload: StagedPayload(manifest: manifest),
                                     progress: note) { verified in
            verified.manifestData == expectedManifest
                && SignaturePolicy.wouldAccept(verified.signature, trustGiven: trustGiven, allowUnsigned: allowUnsigned)
        }
        let settled: [String: ImageLoader.LoadedImage]
        do {
            let report = try timed("verify_extract") {
                try unpacker.unpack(bundlePath: request.bundlePath, trust: trust, stagingPath: staging,
                                    progress: progress, onVerifiedImage: early.offer)
            }
            try SignaturePolicy.accept(report, trustGiven: !trust.isEmpty, allowUnsigned: request.allowUnsigned)
            guard report.manifestData == expectedManifest, report.bundleId == journal.bundleId else {
                throw InstallError.verificationFailed(detail: "the bundle file changed while it was being installed")
            }
            settled = try timed("load") { try early.finish() }
            guard let root = StagingLayout.releaseRoot(in: staging) else {
                throw InstallError.verificationFailed(detail: "the extracted bundle has no MANIFEST.json at its root")
            }
            if extracted {
                // The release is in place but its images are neither in the engine nor
                // in its folder: only images/ joins it; the rest stays as it is.
                try replace("\(folder)/\(OCILayout.folder)", with: "\(root)/\(OCILayout.folder)")
                try? FileManager.default.removeItem(atPath: staging)
                try journal.complete(.extracted, in: layout)
                return settled
            }
            try delta?.copyLeftOutFiles(of: manifest, into: root)
            // A stale copy of this release that was never (or no longer) verified by this install.
            try discard(folder)
            guard rename(root, folder) == 0 else { throw FileSystemError.current("move the verified release to", folder) }
            if root != staging { try? FileManager.default.removeItem(atPath: staging) }
            AtomicFile.syncFolder(layout.releases)
        } catch {
            early.undo()
            try? FileManager.default.removeItem(atPath: staging)
            throw error
        }
        try journal.complete(.extracted, in: layout)
        return settled
    }

    /// Puts the folder `source` at `target`, moving aside (then removing) whatever is there.
    func replace(_ target: String, with source: String) throws {
        try discard(target)
        guard FileManager.default.fileExists(atPath: source) else { return }
        guard rename(source, target) == 0 else { throw FileSystemError.current("move the verified images to", target) }
        AtomicFile.syncFolder(PathText.deletingLastComponent(target))
    }

    /// Removes the release folder's `images/` (v1 archives, v2 blobs) once every image
    /// is in the engine: the engine is the image store, the prefix keeps no copy. Moved
    /// aside first, so a crash leaves a `.trash-` folder the next install removes, never
    /// a half-deleted `images/`.
    /// - Throws: `FileSystemError` when it cannot be moved aside.
    func dropImagePayload(_ releaseFolder: String) throws {
        let images = "\(releaseFolder)/\(OCILayout.folder)"
        guard FileManager.default.fileExists(atPath: images) else { return }
        try discard(images, syncing: releaseFolder)
        note("removed \(images): the engine holds the images")
    }

    /// Removes `path` when it exists by moving it aside to `releases/.trash-<random>`
    /// first (a crash leaves a trash folder the next install removes, never a half-deleted
    /// folder), syncing `syncing` after the move when given.
    /// - Throws: `FileSystemError` when it cannot be moved aside.
    func discard(_ path: String, syncing: String? = nil) throws {
        guard FileManager.default.fileExists(atPath: path) else { return }
        let trash = "\(layout.releases)/.trash-\(Self.randomSuffix())"
        guard rename(path, trash) == 0 else { throw FileSystemError.current("move aside", path) }
        if let syncing { AtomicFile.syncFolder(syncing) }
        try? FileManager.default.removeItem(atPath: trash)
    }

    /// Verifies the bundle file in one pass without writing anything, under this run's
    /// signature policy (`--trust` / `--allow-unsigned`), and checks that it carries
    /// exactly `expectedManifest`. Used where a release is already on disk, so that a
    /// re-run never accepts a bundle the same command would refuse on a fresh host.
    /// - Throws: `InstallError.verificationFailed` (exit 1), `InstallError.trustRequired`.
    func verifyWithoutExtracting(trust: [TrustedKey], expectedManifest: Data) throws {
        note("verifying \(request.bundlePath)")
        let report = try BundleVerifier.verify(path: request.bundlePath, trust: trust, progress: progress)
        try SignaturePolicy.accept(report, trustGiven: !trust.isEmpty, allowUnsigned: request.allowUnsigned)
        guard report.manifestData == expectedManifest else {
            throw InstallError.verificationFailed(detail: "the bundle file changed while it was being installed")
        }
    }

    /// Removes staging folders, trash and temporary symlinks a killed install left
    /// behind. Only called with the lock held, so none of them is in use.
    func removeLeftovers() {
        let fileManager = FileManager.default
        for name in (try? fileManager.contentsOfDirectory(atPath: layout.releases)) ?? []
        where name.hasPrefix(".staging-") || name.hasPrefix(".trash-") {
            note("removing \(layout.releases)/\(name), left by an interrupted install")
            try? fileManager.removeItem(atPath: "\(layout.releases)/\(name)")
        }
        for name in (try? fileManager.contentsOfDirectory(atPath: layout.prefix)) ?? [] where name.hasPrefix(".current-") {
            unlink("\(layout.prefix)/\(name)")
        }
    }

    /// The quick path for installing the release that is already current with the same
    /// project and subnet: the bundle is verified again under this run's signature
    /// policy, but nothing is extracted or loaded; the stack is brought up (a
    /// no-op when it runs) and its health re-checked. Nil when the quick path does not apply.
    func unchangedReinstall(receipt: InstallationReceipt, manifestBytes: Data, plan: NetworkPlan,
                            trust: [TrustedKey], report: Preflight.Report, loader: ImageLoader) throws -> InstallResult? {
        let manifest = try ManifestCoding.decodeManifest(manifestBytes)
        guard receipt.bundleId == manifest.bundleId, receipt.project == plan.project, receipt.subnet == plan.subnet,
              receipt.publish == plan.publish, receipt.ingressSubnet == plan.ingressSubnet,
              ReleaseSwitcher.currentBundleId(layout) == receipt.bundleId,
              FileManager.default.contents(atPath: "\(layout.release(receipt.bundleId))/MANIFEST.json") == manifestBytes,
              manifest.images.allSatisfy(loader.isPresent) else { return nil }
        if let journal = InstallJournal.load(layout), journal.status == .inProgress { return nil }
        try verifyWithoutExtracting(trust: trust, expectedManifest: manifestBytes)
        note("\(receipt.bundleId) is already installed; re-checking its health")
        let start = Date()
        let compose = InstalledStack(for: receipt, layout: layout).compose()
        try IngressPlan.applyFirewall(plan, layout: layout)  // gone after a host reboot
        try HostStateRepair.writeBootUnit(project: plan.project, layout: layout,
                                          releaseFolder: layout.release(receipt.bundleId), note: note)
        try compose.up(timeout: request.timeout)
        let services = try HealthWaiter(compose: compose, timeout: request.timeout).wait(progress: note)
        try dropImagePayload(layout.release(receipt.bundleId))
        return InstallResult(
            action: "unchanged", bundleId: receipt.bundleId, project: receipt.project, subnet: receipt.subnet,
            gatewayIP: receipt.gatewayIP, gatewayURL: GatewayIngress.url(receipt: receipt, gateway: manifest.gateway),
            publish: receipt.publish, previousBundleId: receipt.previousBundleId, resumed: false,
            imagesLoaded: [], images: receipt.images, migrationsApplied: [], services: services,
            evidencePath: receipt.evidencePath, evidenceSHA256: receipt.evidenceSHA256, preflight: report,
            timings: ["total": Date().timeIntervalSince(start)])
    }

    /// What the migrations step did on its own thread: the names applied now (or
    /// why it failed) and how long it took.
    struct MigrationRun: Sendable {
        var applied: Result<[String], any Error>
        var seconds: Double
    }

    /// Starts applying `spec`'s pending migrations on a thread of its own (nil when
    /// the release has none).
    func startMigrations(_ spec: Manifest.Migrations?, compose: ComposeDriver,
                         releaseFolder: String) -> BackgroundWork<MigrationRun>? {
        guard let spec, !spec.files.isEmpty else { return nil }
        let runner = MigrationRunner(compose: compose, spec: spec, releaseFolder: releaseFolder)
        let note = self.note
        return BackgroundWork {
            let start = Date()
            let applied = Result { try runner.apply(progress: note) }
            return MigrationRun(applied: applied, seconds: Date().timeIntervalSince(start))
        }
    }

    /// 16 random hex digits for temporary names.
    static func randomSuffix() -> String {
        TextFormat.hex(UInt64.random(in: 0...UInt64.max), width: 16)
    }
}
