import BundleFormat
import Foundation

/// One docker network as `docker network inspect` reports it.
public struct DockerNetworkInfo: Sendable, Equatable {
    public var id: String
    public var name: String
    public var subnets: [String]
    public var labels: [String: String]
    public var isInternal: Bool
    /// The Linux bridge behind it (`br-<id12>` unless the driver option names one).
    public var bridge: String?
}

/// Read-only questions to the host: docker objects by label, networks, routes, free
/// space. Nothing here changes the host.
public enum HostProbe {
    /// Every docker network with its subnets and labels.
    public static func networks() throws -> [DockerNetworkInfo] {
        let ids = try CommandRunner.check(["docker", "network", "ls", "-q", "--no-trunc"], timeout: 60)
            .split(separator: "\n").map(String.init)
        guard !ids.isEmpty else { return [] }
        return try inspectNetworks(ids).map { object in
            let id = object["Id"] as? String ?? ""
            let ipam = object["IPAM"] as? [String: Any]
            let configs = ipam?["Config"] as? [[String: Any]] ?? []
            let options = object["Options"] as? [String: String] ?? [:]
            let driver = object["Driver"] as? String ?? ""
            var bridge: String?
            if driver == "bridge" {
                bridge = options["com.docker.network.bridge.name"] ?? (object["Name"] as? String == "bridge" ? "docker0" : "br-\(id.prefix(12))")
            }
            return DockerNetworkInfo(
                id: id, name: object["Name"] as? String ?? "",
                subnets: configs.compactMap { $0["Subnet"] as? String },
                labels: object["Labels"] as? [String: String] ?? [:],
                isInternal: object["Internal"] as? Bool ?? false, bridge: bridge)
        }
    }

    /// `docker network inspect` of `ids`, one JSON object per network found. A network
    /// removed between the listing and the inspect (another project tearing down) is
    /// skipped: when the batch fails, each id is inspected on its own and only a
    /// not-found answer is tolerated.
    private static func inspectNetworks(_ ids: [String]) throws -> [[String: Any]] {
        func objects(_ data: Data) -> [[String: Any]] {
            (try? JSONSerialization.jsonObject(with: data) as? [[String: Any]]) ?? []
        }
        let batch = try CommandRunner.run(["docker", "network", "inspect"] + ids, timeout: 60)
        if batch.status == 0 { return objects(batch.stdout) }
        var found: [[String: Any]] = []
        for id in ids {
            let one = try CommandRunner.run(["docker", "network", "inspect", id], timeout: 60)
            if one.status == 0 {
                found += objects(one.stdout)
            } else if !DockerInspector.isNotFound(one.errorOutput) {
                throw CommandError.failed(command: "docker network inspect \(id)", status: one.status,
                                          stderr: one.errorOutput)
            }
        }
        return found
    }

    /// Labels of every container (stopped ones too) carrying `label=value`.
    public static func containerLabels(label: String, value: String) throws -> [[String: String]] {
        let ids = try CommandRunner.check(
            ["docker", "ps", "-a", "-q", "--no-trunc", "--filter", "label=\(label)=\(value)"], timeout: 60)
            .split(separator: "\n").map(String.init)
        guard !ids.isEmpty else { return [] }
        let json = try CommandRunner.check(["docker", "inspect", "--type", "container"] + ids, timeout: 60)
        let array = (try? JSONSerialization.jsonObject(with: Data(json.utf8)) as? [[String: Any]]) ?? []
        return array.map { ($0["Config"] as? [String: Any])?["Labels"] as? [String: String] ?? [:] }
    }

    /// IDs of docker objects of `kind` (container, network, volume) carrying `label=value`.
    public static func objectIDs(_ kind: String, label: String, value: String) throws -> [String] {
        var arguments: [String]
        switch kind {
        case "container": arguments = ["docker", "ps", "-a", "-q", "--no-trunc"]
        case "network": arguments = ["docker", "network", "ls", "-q", "--no-trunc"]
        default: arguments = ["docker", "volume", "ls", "-q"]
        }
        arguments += ["--filter", "label=\(label)=\(value)"]
        return try CommandRunner.check(arguments, timeout: 60).split(separator: "\n").map(String.init)
    }

    /// Labels of every volume carrying `label=value`, keyed by volume name.
    public static func volumeLabels(label: String, value: String) throws -> [String: [String: String]] {
        let names = try objectIDs("volume", label: label, value: value)
        guard !names.isEmpty else { return [:] }
        let json = try CommandRunner.check(["docker", "volume", "inspect"] + names, timeout: 60)
        let array = (try? JSONSerialization.jsonObject(with: Data(json.utf8)) as? [[String: Any]]) ?? []
        var result: [String: [String: String]] = [:]
        for object in array {
            result[object["Name"] as? String ?? ""] = object["Labels"] as? [String: String] ?? [:]
        }
        return result
    }

    /// One route of the host's main table.
    public struct Route: Sendable, Equatable {
        public var destination: String
        public var device: String
    }

    /// The host's IPv4 routes (`ip -j route show`), the default route left out.
    public static func routes() throws -> [Route] {
        let json = try CommandRunner.check(["ip", "-j", "-4", "route", "show"], timeout: 30)
        let array = (try? JSONSerialization.jsonObject(with: Data(json.utf8)) as? [[String: Any]]) ?? []
        return array.compactMap { object in
            guard let destination = object["dst"] as? String, destination != "default" else { return nil }
            return Route(destination: destination.contains("/") ? destination : "\(destination)/32",
                         device: object["dev"] as? String ?? "")
        }
    }

    /// Free bytes for unprivileged-and-root writers on the filesystem holding `path`
    /// (or its nearest existing ancestor), and that filesystem's device number.
    public static func freeSpace(at path: String) -> (bytes: Int64, device: UInt64)? {
        var candidate = path
        while !FileManager.default.fileExists(atPath: candidate) {
            let parent = (candidate as NSString).deletingLastPathComponent
            if parent == candidate || parent.isEmpty { return nil }
            candidate = parent
        }
        var stats = statvfs()
        var info = stat()
        guard statvfs(candidate, &stats) == 0, stat(candidate, &info) == 0 else { return nil }
        return (Int64(stats.f_bavail) * Int64(stats.f_frsize), UInt64(info.st_dev))
    }
}
