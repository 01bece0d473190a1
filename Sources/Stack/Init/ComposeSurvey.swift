import FrostbyteCore
import FoundationEssentials

/// Reads a compose stack as `docker compose` would for `init`: its variables
/// (environment, then `.env`), project name, active profiles and the services
/// that run, with the images they use and the files they refer to.
struct ComposeSurvey {
    let request: InitRequest
    let document: YAMLNode
    let interpolation: ComposeInterpolation
    let envFileName: String
    var notes: [InitFinding] = []
    var obstacles: [InitFinding] = []

    init(request: InitRequest, environment: [String: String]) throws {
        self.request = request
        guard let data = FileManager.default.contents(atPath: request.composePath) else {
            throw ComposeError.unreadable(path: request.composePath, reason: "no such file or not readable")
        }
        document = try YAMLNode.parse([UInt8](data), file: request.composePath)
        guard document.mappingPairs != nil else {
            throw ComposeError.invalid(path: "(document)", expected: "a mapping with 'services'", found: document.kindName, at: document.mark)
        }
        guard let services = document["services"]?.mappingPairs, !services.isEmpty else {
            throw ComposeError.invalid(path: "services", expected: "a non-empty mapping of services", found: document["services"]?.kindName ?? "nothing", at: document.mark)
        }
        let envPath = request.envFile ?? PathText.join(PathText.deletingLastComponent(request.composePath), ".env")
        envFileName = request.envFile ?? ".env"
        var envValues: [String: String] = [:]
        if let text = FileManager.default.contents(atPath: envPath) {
            do {
                envValues = try DotEnv.parse(String(decoding: text, as: UTF8.self), environment: environment)
            } catch let failure as DotEnv.Failure {
                throw ComposeError.invalid(path: "line \(failure.line)", expected: "KEY=VALUE", found: failure.reason, at: YAMLMark(file: envPath, line: failure.line, column: 1))
            }
        } else if request.envFile != nil {
            throw ComposeError.unreadable(path: envPath, reason: "--env-file names no readable file")
        }
        interpolation = ComposeInterpolation(environment: environment, envFile: envValues)
    }

    var composeMark: YAMLMark { document.mark }

    /// `text` interpolated, or as written when it cannot be (for reading, not for images).
    func interpolated(_ text: String) -> String {
        (try? interpolation.resolve(text).text) ?? text
    }

    // MARK: - Project and profiles

    /// Compose's project name: `COMPOSE_PROJECT_NAME`, else `name:`, else the folder,
    /// lower-cased with characters Compose does not allow removed.
    var project: String {
        let folder = PathText.lastComponent(PathText.deletingLastComponent(request.composePath))
        let raw = interpolation.lookup("COMPOSE_PROJECT_NAME").0.flatMap { $0.isEmpty ? nil : $0 }
            ?? document["name"]?.scalarValue.map(interpolated) ?? folder
        let allowed = raw.lowercased().filter { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_" || $0 == "-") }
        let trimmed = String(allowed.drop { !($0.isLetter || $0.isNumber) }.prefix(63))
        return trimmed.isEmpty ? "stack" : trimmed
    }

    /// `--profile` names, else `COMPOSE_PROFILES` (comma-separated) from the environment or `.env`.
    var activeProfiles: [String] {
        if !request.profiles.isEmpty { return request.profiles }
        let text = interpolation.lookup("COMPOSE_PROFILES").0 ?? ""
        return text.split(separator: ",").map { $0.trimmed(.whitespaces) }.filter { !$0.isEmpty }
    }

    /// The services that run with the active profiles, in source order; a note for
    /// each one left out, an obstacle for a dependency on one left out.
    mutating func activeServices() -> [YAMLPair] {
        let profiles = ComposeProfiles(active: activeProfiles)
        let all = document["services"]?.mappingPairs ?? []
        do {
            let (_, profileNotes) = try profiles.select(all)
            for note in profileNotes where note.message.hasPrefix("left out") {
                let declared = (all.first { $0.key.scalarValue == note.service }).map { ComposeProfiles.profiles(of: $0.value) } ?? []
                notes.append(InitFinding(service: note.service, message: "not bundled: it runs only with profile \(declared.joined(separator: " or ")) (init --profile \(declared.first ?? "") bundles it)",
                                         at: YAMLMark(file: note.file, line: note.line, column: note.column)))
            }
        } catch let error as ComposeError {
            if case .refused(let service, let what, let why, let fix, let mark) = error {
                obstacles.append(InitFinding(service: service, message: "\(what) is refused: \(why). \(fix)", at: mark))
            } else {
                obstacles.append(InitFinding(service: nil, message: error.message, at: composeMark))
            }
        } catch {
            obstacles.append(InitFinding(service: nil, message: "\(error)", at: composeMark))
        }
        return all.filter { profiles.runs($0.value) }
    }

    // MARK: - Files

    /// Files and folders the active services and the top level refer to.
    func referencedFiles(_ services: [YAMLPair]) -> [SpecDraft.ReferencedFile] {
        var files: [SpecDraft.ReferencedFile] = []
        func add(_ service: String?, _ kind: String, _ path: String, _ note: String) {
            guard !files.contains(where: { $0.kind == kind && $0.path == path }) else { return }
            files.append(.init(service: service, kind: kind, path: path, note: note))
        }
        let templateNote = "carry it in the spec's template folder at the same path relative to docker-compose.yml (the bundle's compose file sits at its root); ship an example rather than real secrets"
        for pair in services {
            let name = pair.key.scalarValue ?? ""
            let node = pair.value
            if let envFiles = node["env_file"] {
                for item in envFiles.sequenceItems ?? [envFiles] {
                    if let path = (item.scalarValue ?? item["path"]?.scalarValue).map(interpolated) { add(name, "env_file", path, templateNote) }
                }
            }
            for item in node["volumes"]?.sequenceItems ?? [] {
                guard let source = Self.bindSource(item).map(interpolated) else { continue }
                add(name, "bind mount", source, Self.bindNote(source))
            }
        }
        for section in ["configs", "secrets"] {
            for pair in document[section]?.mappingPairs ?? [] {
                if let file = pair.value["file"]?.scalarValue.map(interpolated) { add(nil, section, file, templateNote) }
            }
        }
        return files
    }

    /// The host path of a bind mount (short syntax with a path source, long syntax `type: bind`).
    static func bindSource(_ item: YAMLNode) -> String? {
        if let text = item.scalarValue {
            let parts = ComposeHardener.splitVolumeSpec(text)
            guard parts.count >= 2, ["/", ".", "~", "$"].contains(where: { parts[0].hasPrefix($0) }) else { return nil }
            return parts[0]
        }
        guard item["type"]?.scalarValue == "bind" else { return nil }
        return item["source"]?.scalarValue
    }

    private static func bindNote(_ path: String) -> String {
        let lower = path.lowercased()
        let modelWords = ["model", "weights", "checkpoint", "embedding", "dataset", "data"]
        let modelExtensions = [".bin", ".gguf", ".onnx", ".safetensors", ".pt", ".pth", ".ckpt"]
        if modelWords.contains(where: lower.contains) || modelExtensions.contains(where: lower.hasSuffix) {
            return "looks like model or data files: list each file under the spec's models: (copied to models/ in the bundle) and mount them from there, or bake them into an image"
        }
        if path.hasPrefix("/") || path.hasPrefix("~") {
            return "a host path: it must exist on the target host too, or carry its files in the template"
        }
        return "carry it in the spec's template folder at the same path relative to docker-compose.yml"
    }
}
