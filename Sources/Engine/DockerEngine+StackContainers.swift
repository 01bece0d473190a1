import FrostbyteCore
import FoundationEssentials

/// A running container of a Swarm stack's task on this engine (this node).
public struct StackContainer: Sendable, Equatable {
    public var id: String
    /// The stack (`com.docker.stack.namespace`).
    public var stack: String
    /// The service's full name, `<stack>_<service>` (`com.docker.swarm.service.name`).
    public var service: String
    /// The image ID the container runs (`sha256:…`).
    public var imageID: String

    public init(id: String, stack: String, service: String, imageID: String) {
        self.id = id; self.stack = stack; self.service = service; self.imageID = imageID
    }
}

extension DockerEngine {
    /// The running containers of Swarm stack tasks on this node (of `stack` only, when
    /// given), read from the local engine: a worker node can answer this, it needs no
    /// manager.
    /// - Throws: `CommandError.failed` with docker's stderr.
    public func runningStackContainers(stack: String? = nil) throws -> [StackContainer] {
        let filter = "label=com.docker.stack.namespace\(stack.map { "=\($0)" } ?? "")"
        let ids = try check(["ps", "--no-trunc", "-q", "--filter", "status=running", "--filter", filter])
            .split(separator: "\n").map(String.init)
        guard !ids.isEmpty else { return [] }
        let format = "{{.Id}}\t{{index .Config.Labels \"com.docker.stack.namespace\"}}\t{{index .Config.Labels \"com.docker.swarm.service.name\"}}\t{{.Image}}"
        // A container that stopped between the two calls is left out, not an error.
        let result = try run(["inspect", "--type", "container", "--format", format] + ids)
        return result.output.split(separator: "\n").compactMap { line in
            let fields = line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
            guard fields.count == 4, !fields[1].isEmpty, !fields[2].isEmpty else { return nil }
            return StackContainer(id: fields[0], stack: fields[1], service: fields[2], imageID: fields[3])
        }
    }
}
