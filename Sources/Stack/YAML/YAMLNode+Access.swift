extension YAMLNode {
    // MARK: - Builders

    /// A string scalar; the emitter quotes it when plain text would read as
    /// something else (`"8080:80"`, `"yes"`, `"1.0"`, `"${VAR}"`).
    public static func string(_ value: String, mark: YAMLMark = .synthesized) -> YAMLNode {
        YAMLNode(.scalar(YAMLScalar(value: value, style: .doubleQuoted)), mark: mark)
    }

    /// A plain scalar that YAML resolves itself (`true`, `8080`, `null`).
    public static func plain(_ value: String, mark: YAMLMark = .synthesized) -> YAMLNode {
        YAMLNode(.scalar(YAMLScalar(value: value, style: .plain)), mark: mark)
    }

    /// A boolean scalar.
    public static func bool(_ value: Bool) -> YAMLNode { .plain(value ? "true" : "false") }

    /// A sequence node.
    public static func sequence(_ items: [YAMLNode], mark: YAMLMark = .synthesized) -> YAMLNode {
        YAMLNode(.sequence(items), mark: mark)
    }

    /// A mapping node with string keys, in the given order.
    public static func mapping(_ pairs: [(String, YAMLNode)], mark: YAMLMark = .synthesized) -> YAMLNode {
        YAMLNode(.mapping(pairs.map { YAMLPair(key: .string($0.0), value: $0.1) }), mark: mark)
    }

    // MARK: - Reading

    /// The scalar, or nil for collections.
    public var scalar: YAMLScalar? {
        if case .scalar(let s) = content { return s }
        return nil
    }

    /// The scalar's text, or nil for collections.
    public var scalarValue: String? { scalar?.value }

    /// The items of a sequence, or nil.
    public var sequenceItems: [YAMLNode]? {
        if case .sequence(let items) = content { return items }
        return nil
    }

    /// The pairs of a mapping in source order, or nil.
    public var mappingPairs: [YAMLPair]? {
        if case .mapping(let pairs) = content { return pairs }
        return nil
    }

    /// True for a null scalar (`~`, `null`, empty plain).
    public var isNull: Bool { scalar?.kind == .null }

    /// A short word for the node's kind, for error messages.
    public var kindName: String {
        switch content {
        case .scalar(let s):
            switch s.kind {
            case .null: return "null"
            case .bool: return "a boolean"
            case .int: return "an integer"
            case .float: return "a number"
            case .string: return "a string"
            }
        case .sequence: return "a list"
        case .mapping: return "a mapping"
        }
    }

    /// The pair whose key is the scalar `key`, or nil (also nil for non-mappings).
    public func pair(_ key: String) -> YAMLPair? {
        mappingPairs?.first { $0.key.scalarValue == key }
    }

    /// The value for scalar key `key` in a mapping, or nil.
    public subscript(key: String) -> YAMLNode? {
        pair(key)?.value
    }

    // MARK: - Editing mappings

    /// Replaces the value of `key` in place (keeping its position and key mark),
    /// or appends the pair when the key is absent. No effect on non-mappings.
    public mutating func set(_ key: String, _ value: YAMLNode) {
        guard case .mapping(var pairs) = content else { return }
        if let index = pairs.firstIndex(where: { $0.key.scalarValue == key }) {
            pairs[index].value = value
        } else {
            pairs.append(YAMLPair(key: .string(key), value: value))
        }
        content = .mapping(pairs)
    }

    /// Removes `key` from a mapping and returns the removed pair, if any.
    @discardableResult
    public mutating func remove(_ key: String) -> YAMLPair? {
        guard case .mapping(var pairs) = content,
              let index = pairs.firstIndex(where: { $0.key.scalarValue == key }) else { return nil }
        let removed = pairs.remove(at: index)
        content = .mapping(pairs)
        return removed
    }

    // MARK: - Comparing

    /// True when both trees mean the same thing: same structure, same keys in the
    /// same order, same scalar values and kinds. Marks and quoting style are ignored.
    public func isEquivalent(to other: YAMLNode) -> Bool {
        switch (content, other.content) {
        case (.scalar(let a), .scalar(let b)):
            return a.value == b.value && a.kind == b.kind
        case (.sequence(let a), .sequence(let b)):
            return a.count == b.count && zip(a, b).allSatisfy { $0.isEquivalent(to: $1) }
        case (.mapping(let a), .mapping(let b)):
            return a.count == b.count && zip(a, b).allSatisfy {
                $0.key.isEquivalent(to: $1.key) && $0.value.isEquivalent(to: $1.value)
            }
        default:
            return false
        }
    }
}
