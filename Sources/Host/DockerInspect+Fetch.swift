import BundleFormat
import Foundation

/// Errors reading Docker's state.
public enum DockerInspectError: UserFacingError, Equatable {
    /// The engine does not answer (not running, or no permission on its socket).
    case engineUnreachable(detail: String)
    /// The CLI printed something that is not the JSON the Engine API documents.
    case unreadableOutput(command: String, detail: String)

    public var message: String {
        switch self {
        case .engineUnreachable(let detail):
            return "the Docker engine does not answer (\(detail)); start dockerd (scripts/setup) and run as root"
        case .unreadableOutput(let command, let detail):
            return "'\(command)' printed output this tool cannot read (\(detail)); check the docker CLI version"
        }
    }

    public var exitStatus: ExitStatus { .environment }
}

/// Reads containers, networks and engine facts through the docker CLI (never through
/// a shell), each call bounded by `timeout`. The CLI is `$DOCKER` when set, else
/// `docker` on PATH.
public struct DockerInspector: Sendable {
    public var docker: String
    public var timeout: Double

    public init(docker: String? = nil, timeout: Double = 20) {
        self.docker = docker ?? ProcessInfo.processInfo.environment["DOCKER"] ?? "docker"
        self.timeout = timeout
    }

    /// Engine version, API version, kernel, firewall backend.
    /// - Throws: `DockerInspectError.engineUnreachable` when `docker info` fails.
    public func engineInfo() throws -> DockerEngineInfo {
        let result = try CommandRunner.run([docker, "info", "--format", "{{json .}}"], timeout: timeout)
        guard result.status == 0 else {
            throw DockerInspectError.engineUnreachable(detail: result.errorOutput.isEmpty
                ? "docker info exited with status \(result.status)" : result.errorOutput)
        }
        var info = try decode(DockerEngineInfo.self, from: result.stdout, command: "docker info")
        if info.serverVersion.isEmpty {
            throw DockerInspectError.engineUnreachable(detail: "docker info reports no server version")
        }
        let api = try? CommandRunner.run(
            [docker, "version", "--format", "{{.Server.APIVersion}}"], timeout: timeout)
        if let api, api.status == 0 { info.apiVersion = api.output }
        return info
    }

    /// IDs of containers (running or not) carrying label `key` (any value) or `key=value`.
    public func containerIDs(label: String, value: String? = nil) throws -> [String] {
        let filter = value.map { "label=\(label)=\($0)" } ?? "label=\(label)"
        let output = try CommandRunner.check(
            [docker, "ps", "-a", "-q", "--no-trunc", "--filter", filter], timeout: timeout)
        return output.split(whereSeparator: \.isNewline).map(String.init)
    }

    /// IDs of networks carrying label `key` (any value) or `key=value`.
    public func networkIDs(label: String, value: String? = nil) throws -> [String] {
        let filter = value.map { "label=\(label)=\($0)" } ?? "label=\(label)"
        let output = try CommandRunner.check(
            [docker, "network", "ls", "-q", "--no-trunc", "--filter", filter], timeout: timeout)
        return output.split(whereSeparator: \.isNewline).map(String.init)
    }

    /// `docker container inspect` of `ids` in one call; containers that vanished
    /// between listing and inspecting are left out.
    public func containers(_ ids: [String]) throws -> [DockerContainer] {
        try inspect(ids, kind: "container", as: DockerContainer.self)
    }

    /// `docker network inspect` of `ids` (IDs or names) in one call; networks that
    /// vanished are left out.
    public func networks(_ ids: [String]) throws -> [DockerNetwork] {
        try inspect(ids, kind: "network", as: DockerNetwork.self)
    }

    private func inspect<T: Decodable>(_ ids: [String], kind: String, as type: T.Type) throws -> [T] {
        guard !ids.isEmpty else { return [] }
        var unique: [String] = []
        for id in ids where !unique.contains(id) { unique.append(id) }
        let command = [docker, kind, "inspect"] + unique
        let result = try CommandRunner.run(command, timeout: timeout)
        // Status 1 with "No such ..." for some IDs still prints the others.
        if result.status != 0 && result.stdout.isEmpty {
            if result.errorOutput.contains("No such") { return [] }
            throw CommandError.failed(
                command: command.joined(separator: " "), status: result.status, stderr: result.errorOutput)
        }
        return try decode([T].self, from: result.stdout, command: "docker \(kind) inspect")
    }

    private func decode<T: Decodable>(_ type: T.Type, from data: Data, command: String) throws -> T {
        do {
            return try JSONDecoder().decode(T.self, from: data)
        } catch {
            throw DockerInspectError.unreadableOutput(command: command, detail: "\(error)")
        }
    }
}
