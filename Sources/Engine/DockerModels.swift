import FoundationEssentials
import Glibc

// Codable views of what `docker container inspect`, `docker network inspect`,
// `docker info` and `docker version` print as JSON. Only the fields the isolation
// checker and status read are modelled; every field is optional or defaulted so a
// newer or older engine that omits one still decodes. Field names follow the
// Engine API (https://docs.docker.com/reference/api/engine/).

/// One container as `docker container inspect` reports it.
public struct DockerContainer: Decodable, Sendable, Equatable {
    public var id: String
    /// The container name without Docker's leading slash.
    public var name: String
    /// The image ID (`sha256:...`) the container was created from.
    public var image: String
    public var config: Config
    public var state: State
    public var hostConfig: HostConfig
    public var networkSettings: NetworkSettings

    enum CodingKeys: String, CodingKey {
        case id = "Id", name = "Name", image = "Image", config = "Config", state = "State"
        case hostConfig = "HostConfig", networkSettings = "NetworkSettings"
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        id = try c.decode(String.self, forKey: .id)
        let raw = try c.decodeIfPresent(String.self, forKey: .name) ?? ""
        name = raw.hasPrefix("/") ? String(raw.dropFirst()) : raw
        image = try c.decodeIfPresent(String.self, forKey: .image) ?? ""
        config = try c.decodeIfPresent(Config.self, forKey: .config) ?? Config()
        state = try c.decodeIfPresent(State.self, forKey: .state) ?? State()
        hostConfig = try c.decodeIfPresent(HostConfig.self, forKey: .hostConfig) ?? HostConfig()
        networkSettings = try c.decodeIfPresent(NetworkSettings.self, forKey: .networkSettings)
            ?? NetworkSettings()
    }

    /// The value of label `key`, if set.
    public func label(_ key: String) -> String? { config.labels[key] }

    /// `Config`: the image reference as written and the labels.
    public struct Config: Decodable, Sendable, Equatable {
        /// The image reference the container was created with (`name:tag`).
        public var image: String = ""
        public var labels: [String: String] = [:]
        enum CodingKeys: String, CodingKey { case image = "Image", labels = "Labels" }
        init() {}
        public init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            image = try c.decodeIfPresent(String.self, forKey: .image) ?? ""
            labels = try c.decodeIfPresent([String: String].self, forKey: .labels) ?? [:]
        }
    }

    /// `State`: whether it runs and the PID of its init process on the host.
    public struct State: Decodable, Sendable, Equatable {
        public var status: String = ""
        public var running: Bool = false
        /// Host PID of the container's first process; 0 when not running.
        public var pid: Int32 = 0
        enum CodingKeys: String, CodingKey { case status = "Status", running = "Running", pid = "Pid" }
        init() {}
        public init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            status = try c.decodeIfPresent(String.self, forKey: .status) ?? ""
            running = try c.decodeIfPresent(Bool.self, forKey: .running) ?? false
            pid = try c.decodeIfPresent(Int32.self, forKey: .pid) ?? 0
        }
    }

    /// `HostConfig`: privilege and namespace sharing, declared port bindings.
    public struct HostConfig: Decodable, Sendable, Equatable {
        public var privileged: Bool = false
        /// `host`, `none`, `bridge`, `container:<id>` or a network name.
        public var networkMode: String = ""
        /// `host` when the container shares the host's PID namespace.
        public var pidMode: String = ""
        /// `host` when the container shares the host's IPC namespace.
        public var ipcMode: String = ""
        /// Declared bindings (`8080/tcp` → host addresses), effective or not.
        public var portBindings: [String: [PortBinding]] = [:]
        enum CodingKeys: String, CodingKey {
            case privileged = "Privileged", networkMode = "NetworkMode", pidMode = "PidMode"
            case ipcMode = "IpcMode", portBindings = "PortBindings"
        }
        init() {}
        public init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            privileged = try c.decodeIfPresent(Bool.self, forKey: .privileged) ?? false
            networkMode = try c.decodeIfPresent(String.self, forKey: .networkMode) ?? ""
            pidMode = try c.decodeIfPresent(String.self, forKey: .pidMode) ?? ""
            ipcMode = try c.decodeIfPresent(String.self, forKey: .ipcMode) ?? ""
            let bindings = try c.decodeIfPresent([String: [PortBinding]?].self, forKey: .portBindings) ?? [:]
            portBindings = bindings.compactMapValues { $0 }
        }
    }

    /// One host address and port a container port is published on.
    public struct PortBinding: Decodable, Sendable, Equatable {
        public var hostIP: String
        public var hostPort: String
        enum CodingKeys: String, CodingKey { case hostIP = "HostIp", hostPort = "HostPort" }
        public init(hostIP: String, hostPort: String) { self.hostIP = hostIP; self.hostPort = hostPort }
        public init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            hostIP = try c.decodeIfPresent(String.self, forKey: .hostIP) ?? ""
            hostPort = try c.decodeIfPresent(String.self, forKey: .hostPort) ?? ""
        }
    }

    /// `NetworkSettings`: effective published ports and the attached networks.
    public struct NetworkSettings: Decodable, Sendable, Equatable {
        /// Effective bindings (`8080/tcp` → host addresses); nil values mean exposed only.
        public var ports: [String: [PortBinding]] = [:]
        /// Network name → endpoint.
        public var networks: [String: Endpoint] = [:]
        enum CodingKeys: String, CodingKey { case ports = "Ports", networks = "Networks" }
        init() {}
        public init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            let ports = try c.decodeIfPresent([String: [PortBinding]?].self, forKey: .ports) ?? [:]
            self.ports = ports.compactMapValues { $0 }
            networks = try c.decodeIfPresent([String: Endpoint].self, forKey: .networks) ?? [:]
        }
    }

    /// A container's endpoint on one network.
    public struct Endpoint: Decodable, Sendable, Equatable {
        public var networkID: String = ""
        public var ipAddress: String = ""
        public var gateway: String = ""
        public var aliases: [String] = []
        enum CodingKeys: String, CodingKey {
            case networkID = "NetworkID", ipAddress = "IPAddress", gateway = "Gateway", aliases = "Aliases"
        }
        public init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            networkID = try c.decodeIfPresent(String.self, forKey: .networkID) ?? ""
            ipAddress = try c.decodeIfPresent(String.self, forKey: .ipAddress) ?? ""
            gateway = try c.decodeIfPresent(String.self, forKey: .gateway) ?? ""
            aliases = try c.decodeIfPresent([String].self, forKey: .aliases) ?? []
        }
    }
}

/// One network as `docker network inspect` reports it.
public struct DockerNetwork: Decodable, Sendable, Equatable {
    public var id: String
    public var name: String
    public var driver: String
    public var enableIPv6: Bool
    public var `internal`: Bool
    /// IPAM configuration: one entry per subnet.
    public var ipamConfig: [IPAMConfig]
    public var options: [String: String]
    public var labels: [String: String]
    /// Container ID → attachment.
    public var containers: [String: Attachment]

    enum CodingKeys: String, CodingKey {
        case id = "Id", name = "Name", driver = "Driver", enableIPv6 = "EnableIPv6"
        case `internal` = "Internal", ipam = "IPAM", options = "Options", labels = "Labels"
        case containers = "Containers"
    }
    enum IPAMKeys: String, CodingKey { case config = "Config" }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        id = try c.decode(String.self, forKey: .id)
        name = try c.decodeIfPresent(String.self, forKey: .name) ?? ""
        driver = try c.decodeIfPresent(String.self, forKey: .driver) ?? ""
        enableIPv6 = try c.decodeIfPresent(Bool.self, forKey: .enableIPv6) ?? false
        `internal` = try c.decodeIfPresent(Bool.self, forKey: .internal) ?? false
        if let ipam = try? c.nestedContainer(keyedBy: IPAMKeys.self, forKey: .ipam) {
            ipamConfig = try ipam.decodeIfPresent([IPAMConfig]?.self, forKey: .config).flatMap { $0 } ?? []
        } else {
            ipamConfig = []
        }
        options = try c.decodeIfPresent([String: String]?.self, forKey: .options).flatMap { $0 } ?? [:]
        labels = try c.decodeIfPresent([String: String]?.self, forKey: .labels).flatMap { $0 } ?? [:]
        containers = try c.decodeIfPresent([String: Attachment]?.self, forKey: .containers).flatMap { $0 } ?? [:]
    }

    /// The Linux bridge interface behind a bridge-driver network: the
    /// `com.docker.network.bridge.name` option, else Docker's `br-<first 12 of id>`.
    public var bridgeInterface: String {
        if let name = options["com.docker.network.bridge.name"], !name.isEmpty { return name }
        if name == "bridge" { return "docker0" }
        return "br-\(id.prefix(12))"
    }

    /// The IPv4 subnets of the network.
    public var ipv4Subnets: [String] { ipamConfig.map(\.subnet).filter { $0.contains(".") } }

    /// The value of label `key`, if set.
    public func label(_ key: String) -> String? { labels[key] }

    /// One IPAM pool.
    public struct IPAMConfig: Decodable, Sendable, Equatable {
        public var subnet: String
        /// Empty when Docker picked the gateway itself and did not record it (Engine 20.10).
        public var gateway: String
        enum CodingKeys: String, CodingKey { case subnet = "Subnet", gateway = "Gateway" }
        public init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            subnet = try c.decodeIfPresent(String.self, forKey: .subnet) ?? ""
            gateway = try c.decodeIfPresent(String.self, forKey: .gateway) ?? ""
        }
    }

    /// A container attached to the network.
    public struct Attachment: Decodable, Sendable, Equatable {
        public var name: String
        /// `10.0.0.2/24`, or empty.
        public var ipv4Address: String
        enum CodingKeys: String, CodingKey { case name = "Name", ipv4Address = "IPv4Address" }
        public init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            name = try c.decodeIfPresent(String.self, forKey: .name) ?? ""
            ipv4Address = try c.decodeIfPresent(String.self, forKey: .ipv4Address) ?? ""
        }
    }
}

/// Where the engine keeps images: graphdriver engines identify an image by its
/// config digest; the containerd image store (the default of fresh Docker 29
/// installs) by its manifest (or index) digest.
public enum ImageStore: Sendable, Equatable, Codable {
    case graphdriver(String)
    case containerd(snapshotter: String)

    /// `overlay2`, or `containerd (overlayfs)`.
    public var description: String {
        switch self {
        case .graphdriver(let driver): return driver
        case .containerd(let snapshotter): return "containerd (\(snapshotter))"
        }
    }

    public var isContainerd: Bool {
        if case .containerd = self { return true }
        return false
    }
}

/// What the engine is and can do, from one `docker info` + `docker version`
/// (`DockerEngine.capabilities()`): versions, image store, firewall backend,
/// data root, and the features that change how a stack is driven.
public struct DockerEngineInfo: Decodable, Sendable, Equatable {
    /// Engine version as reported, e.g. `20.10.24+dfsg1` or `28.2.2`.
    public var serverVersion: String
    public var apiVersion: String
    public var kernelVersion: String
    public var operatingSystem: String
    /// `iptables` or `nftables` on Engine >= 28.x that reports it; empty before.
    public var firewallBackend: String
    public var ipv4Forwarding: Bool
    /// The engine's data root (`/var/lib/docker`).
    public var dockerRootDir: String
    public var imageStore: ImageStore

    public init(
        serverVersion: String, apiVersion: String = "", kernelVersion: String = "",
        operatingSystem: String = "", firewallBackend: String = "", ipv4Forwarding: Bool = true,
        dockerRootDir: String = "/var/lib/docker", imageStore: ImageStore = .graphdriver("overlay2")
    ) {
        self.serverVersion = serverVersion; self.apiVersion = apiVersion
        self.kernelVersion = kernelVersion; self.operatingSystem = operatingSystem
        self.firewallBackend = firewallBackend; self.ipv4Forwarding = ipv4Forwarding
        self.dockerRootDir = dockerRootDir; self.imageStore = imageStore
    }

    enum CodingKeys: String, CodingKey {
        case serverVersion = "ServerVersion", kernelVersion = "KernelVersion"
        case operatingSystem = "OperatingSystem", firewallBackend = "FirewallBackend"
        case ipv4Forwarding = "IPv4Forwarding", dockerRootDir = "DockerRootDir"
        case driver = "Driver", driverStatus = "DriverStatus"
    }
    enum BackendKeys: String, CodingKey { case driver = "Driver" }

    /// Decodes `docker info --format '{{json .}}'`; `apiVersion` is filled from
    /// `docker version` by the caller.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        serverVersion = try c.decodeIfPresent(String.self, forKey: .serverVersion) ?? ""
        kernelVersion = try c.decodeIfPresent(String.self, forKey: .kernelVersion) ?? ""
        operatingSystem = try c.decodeIfPresent(String.self, forKey: .operatingSystem) ?? ""
        ipv4Forwarding = try c.decodeIfPresent(Bool.self, forKey: .ipv4Forwarding) ?? true
        dockerRootDir = try c.decodeIfPresent(String.self, forKey: .dockerRootDir) ?? ""
        // Engine 28 reports {"FirewallBackend": {"Driver": "iptables"}}.
        if let backend = try? c.nestedContainer(keyedBy: BackendKeys.self, forKey: .firewallBackend) {
            firewallBackend = try backend.decodeIfPresent(String.self, forKey: .driver) ?? ""
        } else {
            firewallBackend = ""
        }
        // The containerd store reports the snapshotter as Driver and
        // ["driver-type", "io.containerd.snapshotter.v1"] in DriverStatus.
        let driver = try c.decodeIfPresent(String.self, forKey: .driver) ?? ""
        let status = (try? c.decodeIfPresent([[String]].self, forKey: .driverStatus)) ?? nil
        let containerd = (status ?? []).contains { pair in pair.contains { $0.hasPrefix("io.containerd.snapshotter") } }
        imageStore = containerd ? .containerd(snapshotter: driver) : .graphdriver(driver)
        apiVersion = ""
    }

    /// Major and minor of `serverVersion` (`20.10.24+dfsg1` → (20, 10)); nil if unparsable.
    public var majorMinor: (major: Int, minor: Int)? {
        let parts = serverVersion.split(whereSeparator: { !$0.isNumber }).prefix(2).compactMap { Int($0) }
        guard parts.count == 2 else { return nil }
        return (parts[0], parts[1])
    }

    /// True when the engine is at least `major.minor`.
    public func isAtLeast(_ major: Int, _ minor: Int = 0) -> Bool {
        guard let version = majorMinor else { return false }
        return version.major > major || (version.major == major && version.minor >= minor)
    }

    /// Engine >= 28.0 knows `com.docker.network.bridge.gateway_mode_ipv4`
    /// (nat, routed, isolated, nat-unprotected).
    public var supportsGatewayModes: Bool { isAtLeast(28) }

    /// Engine >= 25.0 gives internal networks no default route.
    public var internalNetworksHaveNoDefaultRoute: Bool { isAtLeast(25) }
}
