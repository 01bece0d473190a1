import FrostbyteCore
import FrostbyteCrypto
import BundleFormat
import Engine
import InstallationState
import Isolation
import FoundationEssentials
import Glibc

/// The result of the isolation step of an install.
public struct IsolationOutcome: Sendable, Equatable {
    public var passed: Bool
    /// One line per failed check (empty when passed).
    public var failures: [String]
    public var evidencePath: String
    public var evidenceSHA256: String
}

/// The isolation step of an install: checks the live stack and writes an evidence
/// document under `<prefix>/evidence/`. A seam so the full checker of
/// `check-isolation` can run here; `NetworkIsolationGate` is the minimal check.
public protocol IsolationGate: Sendable {
    /// Checks the running release `manifest` (not yet `current`) as planned on this
    /// host, writes evidence under `layout.evidence`, and reports the verdict.
    func check(plan: NetworkPlan, manifest: Manifest, images: [String: String],
               layout: InstallationLayout) throws -> IsolationOutcome
}

/// The full isolation checker of `check-isolation` (network and container
/// configuration, egress canary, cross-project and DNS probes from inside each
/// container's namespace, positive controls), run on the release before it becomes
/// current. Warnings (e.g. host services reachable from the bridge of a release
/// without an ingress network) are in the evidence and do not fail.
public struct CheckerIsolationGate: IsolationGate {
    public var options: IsolationOptions
    public var progress: (@Sendable (String) -> Void)?

    public init(options: IsolationOptions = IsolationOptions(), progress: (@Sendable (String) -> Void)? = nil) {
        self.options = options; self.progress = progress
    }

    public func check(plan: NetworkPlan, manifest: Manifest, images: [String: String],
                      layout: InstallationLayout) throws -> IsolationOutcome {
        let target = IsolationTarget(
            manifest: manifest, project: plan.project, prefix: layout.prefix, networks: plan.networks,
            gatewayIP: plan.gatewayIP, loadedImages: images, bundleId: manifest.bundleId, publish: plan.publish)
        let checker = IsolationChecker(target: target, options: options)
        checker.progress = progress
        let evidence = try checker.run()
        let path = IsolationEvidence.defaultPath(prefix: layout.prefix, evidence: evidence)
        let digest = try evidence.write(to: path)
        let failures = evidence.checks.filter { $0.status == .fail }.map {
            "\($0.title): expected \($0.expected), observed \($0.observed)"
        }
        return IsolationOutcome(passed: evidence.result == "pass", failures: failures,
                                evidencePath: path, evidenceSHA256: digest.hex)
    }
}

/// The minimal isolation check: every network of the project exists with
/// `Internal: true` and the planned subnet, checked on the live network (Compose
/// before ~2.32 silently keeps an existing non-internal network), never the file.
public struct NetworkIsolationGate: IsolationGate {
    public init() {}

    /// One observed check in the evidence document.
    struct Check: Codable {
        var name: String
        var command: String
        var expected: String
        var observed: String
        var result: String
        var timestamp: String
    }

    struct Evidence: Codable {
        var schema = "frostbyte-install-isolation/1"
        var project: String
        var bundleId: String
        var timestamp: String
        var passed: Bool
        var checks: [Check]
        enum CodingKeys: String, CodingKey {
            case schema, project, timestamp, passed, checks
            case bundleId = "bundle_id"
        }
    }

    public func check(plan: NetworkPlan, manifest: Manifest, images: [String: String],
                      layout: InstallationLayout) throws -> IsolationOutcome {
        let bundleId = manifest.bundleId
        let live = try DockerEngine().allNetworks().filter { $0.labels[OwnershipLabels.composeProject] == plan.project }
        var checks: [Check] = []
        for planned in plan.networks {
            let match = live.first { $0.labels["com.docker.compose.network"] == planned.name }
            let command = "docker network inspect \(match?.name ?? "\(plan.project)_\(planned.name)")"
            let expected = "Internal=\(planned.internal) Subnet=\(planned.subnet)"
            let observed = match.map { "Internal=\($0.internal) Subnet=\($0.ipv4Subnets.joined(separator: ","))" } ?? "network missing"
            let passed = match.map { $0.internal == planned.internal && $0.ipv4Subnets.contains(planned.subnet) } ?? false
            checks.append(Check(name: "network \(planned.name) internal", command: command, expected: expected,
                                observed: observed, result: passed ? "pass" : "fail", timestamp: UTCTime.now()))
        }
        for network in live where !plan.networks.contains(where: { $0.name == network.labels["com.docker.compose.network"] }) {
            checks.append(Check(name: "network \(network.name) declared", command: "docker network inspect \(network.name)",
                                expected: "only the bundle's networks", observed: "extra network \(network.name) Internal=\(network.internal)",
                                result: network.internal ? "pass" : "fail", timestamp: UTCTime.now()))
        }
        let passed = checks.allSatisfy { $0.result == "pass" }
        let evidence = Evidence(project: plan.project, bundleId: bundleId, timestamp: UTCTime.now(), passed: passed, checks: checks)
        let data = try DeterministicJSON.encode(evidence)
        try AtomicFile.makeFolder(layout.evidence, mode: 0o755)
        let stamp = UTCTime.now().replacing(":", with: "")
        let path = "\(layout.evidence)/install-\(bundleId)-\(stamp).json"
        try AtomicFile.write(data, to: path, mode: 0o644)
        return IsolationOutcome(
            passed: passed,
            failures: checks.filter { $0.result != "pass" }.map { "\($0.name): expected \($0.expected), observed \($0.observed)" },
            evidencePath: path, evidenceSHA256: SHA256Hasher.hash(data).hex)
    }
}
