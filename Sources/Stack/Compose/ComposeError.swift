import FrostbyteCore

/// Why a compose file cannot be bundled. Every case names the compose (or spec)
/// file, line and column; service-level refusals name the service.
public enum ComposeError: UserFacingError, Equatable {
    /// The compose file cannot be read.
    case unreadable(path: String, reason: String)
    /// A setting that breaks isolation or offline operation. `what` is the setting
    /// as written, `why` the risk, `fix` what to do.
    case refused(service: String?, what: String, why: String, fix: String, at: YAMLMark)
    /// A value has the wrong shape (`services` not a mapping, ...).
    case invalid(path: String, expected: String, found: String, at: YAMLMark)
    /// A top-level key Compose does not define.
    case unknownTopLevelKey(key: String, suggestion: String?, at: YAMLMark)
    /// A service's image is not listed in the spec's `images`.
    case imageNotInSpec(service: String, image: String, specPath: String, at: YAMLMark)
    /// A spec image that no service uses (the list must match exactly).
    case imageUnused(image: String, composePath: String, at: YAMLMark)
    /// The spec names a service (gateway, migrations, exports) the compose file lacks.
    case serviceMissing(role: String, service: String, available: [String], at: YAMLMark)
    /// The subnet cannot hold every service.
    case subnetTooSmall(subnet: String, services: Int, at: YAMLMark)

    public var message: String {
        switch self {
        case .unreadable(let path, let reason):
            return "cannot read compose file \(path): \(reason). Check the spec's 'compose' path."
        case .refused(let service, let what, let why, let fix, let at):
            let subject = service.map { "service '\($0)': " } ?? ""
            return "\(at): \(subject)\(what) is refused: \(why). \(fix)"
        case .invalid(let path, let expected, let found, let at):
            return "\(at): '\(path)' must be \(expected), found \(found)."
        case .unknownTopLevelKey(let key, let suggestion, let at):
            let hint = suggestion.map { "did you mean '\($0)'?" }
                ?? "Compose allows name, services, networks, volumes, secrets, configs and x-* extension fields."
            return "\(at): unknown top-level key '\(key)'; \(hint)"
        case .imageNotInSpec(let service, let image, let specPath, let at):
            return "\(at): service '\(service)': image '\(image)' is not listed in the spec's images (\(specPath)). Add it there so the bundle carries it."
        case .imageUnused(let image, let composePath, let at):
            return "\(at): image '\(image)' is listed in the spec but no service in \(composePath) uses it. Remove it from images or use it in a service."
        case .serviceMissing(let role, let service, let available, let at):
            return "\(at): \(role) names service '\(service)', which the compose file does not define (services: \(available.joined(separator: ", ")))."
        case .subnetTooSmall(let subnet, let services, let at):
            return "\(at): subnet \(subnet) cannot hold \(services) services plus the network, bridge and broadcast addresses. Use a larger subnet."
        }
    }

    public var exitStatus: ExitStatus { .badInput }
}

/// Something hardening changed or noticed that is not an error: printed on
/// stderr by `render`, recorded by `build`. Encodes as
/// `{file, line, column, service, message}`.
public struct HardeningWarning: Sendable, Equatable, Codable, CustomStringConvertible {
    /// The compose or spec file the warning is about.
    public var file: String
    /// 1-based line (0 when not tied to a line).
    public var line: Int
    /// 1-based column.
    public var column: Int
    /// The service concerned, if any.
    public var service: String?
    /// What happened and why, one sentence.
    public var message: String

    /// Creates a warning at `mark`.
    public init(service: String?, message: String, at mark: YAMLMark) {
        file = mark.file
        line = mark.line
        column = mark.column
        self.service = service
        self.message = message
    }

    /// `file:line:column: service 'x': message`.
    public var description: String {
        let subject = service.map { "service '\($0)': " } ?? ""
        return "\(file):\(line):\(column): \(subject)\(message)"
    }
}
