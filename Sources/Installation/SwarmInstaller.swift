import FrostbyteCore
import BundleFormat
import Engine
import InstallationState
import Stack
import FoundationEssentials
import Glibc

/// What `install --swarm` asks for.
public struct SwarmInstallRequest: Sendable {
    public var prepare: PrepareRequest
    /// The stack's name (default: the installed one, else the bundle's name).
    public var stack: String?
    /// `--publish`: where the gateway answers on its node (default 127.0.0.1:<its port>).
    public var publish: String?
    /// `--pin SERVICE=NODE`: where a volume owner (or the gateway) runs on a first install.
    public var pins: [String: String]
    /// Seconds for the prepared-node check and for the stack to become healthy.
    public var timeout: Double
    /// `--allow-downgrade`: deploy an older version of the deployed bundle.
    public var allowDowngrade: Bool
    /// `--encrypt-overlay`: the stack's internal overlay encrypted (IPsec/ESP between
    /// nodes); the cross-node control (`SwarmCrossNodeControl`) runs after the deploy.
    public var encryptOverlay = false
    /// `--subnet`: the internal overlay's subnet (default: the bundle's); a second
    /// tenant of the same bundle on one swarm needs its own.
    public var subnet: String?

    public init(prepare: PrepareRequest, stack: String? = nil, publish: String? = nil, pins: [String: String] = [:],
                timeout: Double = 300, allowDowngrade: Bool = false) {
        self.prepare = prepare; self.stack = stack; self.publish = publish; self.pins = pins; self.timeout = timeout
        self.allowDowngrade = allowDowngrade
    }
}

/// What `install --swarm` did (`--json`).
public struct SwarmInstallResult: Codable, Sendable {
    public var stack: String
    public var bundleId: String
    public var resumed: Bool
    public var preparedNodes: [String]
    public var pins: [String: String]
    public var services: [SwarmServiceState]
    public var gatewayURL: String
    public var migrationsApplied: [String]
    public var stackFile: String
    public var notes: [String]
    /// What the stack file cannot carry and this install did not enforce itself: the
    /// gateway's firewall rules when it runs on another node (`SwarmNodeFirewall`).
    public var notEnforced: [String]
    /// Seconds: check (prepared nodes), verify (the bundle on the manager), deploy, healthy, total.
    public var timings: [String: Double]

    enum CodingKeys: String, CodingKey {
        case stack, resumed, pins, services, notes, timings
        case bundleId = "bundle_id"
        case preparedNodes = "prepared_nodes"
        case gatewayURL = "gateway_url"
        case migrationsApplied = "migrations_applied"
        case stackFile = "stack_file"
        case notEnforced = "not_enforced"
    }
}

/// Deploys a bundle as a Docker Swarm stack from a manager (docs/SWARM.md):
///
/// 1. Before anything changes (reads, and the prepared-node check's short-lived jobs):
///    this engine is a manager; the bundle's head and signature; every node that takes
///    tasks runs the same engine version; every such node holds every image by the ID
///    the manager's store gives it (`SwarmPreparedCheck`; a node with another image
///    store fails that check) and the unprepared ones are named; `--pin` names
///    prepared nodes; an older version of the deployed bundle only with
///    `allowDowngrade`. Anything else is refused (exit 2) with nothing changed.
/// 2. The whole bundle is verified on the manager (`Preparer`: on a prepared manager
///    it loads nothing) and its release kept under the prefix. When the manager holds
///    the prepare record of this release, that changes nothing and runs beside step 1's
///    check; otherwise it runs after the check passed.
/// 3. Node labels, set by the manager: `io.frostbyte.<stack>.prepared=<bundle_id>` on
///    every prepared node (every service is constrained to it), and
///    `io.frostbyte.<stack>.pin.<service>=true` on the node of each pinned service
///    (services that own named volumes, and the gateway). Pins are kept from the
///    record on every later install: a pinned service never moves.
/// 4. `SwarmRenderer` → `state/swarm-stack.yml`; `docker stack deploy`; migrations
///    once, as soon as the database service is healthy (`SwarmMigrationJob` on its
///    node), while the others start; wait until every service runs its desired
///    replicas (a task with a healthcheck is only `Running` once healthy); the record
///    (`state/swarm.json`) says `deployed`.
/// A failure after step 2 leaves the record `failed` with the reason; a re-run resumes
/// (the deploy converges, applied migrations are not run again).
public final class SwarmInstaller {
    let request: SwarmInstallRequest
    let note: @Sendable (String) -> Void
    var layout: InstallationLayout { request.prepare.layout }

    public init(request: SwarmInstallRequest, note: @escaping @Sendable (String) -> Void = { _ in }) {
        self.request = request; self.note = note
    }

    /// Runs the install.
    /// - Throws: `SwarmInstallError`, `SwarmRenderError`, `InstallError` and the
    ///   verifier's or engine's errors, each with the contract's exit status.
    public func run() throws -> SwarmInstallResult {
        let started = Date()
        var timings: [String: Double] = [:]
        let trust = try request.prepare.validate()
        try Preflight.checkRoot()
        let docker = DockerEngine()
        let engine = try Preflight.checkEngine(docker)
        let swarm = try docker.swarmNode()
        guard swarm.isActive, swarm.controlAvailable else {
            throw SwarmInstallError.notAManager(state: swarm.isActive ? "active, a worker" : swarm.localNodeState)
        }
        let manifest = try BundlePeek.manifest(ofBundleAt: request.prepare.bundlePath, trust: trust).manifest
        guard manifest.kind == .stack else { throw InstallError.notAStackBundle(kind: manifest.kind.rawValue) }
        guard let compose = manifest.compose else { throw InstallError.bundleLacks(field: "compose") }
        guard let gateway = manifest.gateway else { throw InstallError.bundleLacks(field: "gateway") }
        let existing = try SwarmInstallRecord.read(layout)
        let stack = try Self.stackName(request.stack ?? existing?.stack ?? manifest.name)
        if let existing, existing.stack != stack { throw SwarmInstallError.otherStack(prefix: layout.prefix, stack: existing.stack) }
        if let existing, !request.allowDowngrade, existing.name == manifest.name,
           Preflight.isVersion(existing.version, newerThan: manifest.version) {
            throw InstallError.downgrade(name: manifest.name, installed: existing.version, offered: manifest.version)
        }
        let publish = try IngressPlan.parsePublish(request.publish ?? existing?.publish ?? "\(gateway.port)")
        let subnet = try (request.subnet ?? existing?.subnet).map { try NetworkPlan.parseSubnet($0).description }

        let nodes = try docker.swarmNodes()
        let versions = Set(nodes.filter(\.takesTasks).map(\.engineVersion)).sorted()
        guard versions.count <= 1 else { throw SwarmInstallError.engineVersionsDiffer(versions: versions) }
        let expected = Dictionary(manifest.images.map { image in
            (image.name, engine.imageStore.isContainerd ? (image.manifestDigest ?? image.digest) : image.digest)
        }, uniquingKeysWith: { first, _ in first })
        // A manager that prepared this release already: verifying it again loads
        // nothing and keeps the release as it is (only its prepare record is
        // rewritten), so it runs beside the check.
        let prepareRequest = request.prepare, note = self.note
        let early = PreparedRelease.read(layout, bundleId: manifest.bundleId) == nil ? nil
            : BackgroundWork { (try Preparer(request: prepareRequest, note: note).run(), Date()) }
        let checkStart = Date()
        note("checking which nodes hold the \(expected.count) image(s) of \(manifest.bundleId)")
        let reports: [SwarmPreparedCheck.NodeReport]
        do {
            reports = try SwarmPreparedCheck(engine: docker).check(images: expected, timeout: min(request.timeout, 120))
        } catch {
            _ = early?.result()  // never leave the verification half done
            throw error
        }
        timings["check"] = Date().timeIntervalSince(checkStart)
        let unprepared = reports.filter { $0.state != "prepared" && $0.state != "not-checked" }
        if !unprepared.isEmpty { _ = early?.result() }
        guard unprepared.isEmpty else {
            throw SwarmInstallError.unpreparedNodes(bundleId: manifest.bundleId, nodes: unprepared.map {
                $0.missing.isEmpty ? "\($0.node) (\($0.state))" : "\($0.node) (lacks \($0.missing.joined(separator: ", ")))"
            })
        }
        let prepared = reports.filter { $0.state == "prepared" }.map(\.node).sorted()
        guard !prepared.isEmpty else { throw SwarmInstallError.tooFewNodes(prepared: 0, needed: 1) }
        for (service, node) in request.pins where !prepared.contains(node) {
            _ = early?.result()
            throw SwarmInstallError.unknownNode(service: service, node: node)
        }
        note("prepared: \(prepared.joined(separator: ", "))")

        // The whole bundle verified on the manager; its release kept under the prefix.
        let verifyStart = Date()
        let preparedHere: PrepareResult
        if let early {
            let (result, finished) = try early.join()
            preparedHere = result
            timings["verify"] = finished.timeIntervalSince(checkStart)
        } else {
            preparedHere = try Preparer(request: request.prepare, note: note).run()
            timings["verify"] = Date().timeIntervalSince(verifyStart)
        }
        let releaseFolder = layout.release(manifest.bundleId)
        let composePath = "\(releaseFolder)/\(compose.file)"
        let tree = try YAMLParser(bytes: Array(try Self.read(composePath)), file: composePath).parseSingleDocument()
        let pins = Self.assignPins(tree: tree, gateway: gateway.service, kept: existing?.pins ?? [:],
                                   asked: request.pins, prepared: prepared, manager: Self.hostname(swarm, nodes))
        let labelPrefix = SwarmInstallRecord.labelPrefix(stack: stack)
        var record = SwarmInstallRecord(
            stack: stack, bundleId: manifest.bundleId, name: manifest.name, version: manifest.version,
            phase: .deploying, completed: [:], failure: nil, pins: pins,
            labelledNodes: Array(Set(prepared + (existing?.labelledNodes ?? []))).sorted(), labelPrefix: labelPrefix,
            gatewayService: gateway.service, publish: publish, images: preparedHere.images,
            stackFile: "\(layout.state)/swarm-stack.yml",
            previousBundleId: existing.flatMap { $0.bundleId == manifest.bundleId ? $0.previousBundleId : $0.bundleId },
            startedAt: UTCTime.now(), updatedAt: UTCTime.now())
        record.subnet = subnet
        let resumed = existing.map { $0.bundleId == manifest.bundleId && $0.phase != .deployed } ?? false
        if resumed { note("resuming the unfinished deploy of \(manifest.bundleId)") }
        let previous = try SwarmUpgradePlan.previous(existing: existing, resumed: resumed, manifest: manifest,
                                                     layout: layout, engine: docker, nodes: nodes, note: note)
        try record.save(layout)
        var changed = false
        do {
            let result = try deploy(&record, docker: docker, tree: tree, manifest: manifest, nodes: nodes, prepared: prepared,
                                    resumed: resumed, upgrading: previous != nil, changed: &changed, timings: timings,
                                    started: started)
            SwarmPreviousRelease.discard(layout)
            return result
        } catch {
            record.phase = .failed
            record.failure = (error as? UserFacingError)?.message ?? "\(error)"
            try? record.save(layout)
            // An upgrade that changed the swarm rolls the whole stack back to the release it replaced.
            if let previous, changed {
                throw SwarmRollback(engine: docker, layout: layout, timeout: request.timeout, note: note)
                    .restore(previous, failed: manifest.bundleId, error: error)
            }
            throw error
        }
    }

    /// Steps 3 and 4: labels, render, deploy, health, migrations.
    private func deploy(_ record: inout SwarmInstallRecord, docker: DockerEngine, tree: YAMLNode, manifest: Manifest,
                        nodes: [SwarmNodeListing], prepared: [String], resumed: Bool, upgrading: Bool, changed: inout Bool,
                        timings: [String: Double], started: Date) throws -> SwarmInstallResult {
        var timings = timings
        let pinLabel = "\(record.labelPrefix).pin"
        let gateway = manifest.gateway!
        let binding = GatewayIngress.binding(publish: record.publish)
        var options = SwarmRenderOptions(
            imageIDs: record.images, gatewayService: gateway.service, gatewayPort: gateway.port,
            publishAddress: binding?.address ?? "127.0.0.1", publishPort: Int(binding?.port ?? UInt16(gateway.port)),
            volumePins: record.pins)
        options.constraints = ["node.labels.\(record.preparedLabel) == true"]
        options.pinLabel = pinLabel
        options.encryptOverlay = request.encryptOverlay
        let rendering = try SwarmRenderer(options: options).render(tree)

        changed = true
        // Each node labelled on its own thread: two CLI round trips per node.
        let labelling = record
        let work = Set(record.labelledNodes + prepared).sorted().filter { node in nodes.contains { $0.hostname == node } }
            .map { node in
                BackgroundWork {
                    let current = (try? docker.nodeLabels(node)) ?? [:]
                    var add: [String: String] = [:]
                    if prepared.contains(node) { add[labelling.preparedLabel] = "true" }
                    for (service, pinned) in labelling.pins where pinned == node { add["\(pinLabel).\(service)"] = "true" }
                    // An upgrade keeps the previous release's label until it is healthy: its
                    // tasks keep running (Swarm stops a task whose node no longer matches).
                    let remove = current.keys.filter {
                        $0.hasPrefix("\(labelling.labelPrefix).") && add[$0] == nil
                            && !(upgrading && SwarmInstallRecord.isPreparedLabel($0, prefix: labelling.labelPrefix))
                    }
                    try docker.updateNodeLabels(node, add: add.filter { current[$0.key] != $0.value }, remove: remove)
                }
            }
        for job in work { try job.join() }
        try record.save(layout, step: "labelled")

        try AtomicFile.write(Data(rendering.stackYAML), to: record.stackFile, mode: 0o644)
        for line in rendering.notes { note("note: \(line)") }
        let notEnforced = try SwarmNodeFirewall.beforeDeploy(
            stack: record.stack, publish: record.publish, gatewayNode: record.pins[gateway.service],
            thisNode: Self.hostname(try docker.swarmNode(), nodes), layout: layout, note: note)

        let releaseFolder = layout.release(manifest.bundleId)
        let secrets = try Secrets.ensure(layout: layout, examplePath: "\(releaseFolder)/.env.example")
        if secrets.created { note("generated \(layout.secretsEnv) (0600)") }
        var environment = Dictionary(try Secrets.parse(String(decoding: try Self.read(layout.secretsEnv), as: UTF8.self),
                                                       origin: layout.secretsEnv).map { ($0.key, $0.value) },
                                     uniquingKeysWith: { _, last in last })
        environment["FROSTBYTE_PROJECT"] = record.stack  // the io.frostbyte.project labels name this stack
        if let subnet = record.subnet { environment["FROSTBYTE_SUBNET"] = subnet }  // the internal overlay's
        let deployStart = Date()
        note("deploying stack \(record.stack) (\(record.stackFile))")
        let convergence = SwarmConvergence(engine: docker, stack: record.stack)
        let baseline = upgrading ? convergence.baseline() : [:]
        try docker.deployStack(record.stack, file: record.stackFile, environment: environment, timeout: request.timeout)
        try record.save(layout, step: "deployed")
        timings["deploy"] = Date().timeIntervalSince(deployStart)

        // Migrations once the database is healthy, while the other services still
        // start (they wait for it anyway); then every service healthy.
        let healthStart = Date()
        let health = SwarmHealth(engine: docker, stack: record.stack)
        var applied: [String] = []
        if let spec = manifest.migrations {
            if upgrading {
                _ = try convergence.wait(count: 1, only: [spec.service], baseline: baseline, timeout: request.timeout) { self.note($0) }
            } else {
                _ = try health.waitHealthy(count: 1, only: [spec.service], timeout: request.timeout) { self.note($0) }
            }
            let image = tree["services"]?[spec.service]?["image"]?.scalarValue.flatMap { record.images[$0] } ?? ""
            let network = Self.internalNetwork(tree).map { "\(record.stack)_\($0)" } ?? ""
            let constraint = record.pins[spec.service].map { _ in "node.labels.\(pinLabel).\(spec.service)==true" }
                ?? "node.labels.\(record.preparedLabel)==true"
            let job = SwarmMigrationJob(engine: docker, layout: layout, image: image, host: spec.service,
                                        network: network, constraint: constraint, stack: record.stack)
            note("running migrations in a job on \(record.pins[spec.service] ?? "a prepared node") (\(spec.service) over \(network))")
            applied = try MigrationRunner(executor: { try job.run($0, stdin: $1, timeout: $2) }, spec: spec,
                                          releaseFolder: releaseFolder, timeout: request.timeout).apply { self.note($0) }
            try record.save(layout, step: "migrated")
        }
        if request.encryptOverlay {
            let control = SwarmCrossNodeControl(engine: docker, stack: record.stack, pins: record.pins,
                                                thisNode: Self.hostname(try docker.swarmNode(), nodes))
            for line in try control.run(timeout: min(request.timeout, 45), note: note) { note("reached \(line)") }
        }
        let serviceCount = tree["services"]?.mappingPairs?.count ?? 0
        let services = upgrading
            ? try convergence.wait(count: serviceCount, baseline: baseline, timeout: request.timeout) { self.note($0) }
            : try health.waitHealthy(count: serviceCount, timeout: request.timeout) { self.note($0) }
        timings["healthy"] = Date().timeIntervalSince(healthStart)
        try record.save(layout, step: "healthy")
        if upgrading { SwarmUpgradePlan.dropOtherReleaseLabels(record, engine: docker, nodes: nodes) }
        record.phase = .deployed
        record.failure = nil
        try record.save(layout)
        timings["total"] = Date().timeIntervalSince(started)
        return SwarmInstallResult(stack: record.stack, bundleId: manifest.bundleId, resumed: resumed, preparedNodes: prepared,
                                  pins: record.pins, services: services, gatewayURL: record.gatewayURL,
                                  migrationsApplied: applied, stackFile: record.stackFile, notes: rendering.notes,
                                  notEnforced: notEnforced, timings: timings)
    }

    /// A stack name Swarm accepts (lowercase letters, digits, `-`, `_`; from a letter or digit).
    /// - Throws: `InstallError.invalidProject`-like bad input.
    static func stackName(_ text: String) throws -> String {
        let name = String(text.lowercased().map { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" ? $0 : "-" })
        guard let first = name.first, first.isLetter || first.isNumber, name.count <= 48 else {
            throw ValidationFailure("the stack name '\(text)' is not usable; give --project with lowercase letters, digits, '-' or '_' (at most 48)")
        }
        return name
    }

    /// A file's bytes.
    /// - Throws: `ValidationFailure` naming the file.
    static func read(_ path: String) throws -> Data {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ValidationFailure("cannot read \(path); run install --swarm again (prepare keeps the release there)")
        }
        return data
    }

    /// The manager's hostname as the swarm lists it.
    static func hostname(_ swarm: SwarmNode, _ nodes: [SwarmNodeListing]) -> String? {
        nodes.first { $0.id == swarm.nodeID }?.hostname
    }

    /// Pins: kept ones first (never moved), then the operator's, then the gateway on
    /// the manager (if prepared) and each other volume owner on the next prepared node.
    static func assignPins(tree: YAMLNode, gateway: String, kept: [String: String], asked: [String: String],
                           prepared: [String], manager: String?) -> [String: String] {
        var pins = kept
        for (service, node) in asked where pins[service] == nil { pins[service] = node }
        if pins[gateway] == nil { pins[gateway] = manager.flatMap { prepared.contains($0) ? $0 : nil } ?? prepared[0] }
        var next = (prepared.firstIndex(of: pins[gateway]!) ?? 0) + 1
        for pair in tree["services"]?.mappingPairs ?? [] {
            guard let name = pair.key.scalarValue, pins[name] == nil, SwarmRenderer.ownsNamedVolumes(pair.value) else { continue }
            pins[name] = prepared[next % prepared.count]
            next += 1
        }
        return pins
    }

    /// The key of the compose file's (first) internal network.
    static func internalNetwork(_ tree: YAMLNode) -> String? {
        tree["networks"]?.mappingPairs?.first { $0.value["internal"]?.scalarValue == "true" }?.key.scalarValue
    }
}

/// Bad input found while reading the request (exit 2).
struct ValidationFailure: UserFacingError {
    var message: String
    init(_ message: String) { self.message = message }
    var exitStatus: ExitStatus { .badInput }
}
