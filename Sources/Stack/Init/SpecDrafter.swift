import FrostbyteCore
import FoundationEssentials

/// Why `init` cannot draft at all (bad options); every other problem is an obstacle
/// of the draft, reported together.
public struct InitError: UserFacingError, Equatable {
    public var message: String
    public var exitStatus: ExitStatus { .badInput }

    public init(_ message: String) { self.message = message }
}

/// Drafts a bundle spec from a compose stack (`frostbyte-bundle init`, docs/SPEC.md
/// "init"). Guarantees: when the returned draft has no obstacles, its `specText`
/// parses as a spec and `render` accepts it unedited (checked here by rendering);
/// otherwise `obstacles` names every problem `init` and `render` find, each at
/// its file:line:column, and the caller writes nothing.
public enum SpecDrafter {
    public static let defaultVersion = "0.1.0"

    /// - Throws: `YAMLError` (the compose file is not YAML), `ComposeError` (not a
    ///   compose file, unreadable), `InitError` (a bad option).
    public static func draft(_ request: InitRequest, facts: InitHostFacts) throws -> SpecDraft {
        if let name = request.name, !SpecPatterns.isBundleName(name) {
            throw InitError("--name '\(name)' must match [a-z0-9][a-z0-9-]* (at most 63 characters)")
        }
        if let version = request.version, !SpecPatterns.isVersion(version) {
            throw InitError("--version '\(version)' must match [0-9A-Za-z.+-]+")
        }
        var survey = try ComposeSurvey(request: request, environment: facts.environment)
        let project = survey.project
        let services = survey.activeServices()
        guard !services.isEmpty else {
            let active = survey.activeProfiles.isEmpty ? "no profile is active" : "the active profiles are \(survey.activeProfiles.joined(separator: ", "))"
            throw InitError("no service of \(request.composePath) runs: every one has profiles, and \(active); name one with --profile")
        }
        let images = survey.images(services, project: project, facts: facts)

        let gatewayCandidates = services.map { pair -> GatewayChoice.Service in
            let node = pair.value
            return .init(name: pair.key.scalarValue ?? "", node: node, mark: pair.key.mark,
                         publishedTargets: GatewayChoice.targets(node["ports"]?.sequenceItems ?? [], interpolate: survey.interpolated),
                         portsMark: node.pair("ports")?.key.mark,
                         healthcheck: GatewayChoice.healthcheckWords(node, interpolate: survey.interpolated))
        }
        let containers = services.reduce(0) { total, pair in
            let scale = [pair.value["scale"], pair.value["deploy"]?["replicas"]].compactMap { $0?.scalarValue.flatMap { Int($0) } }.max() ?? 1
            return total + max(1, scale)
        }
        let prefix = SubnetChoice.prefixLength(containers: containers)
        guard let subnet = SubnetChoice.choose(prefixLength: prefix, project: project, taken: facts.takenSubnets.map(\.network)) else {
            throw InitError("every private /\(prefix) subnet overlaps an engine network or a host route here; free one, or write network.subnet by hand")
        }
        var gateway: SpecDraft.DraftGateway?
        switch GatewayChoice.choose(gatewayCandidates, requested: request.gateway, composePath: request.composePath, documentMark: survey.composeMark) {
        case .chosen(let service, let port, let reason, let portSource, let note):
            if let note { survey.notes.append(InitFinding(service: nil, message: note, at: service.portsMark ?? service.mark)) }
            var health = "/health"
            var healthSource = "no HTTP healthcheck: /health assumed, set the path the gateway answers 200 on"
            if let url = GatewayChoice.healthcheckURL(service.healthcheck) {
                health = url.path
                healthSource = "from its healthcheck (\(service.healthcheck.first { $0.contains("://") } ?? url.path))"
                if let urlPort = url.port, urlPort != port {
                    survey.notes.append(InitFinding(service: service.name, message: "its healthcheck asks port \(urlPort), the gateway port is \(port); check health_path", at: service.node.pair("healthcheck")?.key.mark ?? service.mark))
                }
            } else {
                survey.notes.append(InitFinding(service: service.name, message: "has no HTTP healthcheck, so health_path is /health; set the path the gateway answers 200 on", at: service.node.pair("healthcheck")?.key.mark ?? service.mark))
            }
            if !SpecPatterns.isHTTPPath(health) { health = "/health" }
            gateway = .init(service: service.name, port: port, healthPath: health, ipv4Address: subnet.address(atOffset: 10),
                            healthSource: healthSource, portSource: portSource, reason: reason)
        case .none(let finding):
            survey.obstacles.append(finding)
        }

        let specFolder = PathText.deletingLastComponent(request.specPath)
        let name = request.name ?? bundleName(project)
        var draft = SpecDraft(
            name: name, version: request.version ?? defaultVersion, project: project,
            compose: relativePath(request.composePath, from: specFolder), subnet: subnet, gateway: gateway,
            images: images, profiles: request.profiles.isEmpty ? survey.activeProfiles : request.profiles,
            files: survey.referencedFiles(services), notes: survey.notes, obstacles: survey.obstacles)
        draft.specText = SpecDraftWriter.text(draft, composeFileName: PathText.lastComponent(request.composePath))
        draft.obstacles += DraftValidation.problems(of: draft, request: request, document: survey.document, services: services)
        return draft
    }

    /// A bundle name from the project: `_` and `.` become `-`, at most 63 characters.
    static func bundleName(_ project: String) -> String {
        let mapped = String(project.map { $0 == "_" || $0 == "." ? "-" : $0 }.prefix(63))
        return mapped.isEmpty ? "stack" : mapped
    }

    /// `path` relative to `folder` (both absolute), with `..` where needed.
    static func relativePath(_ path: String, from folder: String) -> String {
        let target = path.split(separator: "/").map(String.init)
        let base = folder.split(separator: "/").map(String.init)
        var common = 0
        while common < min(target.count - 1, base.count), target[common] == base[common] { common += 1 }
        let ups = Array(repeating: "..", count: base.count - common)
        return (ups + target[common...]).joined(separator: "/")
    }
}
