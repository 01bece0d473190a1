import FrostbyteCore
import Engine
import InstallationState
import FoundationEssentials
import Glibc

/// Proves, or disproves, that one installed compose project is isolated: reads the
/// live Docker state (never the compose file), probes from inside every
/// container's network namespace (entered from the host; the images need no
/// tools), and records every observation as a check. The run needs root and a
/// reachable Docker engine; it creates only its own canary namespace, veth pair
/// and listeners, all removed before `run` returns, and adds a firewall rule only
/// when `options.fixHostExposure` asks for it.
///
/// ```swift
/// let target = try IsolationTarget.load(prefix: "/opt/frostbyte")
/// let evidence = try IsolationChecker(target: target, options: options).run()
/// let digest = try evidence.write(to: IsolationEvidence.defaultPath(prefix: "/opt/frostbyte", evidence: evidence))
/// ```
public final class IsolationChecker {
    public let target: IsolationTarget
    public let options: IsolationOptions
    /// Receives one line per phase (for a human on stderr); nil for silence.
    public var progress: (@Sendable (String) -> Void)?
    /// Called at each `IsolationPhase` of `run`, on the calling thread; nil for none.
    /// A seam for tests that make other projects' objects vanish at an exact point.
    public var phaseHook: (@Sendable (IsolationPhase) -> Void)?
    /// Swarm only: the address this node has in the swarm (`docker info`'s NodeAddr).
    var nodeAddress: String?

    public init(target: IsolationTarget, options: IsolationOptions = IsolationOptions()) {
        self.target = target
        self.options = options
    }

    /// Runs every check and returns the evidence (not yet written anywhere).
    /// - Throws: `IsolationError.notRoot`, `.fixNeedsPrefix`, `.projectNotFound`,
    ///   `.canary`, `.firewall`; `DockerInspectError` when the engine does not answer.
    ///   A failed check is not an error: it is in the evidence, `result` is `fail`.
    public func run() throws -> IsolationEvidence {
        guard geteuid() == 0 else { throw IsolationError.notRoot }
        if options.fixHostExposure && target.prefix == nil { throw IsolationError.fixNeedsPrefix }
        let started = Date()
        let runID = options.runID ?? TextFormat.hex(UInt32.random(in: 0...0xFF_FFFF), width: 6)
        let inspector = DockerEngine(docker: options.docker, timeout: options.commandTimeout)

        IsolationCleanup.sweepStale(timeout: options.commandTimeout)
        progress?("reading Docker state of project \(target.project)")
        // Host-side work that does not depend on the stack runs while Docker's state
        // is read: the engine's capabilities, and the egress canary with its self-test.
        let engineWork = BackgroundWork { try inspector.capabilities() }
        let canaryWork = prepareCanary(runID: runID)
        defer { (try? canaryWork.join())?.canary.tearDown() }
        var snapshot: IsolationSnapshot
        do {
            snapshot = try IsolationSnapshot.gather(project: target.project, inspector: inspector, hook: phaseHook)
        } catch {
            _ = try engineWork.join()  // an engine that does not answer is reported as such
            throw error
        }
        let engine = try engineWork.join()
        // A Swarm node keeps the exited containers of a service's earlier tasks (its
        // task history): only the running tasks are the stack here.
        if target.isSwarm { snapshot.containers.removeAll { !$0.state.running } }
        if let scope = options.crossProjects {
            snapshot.foreignContainers.removeAll { !scope.contains(IsolationSnapshot.projectName(of: $0)) }
            snapshot.vanished.removeAll { !$0.ownedByTarget && !scope.contains($0.project ?? "") }
        }
        if !target.hasManifest && snapshot.containers.isEmpty && snapshot.networks.isEmpty {
            throw IsolationError.projectNotFound(project: target.project)
        }
        let timeout = options.commandTimeout
        let firewallWork = BackgroundWork { FirewallFacts.gather(timeout: timeout) }

        if target.isSwarm { nodeAddress = try? inspector.swarmNode().nodeAddress }
        var checks = CheckList()
        checkConfiguration(snapshot, into: &checks)
        progress?("probing from \(snapshot.runningContainers.count) container(s)")
        let probed = try runProbes(snapshot, runID: runID, inspector: inspector, canary: canaryWork,
                                   firewall: firewallWork, into: &checks)
        let firewall = probed.firewall
        // The ingress checks read the firewall rules, gathered while the probes ran.
        checkIngress(snapshot, firewall: firewall, into: &checks)
        recordVanished(snapshot.vanished + probed.vanished, into: &checks)
        checkEngine(engine, snapshot: snapshot, firewall: firewall, into: &checks)
        checkRoutes(snapshot, into: &checks)

        let finished = Date()
        let summary = IsolationEvidence.Summary(checks.items)
        return IsolationEvidence(
            schema: IsolationEvidence.schemaV1,
            tool: .init(name: "frostbyte-bundle", version: options.toolVersion),
            runID: runID, bundleId: target.bundleId, project: target.project, prefix: target.prefix,
            host: HostFacts.hostDescription(),
            engine: .init(
                version: engine.serverVersion, apiVersion: engine.apiVersion,
                firewallBackend: engine.firewallBackend.isEmpty ? firewall.iptablesBackend : engine.firewallBackend,
                iptables: firewall.dockerIPv4Chains, ip6tables: firewall.dockerIPv6Chains),
            startedAt: IsolationClock.format(started), finishedAt: IsolationClock.format(finished),
            durationSeconds: (finished.timeIntervalSince(started) * 1000).rounded() / 1000,
            checks: checks.items, summary: summary, result: summary.fail == 0 ? "pass" : "fail")
    }
}

/// The checks of one run, in the order they were made.
struct CheckList {
    private(set) var items: [IsolationCheck] = []

    mutating func add(
        _ id: String, _ category: String, _ title: String, probe: String, expected: String,
        observed: String, status: CheckStatus, remedy: String? = nil
    ) {
        items.append(IsolationCheck(
            id: id, category: category, title: title, probe: probe, expected: expected,
            observed: observed, status: status, remedy: status == .pass || status == .info ? nil : remedy))
    }
}

extension IsolationEvidence {
    /// `<prefix>/evidence/isolation-<UTC time>-<run>.json` for this document.
    public static func defaultPath(prefix: String, evidence: IsolationEvidence) -> String {
        let stamp = evidence.startedAt.filter { $0.isNumber || $0 == "T" }.prefix(15)
        return "\(InstallationLayout(prefix: prefix).evidence)/isolation-\(stamp)Z-\(evidence.runID).json"
    }
}
