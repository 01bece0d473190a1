/// A position in a YAML source: file name plus 1-based line and column.
/// Nodes made in code (not parsed) carry `YAMLMark.synthesized`.
public struct YAMLMark: Sendable, Hashable, CustomStringConvertible {
    /// The file the node came from (as given to the parser).
    public var file: String
    /// 1-based line; 0 for synthesized nodes.
    public var line: Int
    /// 1-based column; 0 for synthesized nodes.
    public var column: Int

    /// Creates a mark from 1-based line and column.
    public init(file: String, line: Int, column: Int) {
        self.file = file
        self.line = line
        self.column = column
    }

    /// The mark of nodes created in code rather than parsed.
    public static let synthesized = YAMLMark(file: "<generated>", line: 0, column: 0)

    /// `file:line:column`, the form editors and compilers use.
    public var description: String { "\(file):\(line):\(column)" }
}

/// How a scalar was written in the source, or how a synthesized scalar should be
/// treated: `plain` scalars are resolved by YAML (numbers, booleans, null);
/// every other style is a string.
public enum YAMLScalarStyle: Sendable, Hashable {
    case plain, singleQuoted, doubleQuoted, literal, folded
}

/// What a scalar means once YAML's implicit typing is applied.
public enum YAMLScalarKind: Sendable, Hashable {
    case null, bool, int, float, string
}

/// A scalar's text, its source style and its explicit tag (if any).
public struct YAMLScalar: Sendable, Hashable {
    /// The scalar's value, with escapes and folding already applied.
    public var value: String
    /// The source style (see `YAMLScalarStyle`).
    public var style: YAMLScalarStyle
    /// An explicit tag (`!reset`, `tag:yaml.org,2002:str`), nil when implicit.
    public var tag: String?

    /// Creates a scalar.
    public init(value: String, style: YAMLScalarStyle, tag: String? = nil) {
        self.value = value
        self.style = style
        self.tag = tag
    }

    /// The implicit type of the scalar: non-plain or `!!str`-tagged scalars are
    /// strings, plain ones resolve by the YAML 1.1/1.2 rules compose tools apply.
    public var kind: YAMLScalarKind {
        if let tag {
            switch tag {
            case "tag:yaml.org,2002:str": return .string
            case "tag:yaml.org,2002:int": return .int
            case "tag:yaml.org,2002:float": return .float
            case "tag:yaml.org,2002:bool": return .bool
            case "tag:yaml.org,2002:null": return .null
            default: break
            }
        }
        guard style == .plain else { return .string }
        return ScalarResolution.kind(ofPlain: value)
    }
}

/// One key/value entry of a mapping, in source order.
public struct YAMLPair: Sendable, Hashable {
    /// The key node (always a scalar for documents this module builds).
    public var key: YAMLNode
    /// The value node.
    public var value: YAMLNode

    /// Creates a pair.
    public init(key: YAMLNode, value: YAMLNode) {
        self.key = key
        self.value = value
    }
}

/// A YAML node: a scalar, a sequence or a mapping with ordered keys, each carrying
/// the source position it was parsed from. Aliases and merge keys are already
/// resolved by the parser, so a tree is plain data.
public struct YAMLNode: Sendable, Hashable {
    /// The three kinds of YAML content.
    public enum Content: Sendable, Hashable {
        case scalar(YAMLScalar)
        case sequence([YAMLNode])
        case mapping([YAMLPair])
    }

    /// The node's content.
    public var content: Content
    /// Where the node starts in its source.
    public var mark: YAMLMark
    /// Explicit tag on a sequence or mapping (scalars keep theirs in `YAMLScalar`).
    public var collectionTag: String?

    /// Creates a node.
    public init(_ content: Content, mark: YAMLMark = .synthesized, collectionTag: String? = nil) {
        self.content = content
        self.mark = mark
        self.collectionTag = collectionTag
    }
}
