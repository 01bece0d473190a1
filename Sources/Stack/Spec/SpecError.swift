import FrostbyteCore

/// Problems in a bundle spec file. Each names the spec file, line and column,
/// the key path (`gateway.ipv4_address`), what is wrong and what to do.
public enum SpecError: UserFacingError, Equatable {
    /// The spec file itself cannot be read.
    case unreadable(path: String, reason: String)
    /// A key that the schema does not know, with the closest valid key if any.
    case unknownKey(key: String, path: String, suggestion: String?, allowed: [String], at: YAMLMark)
    /// A required key is absent from the mapping at `at`.
    case missingKey(path: String, at: YAMLMark)
    /// A value has the wrong YAML type.
    case wrongType(path: String, expected: String, found: String, at: YAMLMark)
    /// A value has the right type but is not acceptable; `reason` says why and what to do.
    case invalidValue(path: String, value: String, reason: String, at: YAMLMark)
    /// Two entries of a list share a name that must be unique.
    case duplicate(path: String, value: String, at: YAMLMark, first: YAMLMark)
    /// A file or folder the spec points at does not exist.
    case missingFile(path: String, file: String, expected: String, at: YAMLMark)

    public var message: String {
        switch self {
        case .unreadable(let path, let reason):
            return "cannot read bundle spec \(path): \(reason)."
        case .unknownKey(let key, let path, let suggestion, let allowed, let at):
            let place = path.isEmpty ? "at the top level" : "in '\(path)'"
            let hint = suggestion.map { "did you mean '\($0)'?" } ?? "valid keys: \(allowed.joined(separator: ", "))."
            return "\(at): unknown key '\(key)' \(place); \(hint)"
        case .missingKey(let path, let at):
            return "\(at): missing required key '\(path)'. Add it (see docs/SPEC.md)."
        case .wrongType(let path, let expected, let found, let at):
            return "\(at): '\(path)' must be \(expected), found \(found)."
        case .invalidValue(let path, let value, let reason, let at):
            return "\(at): '\(path)' value '\(value)' \(reason)."
        case .duplicate(let path, let value, let at, let first):
            return "\(at): '\(path)' repeats '\(value)' (first at line \(first.line)). Each entry must be unique."
        case .missingFile(let path, let file, let expected, let at):
            return "\(at): '\(path)' points at \(file), which is not \(expected). Fix the path (relative paths are relative to the spec's folder)."
        }
    }

    public var exitStatus: ExitStatus { .badInput }
}
