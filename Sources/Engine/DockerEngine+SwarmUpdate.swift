import FrostbyteCore
import FoundationEssentials
import Glibc

/// Where a service's rolling update stands (`docker service inspect`'s `UpdateStatus`),
/// and the container spec its tasks should run.
public struct SwarmServiceUpdate: Sendable, Equatable {
    public var name: String
    /// `updating`, `paused`, `completed`, `rollback_started`, `rollback_paused`,
    /// `rollback_completed`; empty when the service has no update status (never
    /// updated, or its spec was just replaced and no update has started yet).
    public var state: String
    /// When that update started (the engine's text), empty when none.
    public var startedAt: String
    /// The engine's message (`update rolled back due to failure or early termination of task …`).
    public var message: String
    /// The service's container spec as the engine prints it (its image, command,
    /// environment, labels, user, mounts, healthcheck): a task runs the service's
    /// current spec when its own prints the same.
    public var containerSpec: String

    /// True when Swarm gave up this update: it rolled (or is rolling) the service
    /// back to its previous spec, or paused it.
    public var givenUp: Bool { ["rollback_started", "rollback_paused", "rollback_completed", "paused"].contains(state) }
}

/// Rolling updates of a stack's services, asked of a manager.
extension DockerEngine {
    /// The fields of a container spec that a service and the tasks made from it print
    /// alike (the engine fills others, such as the stop grace period, only in the
    /// service's copy): what the task runs, with what, and how its health is checked.
    static let containerSpecFields =
        "{{json .Image}} {{json .Command}} {{json .Args}} {{json .Env}} {{json .Labels}} {{json .User}} {{json .Mounts}} {{json .Healthcheck}}"

    /// The update status and container spec of each service in `names` (full names);
    /// a name that does not exist is left out.
    /// - Throws: `DockerEngineError.failed`, `.unreadableOutput`.
    public func serviceUpdates(_ names: [String]) throws -> [SwarmServiceUpdate] {
        guard !names.isEmpty else { return [] }
        let format = "{{.Spec.Name}}\t{{if .UpdateStatus}}{{.UpdateStatus.State}}\t{{.UpdateStatus.StartedAt}}\t{{json .UpdateStatus.Message}}{{else}}\t\t\"\"{{end}}\t{{with .Spec.TaskTemplate.ContainerSpec}}\(Self.containerSpecFields){{end}}"
        let result = try run(["service", "inspect", "--format", format] + names)
        guard result.status == 0 || result.errorOutput.contains("no such service") else {
            throw DockerEngineError.failed(operation: "inspect the services", detail: result.errorOutput)
        }
        return try result.output.split(separator: "\n").map { line in
            let fields = line.split(separator: "\t", maxSplits: 4, omittingEmptySubsequences: false).map(String.init)
            guard fields.count == 5 else {
                throw DockerEngineError.unreadableOutput(command: "docker service inspect", detail: String(line.prefix(200)))
            }
            let message = try decode(String.self, from: Data(fields[3].utf8), command: "docker service inspect")
            return SwarmServiceUpdate(name: fields[0], state: fields[1], startedAt: fields[2], message: message,
                                      containerSpec: fields[4])
        }
    }

    /// Task ID → the container spec that task runs (the fields `SwarmServiceUpdate.containerSpec` has),
    /// for `ids` (tasks gone meanwhile are left out).
    /// - Throws: `DockerEngineError.failed`.
    public func taskContainerSpecs(_ ids: [String]) throws -> [String: String] {
        guard !ids.isEmpty else { return [:] }
        let result = try run(["inspect", "--type", "task", "--format", "{{.ID}}\t{{with .Spec.ContainerSpec}}\(Self.containerSpecFields){{end}}"] + ids)
        guard result.status == 0 || result.errorOutput.contains("No such") else {
            throw DockerEngineError.failed(operation: "inspect the tasks", detail: result.errorOutput)
        }
        var specs: [String: String] = [:]
        for line in result.output.split(separator: "\n") {
            let fields = line.split(separator: "\t", maxSplits: 1).map(String.init)
            if fields.count == 2 { specs[fields[0]] = fields[1] }
        }
        return specs
    }
}

extension DockerEngine {
    /// The tasks of several services in one call (`docker service ps --no-trunc NAME…`),
    /// by service name; a service with no task yet maps to nothing.
    /// - Throws: `DockerEngineError.failed`, `.unreadableOutput`.
    public func serviceTasks(ofEach names: [String]) throws -> [String: [SwarmTaskListing]] {
        guard !names.isEmpty else { return [:] }
        struct Named: Decodable { var Name: String }
        let result = try perform("list the tasks of \(names.joined(separator: ", "))",
                                 ["service", "ps", "--no-trunc", "--format", "{{json .}}"] + names)
        var tasks: [String: [SwarmTaskListing]] = [:]
        for line in result.output.split(separator: "\n") {
            let data = Data(line.utf8)
            let task = try decode(SwarmTaskListing.self, from: data, command: "docker service ps")
            let name = try decode(Named.self, from: data, command: "docker service ps").Name
            // A task is `<service>.<slot or node ID>`; a retried one is listed as `\_ <service>…`.
            let bare = name.hasPrefix("\\_ ") ? String(name.dropFirst(3)) : name
            if let service = names.first(where: { bare.hasPrefix("\($0).") }) { tasks[service, default: []].append(task) }
        }
        return tasks
    }
}

extension DockerEngine {
    /// Removes the services `names` in one `docker service rm`; returns docker's error
    /// text when that failed for another reason than a service being gone already.
    @discardableResult
    public func removeServices(_ names: [String]) -> String? {
        guard !names.isEmpty else { return nil }
        guard let result = try? run(["service", "rm"] + names) else { return "docker service rm did not run" }
        return result.status == 0 || Self.isNotFound(result.errorOutput) ? nil : result.errorOutput
    }
}
