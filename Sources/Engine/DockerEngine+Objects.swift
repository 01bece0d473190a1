import FrostbyteCore
import FoundationEssentials
import Glibc

/// The kinds of objects a project owns, for listing and removal by label.
public enum DockerObjectKind: String, Sendable, CaseIterable {
    case container, network, volume
}

/// Objects by label: list, inspect labels, remove.
extension DockerEngine {
    /// Every network of the engine, inspected (networks removed meanwhile left out).
    public func allNetworks() throws -> [DockerNetwork] {
        let ids = try check(["network", "ls", "-q", "--no-trunc"]).split(separator: "\n").map(String.init)
        return try networks(ids)
    }

    /// IDs (names for volumes) of the objects of `kind` carrying `label=value`.
    public func objectIDs(_ kind: DockerObjectKind, label: String, value: String) throws -> [String] {
        var arguments: [String]
        switch kind {
        case .container: arguments = ["ps", "-a", "-q", "--no-trunc"]
        case .network: arguments = ["network", "ls", "-q", "--no-trunc"]
        case .volume: arguments = ["volume", "ls", "-q"]
        }
        arguments += ["--filter", "label=\(label)=\(value)"]
        return try check(arguments).split(separator: "\n").map(String.init)
    }

    /// The name of a container or network by ID (the ID itself when it is gone);
    /// a volume's ID is its name.
    public func name(of id: String, kind: DockerObjectKind) -> String {
        guard kind != .volume else { return id }
        let name = (try? check([kind.rawValue, "inspect", "--format", "{{.Name}}", id], timeout: 30)) ?? id
        return name.hasPrefix("/") ? String(name.dropFirst()) : name
    }

    /// Labels of every volume carrying `label=value`, keyed by volume name.
    public func volumeLabels(label: String, value: String) throws -> [String: [String: String]] {
        let names = try objectIDs(.volume, label: label, value: value)
        guard !names.isEmpty else { return [:] }
        struct Volume: Decodable {
            var name: String
            var labels: [String: String]?
            enum CodingKeys: String, CodingKey { case name = "Name", labels = "Labels" }
        }
        let result = try run(["volume", "inspect"] + names)
        guard result.status == 0 else {
            throw CommandError.failed(command: "\(docker) volume inspect", status: result.status, stderr: result.errorOutput)
        }
        let volumes = try decode([Volume].self, from: result.stdout, command: "docker volume inspect")
        return Dictionary(volumes.map { ($0.name, $0.labels ?? [:]) }) { $1 }
    }

    /// Removes an object by ID or name: a container with `-f` (and its anonymous
    /// volumes with `withVolumes`), a network, a volume. Returns docker's reason when
    /// it refused, nil when removed.
    @discardableResult
    public func remove(_ kind: DockerObjectKind, _ id: String, withVolumes: Bool = false) -> String? {
        let arguments: [String]
        switch kind {
        case .container: arguments = ["rm", "-f"] + (withVolumes ? ["-v"] : []) + [id]
        case .network: arguments = ["network", "rm", id]
        case .volume: arguments = ["volume", "rm", id]
        }
        guard let result = try? run(arguments, timeout: 120) else { return "docker \(arguments[0]) failed" }
        return result.status == 0 ? nil : result.errorOutput
    }

    /// Starts `docker exec CONTAINER COMMAND...` with its stdout on a pipe.
    public func startExec(container: String, _ command: [String], stderrPath: String) throws -> ChildProcess {
        try start(["exec", container] + command, stderrPath: stderrPath)
    }
}

extension DockerEngine {
    /// Running containers carrying every label of `labels` (key=value), with their
    /// compose replica number (0 when unlabelled).
    /// - Throws: `CommandError.failed` with docker's stderr.
    public func runningContainers(labels: [String: String]) throws -> [(id: String, number: Int)] {
        var arguments = ["ps", "--no-trunc", "--filter", "status=running"]
        for (key, value) in labels.sorted(by: { $0.key < $1.key }) { arguments += ["--filter", "label=\(key)=\(value)"] }
        arguments += ["--format", "{{.ID}} {{.Label \"com.docker.compose.container-number\"}}"]
        return try check(arguments).split(separator: "\n").compactMap { line in
            let fields = line.split(separator: " ").map(String.init)
            guard let id = fields.first else { return nil }
            return (id, fields.count > 1 ? Int(fields[1]) ?? 0 : 0)
        }
    }
}
