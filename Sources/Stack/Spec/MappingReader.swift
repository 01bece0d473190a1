/// Reads one mapping of the spec against a fixed key set: unknown keys are
/// refused up front (with the nearest valid key), then values are pulled out by
/// type with errors that carry the key path and source position.
struct MappingReader {
    let node: YAMLNode
    let path: String

    /// - Throws: `SpecError.wrongType` if `node` is not a mapping,
    ///   `SpecError.unknownKey` for the first key not in `keys`.
    init(_ node: YAMLNode, path: String, keys: [String]) throws {
        guard let pairs = node.mappingPairs else {
            throw SpecError.wrongType(path: path.isEmpty ? "(document)" : path, expected: "a mapping", found: node.kindName, at: node.mark)
        }
        for pair in pairs {
            let key = pair.key.scalarValue ?? ""
            guard keys.contains(key) else {
                throw SpecError.unknownKey(
                    key: key, path: path, suggestion: KeySuggestion.nearest(to: key, in: keys),
                    allowed: keys, at: pair.key.mark)
            }
        }
        self.node = node
        self.path = path
    }

    func keyPath(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    /// The value node for `key`, treating an explicit null like an absent key.
    func optionalNode(_ key: String) -> YAMLNode? {
        guard let value = node[key], !value.isNull else { return nil }
        return value
    }

    func requiredNode(_ key: String) throws -> YAMLNode {
        guard let value = optionalNode(key) else { throw SpecError.missingKey(path: keyPath(key), at: node.mark) }
        return value
    }

    /// A scalar's text; numbers and booleans are accepted as their text (`version: 1.0`).
    func optionalString(_ key: String) throws -> (String, YAMLMark)? {
        guard let value = optionalNode(key) else { return nil }
        guard let scalar = value.scalar else {
            throw SpecError.wrongType(path: keyPath(key), expected: "a string", found: value.kindName, at: value.mark)
        }
        return (scalar.value, value.mark)
    }

    func string(_ key: String) throws -> (String, YAMLMark) {
        guard let result = try optionalString(key) else { throw SpecError.missingKey(path: keyPath(key), at: node.mark) }
        return result
    }

    /// A string that must match `pattern` (described in words by `rule`).
    func string(_ key: String, matching isValid: (String) -> Bool, rule: String) throws -> (String, YAMLMark) {
        let (value, mark) = try string(key)
        guard isValid(value) else {
            throw SpecError.invalidValue(path: keyPath(key), value: value, reason: "must match \(rule)", at: mark)
        }
        return (value, mark)
    }

    func optionalInt(_ key: String, range: ClosedRange<Int>) throws -> (Int, YAMLMark)? {
        guard let value = optionalNode(key) else { return nil }
        guard let scalar = value.scalar, scalar.kind == .int || scalar.kind == .string,
              let number = Int(scalar.value) else {
            throw SpecError.wrongType(path: keyPath(key), expected: "an integer", found: value.kindName, at: value.mark)
        }
        guard range.contains(number) else {
            throw SpecError.invalidValue(path: keyPath(key), value: scalar.value, reason: "must be between \(range.lowerBound) and \(range.upperBound)", at: value.mark)
        }
        return (number, value.mark)
    }

    func optionalList(_ key: String) throws -> [YAMLNode]? {
        guard let value = optionalNode(key) else { return nil }
        guard let items = value.sequenceItems else {
            throw SpecError.wrongType(path: keyPath(key), expected: "a list", found: value.kindName, at: value.mark)
        }
        return items
    }
}

/// Name patterns of the spec, as small predicates (no regex engine needed).
enum SpecPatterns {
    private static func isLowerAlnum(_ c: Character) -> Bool { c.isASCII && (c.isLowercase || c.isNumber) }

    /// `[a-z0-9][a-z0-9-]*`, at most 63 characters.
    static func isBundleName(_ s: String) -> Bool {
        guard let first = s.first, isLowerAlnum(first), s.count <= 63 else { return false }
        return s.allSatisfy { isLowerAlnum($0) || $0 == "-" }
    }

    /// `[0-9A-Za-z.+-]+`, at most 64 characters, not `.` or `..`.
    static func isVersion(_ s: String) -> Bool {
        guard !s.isEmpty, s.count <= 64, s != ".", s != ".." else { return false }
        return s.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || ".+-".contains($0)) }
    }

    /// Compose v2 project names: `^[a-z0-9][a-z0-9_-]*$`.
    static func isProject(_ s: String) -> Bool {
        guard let first = s.first, isLowerAlnum(first), s.count <= 63 else { return false }
        return s.allSatisfy { isLowerAlnum($0) || $0 == "_" || $0 == "-" }
    }

    /// Compose network and service keys: `[a-zA-Z0-9][a-zA-Z0-9_.-]*`.
    static func isComposeName(_ s: String) -> Bool {
        guard let first = s.first, first.isASCII, first.isLetter || first.isNumber, s.count <= 63 else { return false }
        return s.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "_.-".contains($0)) }
    }

    /// A plain file name: no slashes, not `.`/`..`, no control characters.
    static func isFileName(_ s: String) -> Bool {
        !s.isEmpty && s.count <= 255 && s != "." && s != ".." && !s.contains("/")
            && !s.unicodeScalars.contains { $0.value < 0x20 || $0.value == 0x7f }
    }

    /// `value` when it is a Compose service name, else `SpecError.invalidValue` at `path`.
    static func checked(_ value: (String, YAMLMark), path: String) throws -> String {
        guard isComposeName(value.0) else {
            throw SpecError.invalidValue(path: path, value: value.0, reason: "must be a compose service name ([a-zA-Z0-9][a-zA-Z0-9_.-]*)", at: value.1)
        }
        return value.0
    }

    /// An absolute HTTP path without spaces.
    static func isHTTPPath(_ s: String) -> Bool {
        s.hasPrefix("/") && !s.contains(where: { $0.isWhitespace })
    }
}
