import FrostbyteCore
import BundleFormat
import Engine
import InstallationState
import FoundationEssentials
import Glibc

/// Installs a bundle under a prefix, step by step, journaled so that a re-run after a
/// crash (even SIGKILL) resumes: preflight (changes nothing; a delta bundle needs its
/// base release here, `InstalledBase`) → verify while extracting into a staging folder
/// (a delta's other files copied from its base) → load images, then drop the release
/// folder's `images/` (the engine is the image store) → secrets → compose up → health →
/// migrations → isolation → switch `current` and write the receipt. `current` only ever points at a
/// release that passed every step; an upgrade that fails health, migrations or
/// isolation, or whose switch fails (a full disk), brings the previous release back up
/// and reports why; a full filesystem is reported as `FullDiskError` (`explainFullDisk`).
public final class Installer {
    let request: InstallRequest
    let unpacker: BundleUnpacker
    let isolation: IsolationGate
    let progress: ProgressReporter
    let note: @Sendable (String) -> Void
    var layout: InstallationLayout { request.layout }
    var timings: [String: Double] = [:]
    /// What the release needs on disk, known once the preflight measured it.
    var spaceNeeded: SpaceNeeded?

    /// - Parameters:
    ///   - unpacker: verifies and extracts (the verifier of `verify-bundle`).
    ///   - isolation: the isolation step (the checker of `check-isolation`, or the minimal network check).
    ///   - note: receives one human-readable line per step (never a secret), from
    ///     the installer's thread or from work it runs alongside (early image loads,
    ///     migrations), one whole line per call.
    public init(request: InstallRequest, unpacker: BundleUnpacker, isolation: IsolationGate,
                progress: ProgressReporter = SilentProgress(), note: @escaping @Sendable (String) -> Void = { _ in }) {
        self.request = request; self.unpacker = unpacker; self.isolation = isolation
        self.progress = progress; self.note = note
    }

    /// Runs the install.
    /// - Throws: `InstallError` and the verifier's or runner's errors, each with the
    ///   contract's exit status; preflight failures leave the host unchanged.
    public func run() throws -> InstallResult {
        do {
            return try runSteps()
        } catch {
            throw explainFullDisk(error)
        }
    }

    /// The install itself (`run` adds the full-disk sentence to its failures).
    private func runSteps() throws -> InstallResult {
        let started = Date()
        let trust = try request.validate()

        // Preflight: reads only. The engine's answers are asked for at once (each
        // docker CLI start costs tens of milliseconds) and judged in the same order
        // as ever, so the first failing check is still the one reported.
        try Preflight.checkRoot()
        let docker = DockerEngine()
        let engineWork = BackgroundWork { try Preflight.checkEngine(docker) }
        let composeWork = BackgroundWork { try Preflight.checkCompose(docker) }
        let networksWork = BackgroundWork { try docker.allNetworks() }
        let engine = try engineWork.join()
        let composeVersion = try composeWork.join()
        let peeked = try BundlePeek.manifest(ofBundleAt: request.bundlePath, trust: trust)
        let manifest = peeked.manifest
        guard manifest.kind == .stack else { throw InstallError.notAStackBundle(kind: manifest.kind.rawValue) }
        guard manifest.compose != nil else { throw InstallError.bundleLacks(field: "compose") }
        let releaseFolder = layout.release(manifest.bundleId)
        let loader = ImageLoader(engine: docker, store: engine.imageStore, layout: layout, releaseFolder: releaseFolder)
        let presenceWork = manifest.images.map { image in BackgroundWork { loader.isPresent(image) } }
        let receipt = try loadReceipt()
        try Preflight.checkDowngrade(receipt: receipt, manifest: manifest, allowed: request.allowDowngrade)
        let delta = try InstalledBase.check(manifest, layout: layout, loader: loader)
        var plan = try NetworkPlan.make(manifest: manifest, project: request.project, subnet: request.subnet,
                                        publish: try request.publish.map(IngressPlan.parsePublish),
                                        ingressSubnet: try request.ingressSubnet.map(IngressPlan.parseSubnet),
                                        receipt: receipt, layout: layout)
        let networks = try networksWork.join()
        try IngressPlan.chooseSubnet(&plan, networks: networks)
        let projectHasContainers = try Preflight.checkOwnership(plan: plan, manifest: manifest, layout: layout,
                                                                engine: docker, networks: networks)
        try Preflight.checkPublish(plan.publish, projectHasContainers: projectHasContainers)
        try Preflight.checkOverlap(plan: plan, networks: networks)
        var present: [String: Bool] = [:]
        for (image, work) in zip(manifest.images, presenceWork) { present[image.name] = (try? work.join()) ?? false }
        var isFolder = false  // a bundle folder is copied whole; a bundle file streams (StagedPayload)
        let streamed = !(FileManager.default.fileExists(atPath: request.bundlePath, isDirectory: &isFolder) && isFolder)
        let space = try Preflight.checkSpace(
            manifest: manifest, layout: layout, dockerRootDir: engine.dockerRootDir,
            releaseExists: FileManager.default.fileExists(atPath: "\(releaseFolder)/MANIFEST.json"), streamed: streamed,
            isPresent: { present[$0.name] ?? false })
        let report = Preflight.Report(
            engineVersion: engine.serverVersion, composeVersion: composeVersion, prefixFreeBytes: space.prefixFree,
            prefixNeededBytes: space.prefixNeeded, dockerFreeBytes: space.dockerFree, dockerNeededBytes: space.dockerNeeded)
        spaceNeeded = SpaceNeeded(bundleId: manifest.bundleId, prefixBytes: Preflight.prefixBytes(manifest, streamed: streamed),
                                  dockerRootDir: engine.dockerRootDir)
        note("preflight ok: engine \(engine.serverVersion) (\(engine.imageStore.description)), compose \(composeVersion), project \(plan.project), subnet \(plan.subnet)")

        // From here on the host changes; everything below is journaled.
        try AtomicFile.makeFolder(layout.prefix, mode: 0o755)
        try AtomicFile.makeFolder(layout.releases, mode: 0o755)
        let lock = try InstallLock(layout: layout)
        defer { lock.release() }

        if let receipt, let result = try unchangedReinstall(receipt: receipt, manifestBytes: peeked.bytes,
                                                            plan: plan, trust: trust, report: report, loader: loader) {
            return result
        }

        var journal: InstallJournal
        var resumed = false
        if let existing = InstallJournal.load(layout),
           existing.canResume(bundleId: manifest.bundleId, project: plan.project, subnet: plan.subnet) {
            journal = existing
            journal.status = .inProgress
            resumed = true
            note("resuming the interrupted install of \(manifest.bundleId)")
        } else {
            let previous = receipt.flatMap { $0.bundleId == manifest.bundleId ? $0.previousBundleId : $0.bundleId }
            journal = InstallJournal(bundleId: manifest.bundleId, project: plan.project, subnet: plan.subnet,
                                     gatewayIP: plan.gatewayIP, previousBundleId: previous)
        }
        try journal.save(layout)
        removeLeftovers()

        // Verify while extracting; an image reaches docker only once its archive is
        // verified, and is removed again if the rest of the bundle fails.
        let settled = try watchingEngine(docker, during: "docker load (an image verified while the bundle was extracted)",
                                         journal: &journal) { journal in
            try extract(trust: trust, expectedManifest: peeked.bytes, manifest: manifest, delta: delta,
                        loader: loader, imagesPresent: present.values.allSatisfy { $0 }, journal: &journal)
        }
        let images = try watchingEngine(docker, during: "docker load", journal: &journal) { _ in
            try timed("load") { try loader.load(manifest, timeout: request.timeout, settled: settled) { note($0) } }
        }
        try journal.complete(.imagesLoaded, in: layout)
        try dropImagePayload(releaseFolder)

        let secrets = try Secrets.ensure(layout: layout, examplePath: "\(releaseFolder)/.env.example")
        if secrets.created { note("generated \(layout.secretsEnv) (0600)") }
        if !secrets.addedKeys.isEmpty { note("added new keys to \(layout.secretsEnv): \(secrets.addedKeys.joined(separator: ", "))") }
        try journal.complete(.secrets, in: layout)

        let compose = InstalledStack(releaseFolder: releaseFolder, project: plan.project, subnet: plan.subnet,
                                     gatewayIP: plan.gatewayIP, publish: plan.publish,
                                     ingressSubnet: plan.ingressSubnet, layout: layout).compose(engine: docker)
        try IngressPlan.applyFirewall(plan, layout: layout)
        try HostStateRepair.writeBootUnit(project: plan.project, layout: layout, releaseFolder: releaseFolder, note: note)
        var services: [ServiceState] = []
        var step = "compose up"
        var migrations: [String] = []
        var isolationOutcome: IsolationOutcome?
        var newReceipt: InstallationReceipt
        do {
            note("starting the stack (project \(plan.project))")
            try timed("compose_up") { try compose.up(timeout: request.timeout) }
            try journal.complete(.composeUp, in: layout)
            step = "the health wait"
            services = try timed("health") {
                try HealthWaiter(compose: compose, timeout: request.timeout).wait(progress: note)
            }
            try journal.complete(.healthy, in: layout)
            // Migrations (SQL inside the database's container) and the isolation check
            // (Docker's state and network probes) need nothing from each other: they
            // run at once, and each is recorded in the journal in the old order once
            // both are over. A failed migration is reported before the isolation verdict.
            step = "the migrations and the isolation check"
            let migrationWork = startMigrations(manifest.migrations, compose: compose, releaseFolder: releaseFolder)
            let checked = Result {
                try timed("isolation") {
                    try isolation.check(plan: plan, manifest: manifest, images: images.ids, layout: layout)
                }
            }
            if let migrationWork {
                let run = try migrationWork.join()
                timings["migrations"] = run.seconds
                migrations = try run.applied.get()
            }
            try journal.complete(.migrated, in: layout)
            let outcome = try checked.get()
            isolationOutcome = outcome
            guard outcome.passed else {
                throw InstallError.isolationFailed(detail: outcome.failures.joined(separator: "; "), evidence: outcome.evidencePath)
            }
            try journal.complete(.isolated, in: layout)
            // The switch: `current`, the journal and the receipt. Inside this block so
            // that a failure here (a full disk) brings the previous release back too.
            step = "the switch"
            try ReleaseSwitcher.activate(manifest.bundleId, in: layout)
            try journal.complete(.switched, in: layout)
            newReceipt = InstallationReceipt(
                bundleId: manifest.bundleId, name: manifest.name, version: manifest.version, project: plan.project,
                subnet: plan.subnet, gatewayIP: plan.gatewayIP, installedAt: UTCTime.now(), images: images.ids,
                evidenceSHA256: outcome.evidenceSHA256, evidencePath: outcome.evidencePath,
                previousBundleId: journal.previousBundleId, publish: plan.publish, ingressSubnet: plan.ingressSubnet)
            try AtomicFile.write(try DeterministicJSON.encode(newReceipt), to: layout.receipt, mode: 0o644)
        } catch {
            // A dead engine is no reason to roll back (nothing could be): the journal
            // keeps the steps done and the same command resumes once dockerd is back.
            if let died = engineDeath(docker, during: step) {
                try? journal.finish(.failed, failure: died.message, in: layout)
                throw died
            }
            throw try handleFailure(error, receipt: receipt, journal: &journal, newBundleId: manifest.bundleId)
        }

        // The receipt is the commit point: a journal that cannot be closed now (a disk
        // that filled this very moment) only makes the next run re-check the release.
        do { try journal.finish(.complete, in: layout) } catch { note("cannot close the journal: \(error)") }
        timings["total"] = Date().timeIntervalSince(started)
        note("\(manifest.bundleId) is current")

        return InstallResult(
            action: action(previous: receipt, manifest: manifest), bundleId: manifest.bundleId,
            project: plan.project, subnet: plan.subnet, gatewayIP: plan.gatewayIP,
            gatewayURL: GatewayIngress.url(receipt: newReceipt, gateway: manifest.gateway), publish: plan.publish,
            previousBundleId: journal.previousBundleId, resumed: resumed, imagesLoaded: images.loadedNow,
            images: images.ids, migrationsApplied: migrations, services: services,
            evidencePath: isolationOutcome?.evidencePath, evidenceSHA256: isolationOutcome?.evidenceSHA256,
            preflight: report, timings: timings)
    }

    /// The receipt under the prefix, if any.
    func loadReceipt() throws -> InstallationReceipt? {
        do {
            return try InstallationReceipt.load(layout)
        } catch {
            throw InstallError.filesystem(operation: "read the receipt", path: layout.receipt,
                                          reason: "\(error); move it away to start over")
        }
    }

    /// Runs `body` and records its duration under `name`.
    func timed<T>(_ name: String, _ body: () throws -> T) rethrows -> T {
        let start = Date()
        defer { timings[name, default: 0] += Date().timeIntervalSince(start) }
        return try body()
    }

    /// installed, upgraded, rolled-back or reinstalled, from the receipt before and the release now.
    func action(previous: InstallationReceipt?, manifest: Manifest) -> String {
        guard let previous else { return "installed" }
        if previous.bundleId == manifest.bundleId { return "reinstalled" }
        if Preflight.isDowngrade(from: previous, to: manifest) { return "rolled-back" }
        return "upgraded"
    }

    /// After a failure in compose up, health, migrations or isolation: restore the
    /// previous release when there is one, record the outcome, return the error to throw.
    func handleFailure(_ error: Error, receipt: InstallationReceipt?, journal: inout InstallJournal,
                       newBundleId: String) throws -> Error {
        let reason = (error as? UserFacingError)?.message ?? "\(error)"
        guard let receipt, receipt.bundleId != newBundleId,
              FileManager.default.fileExists(atPath: layout.release(receipt.bundleId)) else {
            try? journal.finish(.failed, failure: reason, in: layout)
            return error
        }
        note("\(newBundleId) failed: \(reason.split(separator: "\n").first ?? "")")
        do {
            try Rollback.restore(receipt, layout: layout, timeout: request.timeout, note: note)
        } catch {
            let rollbackReason = (error as? UserFacingError)?.message ?? "\(error)"
            try? journal.finish(.failed, failure: reason, in: layout)
            return InstallError.rollbackFailed(reason: reason, rollbackError: rollbackReason)
        }
        try? journal.finish(.rolledBack, failure: reason, in: layout)
        return InstallError.rolledBack(reason: "\(newBundleId) failed: \(reason)", restored: receipt.bundleId)
    }
}
