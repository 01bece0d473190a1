import FrostbyteCore
import FoundationEssentials
import Glibc
import Synchronization

extension DockerEngine {
    private static let cache = Mutex<[String: DockerEngineInfo]>([:])

    /// The engine's versions, image store, firewall backend and data root: the one
    /// capability query of the tool (`docker info` + `docker version`), asked once per
    /// process for each CLI and `DOCKER_HOST`.
    /// - Throws: `CommandError.notFound` (no docker CLI), `DockerEngineError.engineUnreachable`.
    public func capabilities() throws -> DockerEngineInfo {
        let key = "\(docker)|\(ProcessInfo.processInfo.environment["DOCKER_HOST"] ?? "")"
        if let cached = Self.cache.withLock({ $0[key] }) { return cached }
        // The API version is asked for while `docker info` runs.
        let engine = self
        let apiWork = BackgroundWork { try? engine.run(["version", "--format", "{{.Server.APIVersion}}"]) }
        let result = try run(["info", "--format", "{{json .}}"])
        guard result.status == 0 else {
            throw DockerEngineError.engineUnreachable(detail: result.errorOutput.isEmpty
                ? "docker info exited with status \(result.status)" : result.errorOutput)
        }
        var info = try decode(DockerEngineInfo.self, from: result.stdout, command: "docker info")
        if info.serverVersion.isEmpty {
            // docker info prints the client half and a server error when the engine is down.
            let detail = result.errorOutput.isEmpty ? "docker info reports no server version" : result.errorOutput
            throw DockerEngineError.engineUnreachable(detail: detail)
        }
        if let api = (try? apiWork.join()) ?? nil, api.status == 0 { info.apiVersion = api.output }
        Self.cache.withLock { $0[key] = info }
        return info
    }

    /// The version of the Compose v2 plugin (`docker compose version --short`, without
    /// a leading `v`), or nil when the plugin is missing or fails.
    public func composeVersion() -> String? {
        guard let result = try? run(["compose", "version", "--short"], timeout: 30),
              result.status == 0, !result.output.isEmpty else { return nil }
        return result.output.hasPrefix("v") ? String(result.output.dropFirst()) : result.output
    }
}

extension DockerEngine {
    /// The version a standalone Compose v1 (`docker-compose version --short`) reports,
    /// so a v1-only host is told what it has; nil when there is none.
    public func legacyComposeVersion() -> String? {
        guard let result = try? CommandRunner.run(["docker-compose", "version", "--short"], timeout: 30),
              result.status == 0 else { return nil }
        return result.output
    }
}
