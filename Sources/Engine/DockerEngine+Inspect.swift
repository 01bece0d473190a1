import FrostbyteCore
import FoundationEssentials
import Glibc

/// Containers and networks, listed by label and inspected in batches that
/// tolerate objects vanishing meanwhile.
extension DockerEngine {
    /// IDs of containers (running or not) carrying label `key` (any value) or `key=value`.
    public func containerIDs(label: String, value: String? = nil) throws -> [String] {
        try listedContainers(label: label, value: value).map(\.id)
    }

    /// Containers (running or not) carrying label `key` (any value) or `key=value`,
    /// with their names and project labels as listed, so a container that is gone by
    /// the time it is inspected can still be named.
    public func listedContainers(label: String, value: String? = nil) throws -> [DockerListing] {
        let filter = value.map { "label=\(label)=\($0)" } ?? "label=\(label)"
        let format = "{{.ID}}\t{{.Names}}\t{{.Label \"com.docker.compose.project\"}}\t{{.Label \"io.frostbyte.project\"}}"
        let output = try check(["ps", "-a", "--no-trunc", "--filter", filter, "--format", format])
        return output.split(whereSeparator: \.isNewline).compactMap { line in
            let fields = line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
            guard let id = fields.first, !id.isEmpty else { return nil }
            let compose = fields.count > 2 ? fields[2] : ""
            let frostbyte = fields.count > 3 ? fields[3] : ""
            return DockerListing(
                id: id, name: fields.count > 1 ? fields[1] : "",
                project: compose.isEmpty ? (frostbyte.isEmpty ? nil : frostbyte) : compose)
        }
    }

    /// IDs of networks carrying label `key` (any value) or `key=value`.
    public func networkIDs(label: String, value: String? = nil) throws -> [String] {
        let filter = value.map { "label=\(label)=\($0)" } ?? "label=\(label)"
        let output = try check(["network", "ls", "-q", "--no-trunc", "--filter", filter])
        return output.split(whereSeparator: \.isNewline).map(String.init)
    }

    /// `docker container inspect` of `ids`; containers that vanished between listing
    /// and inspecting are left out (`inspectContainers` names them).
    public func containers(_ ids: [String]) throws -> [DockerContainer] {
        try inspectContainers(ids).found
    }

    /// `docker network inspect` of `ids` (IDs or names); networks that vanished are
    /// left out (`inspectNetworks` names them).
    public func networks(_ ids: [String]) throws -> [DockerNetwork] {
        try inspectNetworks(ids).found
    }

    /// `docker container inspect` of `ids`: the containers found, and the references
    /// of those that no longer exist. Never fails because some of them vanished.
    /// - Throws: `CommandError` or `DockerInspectError` for any other failure.
    public func inspectContainers(_ ids: [String]) throws -> DockerInspection<DockerContainer> {
        try inspect(ids, kind: "container")
    }

    /// `docker network inspect` of `ids`: the networks found, and the references of
    /// those that no longer exist. Never fails because some of them vanished.
    /// - Throws: `CommandError` or `DockerInspectError` for any other failure.
    public func inspectNetworks(_ ids: [String]) throws -> DockerInspection<DockerNetwork> {
        try inspect(ids, kind: "network")
    }

    /// One call for the whole list. Docker CLIs differ when some references are gone
    /// (20.10: "No such network: X", 28: "network X not found", stdout with the
    /// others or `[]`); whenever the batch reports anything but not-found errors, or
    /// its output cannot be read, each reference is inspected on its own, so one
    /// object removed by another project between listing and inspecting never fails
    /// the list.
    private func inspect<T: DockerInspectable>(_ ids: [String], kind: String) throws -> DockerInspection<T> {
        var unique: [String] = []
        for id in ids where !id.isEmpty && !unique.contains(id) { unique.append(id) }
        guard !unique.isEmpty else { return DockerInspection(found: [], vanished: []) }
        let result = try run([kind, "inspect"] + unique)
        if result.status == 0 {
            let found = try decode([T].self, from: result.stdout, command: "docker \(kind) inspect")
            return DockerInspection(found: found, vanished: unique.filter { ref in !found.contains { $0.matches(ref) } })
        }
        let errors = result.errorOutput.split(whereSeparator: \.isNewline).map(String.init)
        if !errors.isEmpty, errors.allSatisfy(Self.isNotFound),
           let found = try? JSONDecoder().decode([T].self, from: result.stdout) {
            let vanished = unique.filter { ref in !found.contains { $0.matches(ref) } }
            if !vanished.isEmpty { return DockerInspection(found: found, vanished: vanished) }
        }
        var inspection = DockerInspection<T>(found: [], vanished: [])
        for ref in unique {
            let one = try run([kind, "inspect", ref])
            if one.status == 0 {
                inspection.found += try decode([T].self, from: one.stdout, command: "docker \(kind) inspect")
            } else if Self.isNotFound(one.errorOutput) {
                inspection.vanished.append(ref)
            } else {
                throw CommandError.failed(
                    command: "\(docker) \(kind) inspect \(ref)", status: one.status, stderr: one.errorOutput)
            }
        }
        return inspection
    }
}

/// The outcome of inspecting a list of Docker objects that may change meanwhile.
public struct DockerInspection<T: Sendable>: Sendable {
    /// The objects that exist, as inspected.
    public var found: [T]
    /// The references asked for that no longer exist (removed since they were listed).
    public var vanished: [String]
}

/// A container as `docker ps` listed it, before it is inspected.
public struct DockerListing: Sendable, Equatable {
    public var id: String
    public var name: String
    /// `com.docker.compose.project`, else `io.frostbyte.project`; nil when neither is set.
    public var project: String?
}

/// An inspected object that can be matched back to the reference it was asked by.
protocol DockerInspectable: Decodable, Sendable {
    var id: String { get }
    var name: String { get }
}

extension DockerInspectable {
    /// True when `reference` (a full or short ID, or the name) designates this object.
    func matches(_ reference: String) -> Bool {
        id == reference || name == reference || (reference.count >= 12 && id.hasPrefix(reference))
    }
}

extension DockerContainer: DockerInspectable {}
extension DockerNetwork: DockerInspectable {}
