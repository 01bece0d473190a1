import FrostbyteCore

/// What `init` is asked to draft.
public struct InitRequest: Sendable {
    /// Absolute path of the compose file.
    public var composePath: String
    /// Absolute path the spec will be written to (its folder anchors `compose:`).
    public var specPath: String
    /// `--name`: the bundle name (default: from the project).
    public var name: String?
    /// `--version` (default 0.1.0).
    public var version: String?
    /// `--profile` names; empty means `COMPOSE_PROFILES` from the environment or `.env`.
    public var profiles: [String]
    /// `--gateway SERVICE[:PORT]`: the gateway when the compose file does not make it clear.
    public var gateway: String?
    /// `--env-file`: read instead of the `.env` beside the compose file (absolute).
    public var envFile: String?

    public init(composePath: String, specPath: String, name: String? = nil, version: String? = nil,
                profiles: [String] = [], gateway: String? = nil, envFile: String? = nil) {
        self.composePath = composePath
        self.specPath = specPath
        self.name = name
        self.version = version
        self.profiles = profiles
        self.gateway = gateway
        self.envFile = envFile
    }
}

/// What `init` learned from the host, gathered by the caller (the command line asks
/// the engine through `Engine` and reads the host's routes), so drafting itself is
/// pure and testable.
public struct InitHostFacts: Sendable {
    /// The process environment (Compose's interpolation reads it before `.env`).
    public var environment: [String: String]
    /// Subnets in use: engine networks and host routes, each with who uses it.
    public var takenSubnets: [TakenSubnet]
    /// True when an engine answered (else subnets and image IDs come without it).
    public var engineReachable: Bool
    /// The engine's image ID for a reference, nil when it lacks the image.
    public var imageID: @Sendable (String) -> String?

    public init(environment: [String: String], takenSubnets: [TakenSubnet], engineReachable: Bool,
                imageID: @escaping @Sendable (String) -> String?) {
        self.environment = environment
        self.takenSubnets = takenSubnets
        self.engineReachable = engineReachable
        self.imageID = imageID
    }

    /// One subnet in use on this host.
    public struct TakenSubnet: Sendable, Equatable {
        public var network: IPv4Network
        /// "engine network bridge", "host route on eth0", ...
        public var owner: String

        public init(network: IPv4Network, owner: String) {
            self.network = network
            self.owner = owner
        }
    }
}

/// A note or an obstacle of `init`, at a place in the compose file (or the spec):
/// the same `{file, line, column, service, message}` as render's warnings.
public typealias InitFinding = HardeningWarning

/// A bundle spec drafted from a compose stack, with what the engineer must know.
/// `obstacles` empty means `render` accepts `specText` unedited (`SpecDrafter`
/// checks it by rendering); otherwise nothing should be written.
public struct SpecDraft: Sendable {
    public var name: String
    public var version: String
    public var project: String
    /// `compose:` as written in the spec (relative to the spec's folder).
    public var compose: String
    public var subnet: IPv4Network
    /// The default internal network name, `<name>-internal`.
    public var networkName: String { "\(name)-internal" }
    public var gateway: DraftGateway?
    public var images: [DraftImage]
    public var profiles: [String]
    public var files: [ReferencedFile]
    public var notes: [InitFinding]
    public var obstacles: [InitFinding]
    /// The spec text with one-line comments (empty until drafted).
    public var specText: String = ""

    /// The gateway: service, container port, health path, fixed address.
    public struct DraftGateway: Sendable, Equatable, Codable {
        public var service: String
        public var port: Int
        public var healthPath: String
        public var ipv4Address: IPv4Address
        /// Why this health path (one clause, for the spec's comment).
        public var healthSource: String
        /// Why this port.
        public var portSource: String
        /// Why this service.
        public var reason: String

        enum CodingKeys: String, CodingKey {
            case service, port, reason
            case healthPath = "health_path", ipv4Address = "ipv4_address", healthSource = "health_source", portSource = "port_source"
        }
    }

    /// One image of the spec.
    public struct DraftImage: Sendable, Equatable, Codable {
        /// The reference the bundle carries.
        public var ref: String
        /// The compose text with variables it resolves, if any.
        public var written: String?
        /// The build-only service that makes it, if any.
        public var builtBy: String?
        /// The services that use it.
        public var services: [String]
        /// How the variables resolved (`APP_VERSION=2.3 from .env`), if any.
        public var resolution: String?
        /// The local engine's image ID, when it holds the image.
        public var engineID: String?

        enum CodingKeys: String, CodingKey {
            case ref, written, services, resolution
            case builtBy = "built_by", engineID = "engine_id"
        }
    }

    /// A file or folder the compose file refers to.
    public struct ReferencedFile: Sendable, Equatable, Codable {
        public var service: String?
        /// `env_file`, `configs`, `secrets`, `bind mount`.
        public var kind: String
        /// The path as resolved (relative to the compose file's folder when relative).
        public var path: String
        /// Where it belongs in the spec.
        public var note: String
    }
}
