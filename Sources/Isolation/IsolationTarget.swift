import BundleFormat
import InstallationState
import FoundationEssentials
import Glibc

/// What one isolation run checks: one installed compose project and what its
/// bundle says it should look like. Built from an installation prefix
/// (`IsolationTarget.load(prefix:)`) or from live Docker state for a project name
/// alone (`IsolationTarget.discover(project:)`), in which case the comparisons
/// against the manifest are skipped and reported as such.
public struct IsolationTarget: Sendable, Equatable {
    /// Compose project name (`com.docker.compose.project`).
    public var project: String
    /// The installed bundle, when known.
    public var bundleId: String?
    /// The installation prefix, when known (evidence and firewall records go there).
    public var prefix: String?
    /// The networks the manifest declares; empty when the manifest is unknown.
    public var networks: [ExpectedNetwork]
    /// The service the host talks to, when known.
    public var gateway: Gateway?
    /// Image reference → image ID as loaded; empty when unknown.
    public var expectedImages: [String: String]
    /// False when built from `--project` alone: no manifest to compare against.
    public var hasManifest: Bool
    /// Where the installation publishes the gateway (`ADDRESS:PORT`): the gateway
    /// must be published there and nowhere else, the positive control connects there,
    /// and the project's bridges must not reach the host (the installer guards them).
    /// Nil for releases without an ingress network and for `--project`.
    public var publish: String?
    /// A Swarm stack's services (every node's, by name), nil outside Swarm. Set, the
    /// checker checks this node's tasks of the stack: overlays instead of bridges,
    /// the gateway's node firewall (`SwarmGatewayFirewall`) instead of the ingress
    /// bridge's, and peers on other nodes by name (docs/SWARM.md).
    public var swarmServices: [String]?

    /// True for a Swarm stack's target.
    public var isSwarm: Bool { swarmServices != nil }

    public init(
        project: String, bundleId: String? = nil, prefix: String? = nil,
        networks: [ExpectedNetwork] = [], gateway: Gateway? = nil,
        expectedImages: [String: String] = [:], hasManifest: Bool = false, publish: String? = nil
    ) {
        self.project = project; self.bundleId = bundleId; self.prefix = prefix
        self.networks = networks; self.gateway = gateway; self.expectedImages = expectedImages
        self.hasManifest = hasManifest; self.publish = publish
    }

    /// Where the host reaches the gateway: its published address, else its fixed one.
    public var gatewayURL: String? {
        if let publish { return GatewayIngress.url(publish: publish) }
        return gateway.map { "http://\($0.ipv4Address):\($0.port)" }
    }

    /// `http://HOST:PORT` → (HOST, PORT); nil for anything else.
    static func hostAndPort(of url: String?) -> (String, UInt16)? {
        guard let url, url.hasPrefix("http://") else { return nil }
        let rest = url.dropFirst("http://".count)
        guard let colon = rest.lastIndex(of: ":"), let port = UInt16(rest[rest.index(after: colon)...]) else { return nil }
        return (String(rest[..<colon]), port)
    }

    /// A network as the installation requires it on the host.
    public struct ExpectedNetwork: Sendable, Equatable {
        /// The compose key (`com.docker.compose.network`), e.g. `etl-internal`.
        public var name: String
        /// The subnet on this host (the manifest's, or the install's `--subnet`).
        public var subnet: String?
        public var `internal`: Bool
        public init(name: String, subnet: String?, internal: Bool) {
            self.name = name; self.subnet = subnet; self.internal = `internal`
        }
    }

    /// The gateway service at its fixed address (on this host: the receipt's IP wins
    /// over the manifest's). The manifest's own type: same fields, same meaning.
    public typealias Gateway = Manifest.Gateway
}

/// How a run probes. Defaults keep a 4-service stack well under 30 s: all probes run
/// in parallel, each bounded by its own timeout, and the whole probe phase by
/// `watchdogSeconds`.
public struct IsolationOptions: Sendable, Equatable {
    /// TCP connect timeout of every reachability probe.
    public var connectTimeout: Double = 0.5
    /// How long a DNS query waits for its reply.
    public var dnsTimeout: Double = 2
    /// How long the gateway's HTTP health request may take.
    public var httpTimeout: Double = 3
    /// Upper bound of one probe phase; a probe still running then is reported as hung.
    public var watchdogSeconds: Double = 12
    /// Bound on every external command (docker, ip, iptables, ss).
    public var commandTimeout: Double = 20
    /// Add a firewall rule on the project's bridge when the host is reachable from it,
    /// record it under `<prefix>/state/`, and re-check.
    public var fixHostExposure = false
    /// The outside name the DNS check asks for. It must not be a project service.
    public var externalName = "isolation-probe.frostbyte-bundle.example.com"
    /// TCP and UDP ports the egress canary listens on.
    public var canaryTCPPort: UInt16 = 443
    public var canaryUDPPort: UInt16 = 53
    /// Recorded in the evidence as the tool's version.
    public var toolVersion = "unknown"
    /// Other projects whose containers the cross-project probes target; nil probes
    /// every other frostbyte project on the host.
    public var crossProjects: Set<String>?
    /// Run identifier (names the canary); random when nil.
    public var runID: String?
    /// Overrides the docker CLI (else `$DOCKER` or `docker`).
    public var docker: String?

    public init() {}
}
