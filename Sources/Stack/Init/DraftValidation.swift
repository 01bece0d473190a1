import FrostbyteCore

/// Runs `render`'s own checks over a draft, so `init` reports at once, with the
/// same file:line:column messages, everything `render` would refuse: each
/// refused service setting (every key and list item, not only the first), the
/// refused top-level settings, and, when nothing else is wrong, a full render of
/// the drafted spec (whatever it refuses is reported too).
enum DraftValidation {
    static func problems(of draft: SpecDraft, request: InitRequest, document: YAMLNode, services: [YAMLPair]) -> [InitFinding] {
        var problems: [InitFinding] = []
        func add(_ error: Error) {
            let finding = finding(error, composeMark: document.mark)
            if !problems.contains(finding) && !draft.obstacles.contains(where: { $0.line == finding.line && $0.message == finding.message }) {
                problems.append(finding)
            }
        }
        // The spec as drafted; while the draft has no gateway or no image yet, a
        // stand-in (never written) lets the checks that need a spec run.
        var text = draft.specText
        if draft.images.isEmpty { text += "  - ref: frostbyte-init/stand-in:0\n" }
        if draft.gateway == nil, let first = services.first?.key.scalarValue {
            text += "gateway: {service: \(SpecDraftWriter.scalar(first)), port: 80}\n"
        }
        let spec: BundleSpec
        do {
            spec = try BundleSpec.parse(Array(text.utf8), specPath: request.specPath)
        } catch {
            add(error)
            return problems
        }
        let hardener = ComposeHardener(spec: spec)
        for pair in services {
            let name = pair.key.scalarValue ?? ""
            for setting in pair.value.mappingPairs ?? [] {
                // One list item at a time, so that every refused item is named.
                let parts = setting.value.sequenceItems.map { items in
                    items.map { YAMLPair(key: setting.key, value: YAMLNode(.sequence([$0]), mark: setting.value.mark)) }
                } ?? [setting]
                for part in parts {
                    do { try hardener.refuseUnsafeSettings(service: name, YAMLNode(.mapping([part]), mark: pair.value.mark)) } catch { add(error) }
                }
            }
        }
        for pair in document.mappingPairs ?? [] where pair.key.scalarValue != "services" {
            // Top-level keys alone, with one harmless service, so each is judged by itself.
            let probe = YAMLNode(.mapping([pair, YAMLPair(key: .string("services"), value: .mapping([]))]), mark: document.mark)
            do {
                switch pair.key.scalarValue {
                case "volumes": _ = try hardener.hardenVolumes(pair)
                case "networks": _ = try hardener.droppedNetworks(pair)
                default: _ = try hardener.harden(probe)
                }
            } catch let error as ComposeError {
                if case .invalid(let path, _, _, _) = error, path == "services" { continue }
                add(error)
            } catch { add(error) }
        }
        guard draft.obstacles.isEmpty && problems.isEmpty else { return problems }
        do {
            _ = try hardener.render()
        } catch {
            add(error)
        }
        return problems
    }

    private static func finding(_ error: Error, composeMark: YAMLMark) -> InitFinding {
        switch error {
        case let error as ComposeError:
            if case .refused(let service, let what, let why, let fix, let at) = error {
                return InitFinding(service: service, message: "\(what) is refused: \(why). \(fix)", at: at)
            }
            return InitFinding(service: nil, message: stripMark(error.message), at: markOf(error) ?? composeMark)
        case let error as UserFacingError:
            return InitFinding(service: nil, message: error.message, at: YAMLMark(file: composeMark.file, line: 0, column: 0))
        default:
            return InitFinding(service: nil, message: "\(error)", at: YAMLMark(file: composeMark.file, line: 0, column: 0))
        }
    }

    private static func markOf(_ error: ComposeError) -> YAMLMark? {
        switch error {
        case .invalid(_, _, _, let at), .unknownTopLevelKey(_, _, let at), .imageNotInSpec(_, _, _, let at),
             .imageUnused(_, _, let at), .serviceMissing(_, _, _, let at), .subnetTooSmall(_, _, let at), .refused(_, _, _, _, let at):
            return at
        case .unreadable:
            return nil
        }
    }

    /// A message without its leading `file:line:column: `, which the finding carries.
    private static func stripMark(_ message: String) -> String {
        guard let range = message.firstRange(of: ": ") , message[..<range.lowerBound].filter({ $0 == ":" }).count >= 2 else { return message }
        return String(message[range.upperBound...])
    }
}
