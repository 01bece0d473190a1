import FrostbyteCore
import FoundationEssentials
import Glibc

extension DockerEngine {
    /// Where the CLI talks to the engine: `$DOCKER_HOST` when set, else Docker's
    /// default socket. For messages that name the engine.
    public var endpoint: String {
        ProcessInfo.processInfo.environment["DOCKER_HOST"].flatMap { $0.isEmpty ? nil : $0 }
            ?? "unix:///var/run/docker.sock"
    }

    /// True when the engine answers now (`docker version` reports a server version
    /// within `timeout` seconds). Never cached, unlike `capabilities()`: for telling
    /// an engine that died from a command that failed.
    public func answers(timeout: Double = 10) -> Bool {
        guard let result = try? run(["version", "--format", "{{.Server.Version}}"], timeout: timeout) else { return false }
        return result.status == 0 && !result.output.isEmpty
    }
}
