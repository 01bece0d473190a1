import FrostbyteCrypto
import BundleFormat
import Engine
import InstallationState
import FoundationEssentials
import Glibc

/// What `status` reports about one installation.
public struct InstallationStatus: Codable, Sendable {
    /// The last isolation result recorded for the active release.
    public struct Isolation: Codable, Sendable {
        public var evidencePath: String
        /// SHA-256 recorded in the receipt.
        public var recordedSHA256: String?
        /// True when the evidence file still has the recorded SHA-256.
        public var intact: Bool
        /// pass, fail, or unknown when the document cannot be read.
        public var result: String
        public var timestamp: String?
        enum CodingKeys: String, CodingKey {
            case intact, result, timestamp
            case evidencePath = "evidence_path"
            case recordedSHA256 = "recorded_sha256"
        }
    }

    public var prefix: String
    public var receipt: InstallationReceipt
    /// Where the host reaches the gateway (`http://127.0.0.1:8080`): its published
    /// address, or its fixed address for a release without an ingress network.
    public var gatewayURL: String?
    /// The release `current` points at (should equal the receipt's).
    public var current: String?
    public var services: [ServiceState]
    /// Every service running and healthy (or without a healthcheck).
    public var healthy: Bool
    public var isolation: Isolation?
    /// The last install's journal status when it did not complete (failed, rolled_back, in_progress).
    public var lastInstall: String?
    public var lastInstallFailure: String?
    /// The firewall rules the installation needs that are not in the live firewall
    /// (`HostStateRepair`); when any is missing the isolation result is `fail`.
    public var missingFirewallRules: [String] = []
    /// The sentence that names the missing rules and says to run `repair`.
    public var isolationProblem: String?

    enum CodingKeys: String, CodingKey {
        case prefix, receipt, current, services, healthy, isolation
        case missingFirewallRules = "missing_firewall_rules"
        case isolationProblem = "isolation_problem"
        case gatewayURL = "gateway_url"
        case lastInstall = "last_install"
        case lastInstallFailure = "last_install_failure"
    }
}

/// Reads an installation's state: receipt, `current`, the live containers
/// (`docker compose ps`), the evidence recorded by the last install.
public enum StatusReader {
    /// - Throws: `InstallError.notInstalled` when the prefix has no receipt.
    public static func read(layout: InstallationLayout) throws -> InstallationStatus {
        guard let receipt = try? InstallationReceipt.load(layout) else {
            throw InstallError.notInstalled(prefix: layout.prefix)
        }
        let compose = InstalledStack(for: receipt, layout: layout).compose()
        let services: [ServiceState]
        do {
            services = try compose.ps()
        } catch {
            let engine = DockerEngine()
            if !engine.answers() { throw HostStateError.engineDown(endpoint: engine.endpoint, what: "the state of project \(receipt.project)'s services") }
            throw error
        }
        let expected = (try? compose.services()) ?? services.map(\.service)
        let healthy = !expected.isEmpty && HealthWaiter.judge(expected: expected, states: services) == (nil, [])
        let manifest = FileManager.default.contents(atPath: "\(layout.release(receipt.bundleId))/MANIFEST.json")
            .flatMap { try? ManifestCoding.decodeManifest($0) }
        var status = InstallationStatus(
            prefix: layout.prefix, receipt: receipt, gatewayURL: GatewayIngress.url(receipt: receipt, gateway: manifest?.gateway),
            current: ReleaseSwitcher.currentBundleId(layout),
            services: services, healthy: healthy, isolation: isolation(receipt))
        let missing = HostStateRepair.missingRules(layout, receipt: receipt)
        if !missing.isEmpty {
            status.missingFirewallRules = missing.map(HostStateRepair.describe)
            status.isolationProblem = HostStateError.rulesMissing(rules: status.missingFirewallRules, prefix: layout.prefix).message
            status.isolation?.result = "fail"
        }
        if let journal = InstallJournal.load(layout), journal.status != .complete {
            status.lastInstall = "\(journal.status.rawValue) (\(journal.bundleId))"
            status.lastInstallFailure = journal.failure
        }
        return status
    }

    /// The isolation result recorded for `receipt`: the evidence document, whether it
    /// still has the recorded hash, and its pass/fail verdict.
    static func isolation(_ receipt: InstallationReceipt) -> InstallationStatus.Isolation? {
        guard let path = receipt.evidencePath else { return nil }
        guard let data = FileManager.default.contents(atPath: path) else {
            return .init(evidencePath: path, recordedSHA256: receipt.evidenceSHA256, intact: false, result: "unknown", timestamp: nil)
        }
        let intact = receipt.evidenceSHA256 == SHA256Hasher.hash(data).hex
        /// The fields of the evidence documents (install's and check-isolation's) that status shows.
        struct Evidence: Decodable {
            var passed: Bool?
            var result: String?, verdict: String?, status: String?
            var timestamp: String?
            var finishedAt: String?, startedAt: String?
            enum CodingKeys: String, CodingKey {
                case passed, result, verdict, status, timestamp
                case finishedAt = "finished_at", startedAt = "started_at"
            }
        }
        let evidence = try? JSONDecoder().decode(Evidence.self, from: data)
        var result = "unknown"
        if let passed = evidence?.passed {
            result = passed ? "pass" : "fail"
        } else if let verdict = evidence?.result ?? evidence?.verdict ?? evidence?.status {
            result = verdict
        }
        let timestamp = evidence?.timestamp ?? evidence?.finishedAt ?? evidence?.startedAt
        return .init(evidencePath: path, recordedSHA256: receipt.evidenceSHA256, intact: intact, result: result, timestamp: timestamp)
    }
}
