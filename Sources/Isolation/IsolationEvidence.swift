import FrostbyteCore
import FrostbyteCrypto
import BundleFormat
import FoundationEssentials
import Glibc

/// The evidence document of one isolation run (schema in docs/TENANT_ISOLATION.md):
/// who checked what, on which host and engine, every check, a summary and the
/// overall result. Encoded with sorted keys, so the same run gives the same bytes
/// and its SHA-256 identifies it in the install receipt.
public struct IsolationEvidence: Codable, Sendable, Equatable {
    /// The schema identifier of this document's format.
    public static let schemaV1 = "frostbyte-bundle/isolation-evidence/1"

    public var schema: String
    public var tool: Tool
    public var runID: String
    public var bundleId: String?
    public var project: String
    public var prefix: String?
    public var host: Host
    public var engine: Engine
    public var startedAt: String
    public var finishedAt: String
    public var durationSeconds: Double
    public var checks: [IsolationCheck]
    public var summary: Summary
    /// `pass` when no check failed (warnings allowed), else `fail`.
    public var result: String

    enum CodingKeys: String, CodingKey {
        case schema, tool, project, prefix, host, engine, checks, summary, result
        case runID = "run_id"
        case bundleId = "bundle_id"
        case startedAt = "started_at"
        case finishedAt = "finished_at"
        case durationSeconds = "duration_seconds"
    }

    /// True when no check failed.
    public var passed: Bool { result == "pass" }

    /// The tool that produced the document.
    public struct Tool: Codable, Sendable, Equatable {
        public var name: String
        public var version: String
    }

    /// The machine the checks ran on.
    public struct Host: Codable, Sendable, Equatable {
        public var hostname: String
        public var kernel: String
        public var os: String
    }

    /// The Docker engine and host firewall the checks ran against.
    public struct Engine: Codable, Sendable, Equatable {
        public var version: String
        public var apiVersion: String
        /// `iptables`/`nftables` (Engine >= 28 reports it), else the iptables binary's backend.
        public var firewallBackend: String
        /// Docker's filter chains for IPv4 are present.
        public var iptables: Bool
        /// Docker's filter chains for IPv6 are present.
        public var ip6tables: Bool
        enum CodingKeys: String, CodingKey {
            case version, iptables, ip6tables
            case apiVersion = "api_version"
            case firewallBackend = "firewall_backend"
        }
    }

    /// Counts per status.
    public struct Summary: Codable, Sendable, Equatable {
        public var pass: Int
        public var fail: Int
        public var warn: Int
        public var info: Int
        public var total: Int

        public init(_ checks: [IsolationCheck]) {
            pass = checks.filter { $0.status == .pass }.count
            fail = checks.filter { $0.status == .fail }.count
            warn = checks.filter { $0.status == .warn }.count
            info = checks.filter { $0.status == .info }.count
            total = checks.count
        }
    }

    /// The document's bytes: sorted keys, 2-space indent, trailing newline.
    public func encoded() throws -> Data { try DeterministicJSON.encode(self) }

    /// Writes the document to `path` atomically (temporary file in the same folder,
    /// fsync, rename; the folder is created when missing) and returns the SHA-256 of
    /// the bytes written, which `sha256sum <path>` reproduces.
    /// - Throws: `IsolationError.evidenceWrite` naming the path.
    @discardableResult
    public func write(to path: String) throws -> SHA256Digest {
        let data = try encoded()
        try IsolationFiles.writeAtomically(data, to: path)
        return SHA256Hasher.hash(data)
    }

    /// Decodes a document written by `write(to:)`.
    public static func decode(_ data: Data) throws -> IsolationEvidence {
        try JSONDecoder().decode(IsolationEvidence.self, from: data)
    }
}
