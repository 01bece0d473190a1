internal import CYAML

/// Parses YAML text into `YAMLNode` trees with libyaml's event API. Owns one
/// `yaml_parser_t` and the input buffer it reads (which must outlive it); both
/// are freed in `deinit`. Not `Sendable`: use from one task.
///
/// Aliases are expanded (copies of the anchored node), merge keys (`<<`) are
/// applied with explicit keys winning, duplicate keys are refused, and nesting
/// and alias expansion are bounded so hostile input cannot exhaust memory.
public final class YAMLParser {
    /// Deepest nesting accepted (compose files rarely exceed 10).
    public static let maxDepth = 256
    /// Most nodes a document may hold after alias expansion ("billion laughs" guard).
    public static let maxNodes = 1_000_000

    private let underlying: UnsafeMutablePointer<yaml_parser_t>
    private let input: UnsafeMutableBufferPointer<UInt8>
    private let file: String
    private var anchors: [String: (node: YAMLNode, size: Int)] = [:]
    private var nodeCount = 0

    /// Prepares a parser over `bytes`; `file` is used in every mark and error.
    public init(bytes: [UInt8], file: String) {
        self.file = file
        underlying = .allocate(capacity: 1)
        underlying.initialize(to: yaml_parser_t())
        // yaml_parser_initialize only fails on allocation failure; a failed parser
        // reports YAML_MEMORY_ERROR on the first parse call instead of crashing here.
        _ = yaml_parser_initialize(underlying)
        input = .allocate(capacity: max(bytes.count, 1))
        _ = input.initialize(from: bytes)
        yaml_parser_set_input_string(underlying, input.baseAddress, bytes.count)
    }

    deinit {
        yaml_parser_delete(underlying)
        underlying.deallocate()
        input.deallocate()
    }

    /// Parses every document in the stream.
    /// - Throws: `YAMLError` with file:line:column on any syntax or structure problem.
    public func parseDocuments() throws -> [YAMLNode] {
        var documents: [YAMLNode] = []
        var event = try nextEvent()
        guard event.type == YAML_STREAM_START_EVENT else { throw unexpected(event) }
        while true {
            event = try nextEvent()
            switch event.type {
            case YAML_STREAM_END_EVENT:
                return documents
            case YAML_DOCUMENT_START_EVENT:
                anchors.removeAll()
                let root = try parseNode(try nextEvent(), depth: 0)
                let end = try nextEvent()
                guard end.type == YAML_DOCUMENT_END_EVENT else { throw unexpected(end) }
                documents.append(root)
            default:
                throw unexpected(event)
            }
        }
    }

    /// Parses a stream that must hold exactly one document.
    /// - Throws: `YAMLError.documentCount` for zero or several documents.
    public func parseSingleDocument() throws -> YAMLNode {
        let documents = try parseDocuments()
        guard documents.count == 1 else { throw YAMLError.documentCount(found: documents.count, file: file) }
        return documents[0]
    }

    // MARK: - Events

    /// A copied-out event: libyaml's event is deleted right after copying, so no
    /// C memory outlives this call.
    private struct Event {
        var type: yaml_event_type_t
        var mark: YAMLMark
        var anchor: String?
        var tag: String?
        var value: String = ""
        var style: YAMLScalarStyle = .plain
    }

    private func nextEvent() throws -> Event {
        var raw = yaml_event_t()
        guard yaml_parser_parse(underlying, &raw) == 1 else { throw parserError() }
        defer { yaml_event_delete(&raw) }
        var event = Event(type: raw.type, mark: mark(raw.start_mark))
        switch raw.type {
        case YAML_SCALAR_EVENT:
            let s = raw.data.scalar
            event.anchor = string(s.anchor)
            event.tag = string(s.tag)
            event.value = string(s.value, length: s.length) ?? ""
            switch s.style {
            case YAML_SINGLE_QUOTED_SCALAR_STYLE: event.style = .singleQuoted
            case YAML_DOUBLE_QUOTED_SCALAR_STYLE: event.style = .doubleQuoted
            case YAML_LITERAL_SCALAR_STYLE: event.style = .literal
            case YAML_FOLDED_SCALAR_STYLE: event.style = .folded
            default: event.style = .plain
            }
        case YAML_ALIAS_EVENT:
            event.anchor = string(raw.data.alias.anchor)
        case YAML_SEQUENCE_START_EVENT:
            event.anchor = string(raw.data.sequence_start.anchor)
            event.tag = string(raw.data.sequence_start.tag)
        case YAML_MAPPING_START_EVENT:
            event.anchor = string(raw.data.mapping_start.anchor)
            event.tag = string(raw.data.mapping_start.tag)
        default:
            break
        }
        return event
    }

    // MARK: - Tree building

    private func parseNode(_ event: Event, depth: Int) throws -> YAMLNode {
        guard depth < Self.maxDepth else {
            throw YAMLError.tooLarge(reason: "nesting deeper than \(Self.maxDepth) levels", at: event.mark)
        }
        let node: YAMLNode
        switch event.type {
        case YAML_ALIAS_EVENT:
            let name = event.anchor ?? ""
            guard let anchored = anchors[name] else { throw YAMLError.undefinedAlias(name: name, at: event.mark) }
            try count(anchored.size, at: event.mark)
            return anchored.node
        case YAML_SCALAR_EVENT:
            try count(1, at: event.mark)
            node = YAMLNode(.scalar(YAMLScalar(value: event.value, style: event.style, tag: event.tag)), mark: event.mark)
        case YAML_SEQUENCE_START_EVENT:
            try count(1, at: event.mark)
            var items: [YAMLNode] = []
            while true {
                let next = try nextEvent()
                if next.type == YAML_SEQUENCE_END_EVENT { break }
                items.append(try parseNode(next, depth: depth + 1))
            }
            node = YAMLNode(.sequence(items), mark: event.mark, collectionTag: event.tag)
        case YAML_MAPPING_START_EVENT:
            try count(1, at: event.mark)
            node = try parseMapping(start: event, depth: depth)
        default:
            throw unexpected(event)
        }
        if let anchor = event.anchor {
            anchors[anchor] = (node, size(of: node))
        }
        return node
    }

    /// One slot of a mapping under construction: an explicit pair, or the
    /// position where a `<<` merge's pairs go.
    private enum Slot {
        case pair(YAMLPair)
        case merge([YAMLNode], at: YAMLMark)
    }

    private func parseMapping(start: Event, depth: Int) throws -> YAMLNode {
        var slots: [Slot] = []
        var explicit: [String: YAMLMark] = [:]
        while true {
            let keyEvent = try nextEvent()
            if keyEvent.type == YAML_MAPPING_END_EVENT { break }
            let key = try parseNode(keyEvent, depth: depth + 1)
            guard let keyScalar = key.scalar else { throw YAMLError.complexKey(at: key.mark) }
            let value = try parseNode(try nextEvent(), depth: depth + 1)
            if keyScalar.value == "<<" && keyScalar.style == .plain && keyScalar.tag == nil {
                let sources: [YAMLNode]
                switch value.content {
                case .mapping: sources = [value]
                case .sequence(let items) where items.allSatisfy({ $0.mappingPairs != nil }): sources = items
                default: throw YAMLError.invalidMerge(at: key.mark)
                }
                slots.append(.merge(sources, at: key.mark))
                continue
            }
            if let first = explicit[keyScalar.value] {
                throw YAMLError.duplicateKey(key: keyScalar.value, at: key.mark, first: first)
            }
            explicit[keyScalar.value] = key.mark
            slots.append(.pair(YAMLPair(key: key, value: value)))
        }
        // Merge semantics (yaml.org/type/merge): explicit keys win; among merged
        // mappings, earlier ones win. Merged pairs take the place of the `<<` key.
        var pairs: [YAMLPair] = []
        var seen = Set(explicit.keys)
        for slot in slots {
            switch slot {
            case .pair(let pair):
                pairs.append(pair)
            case .merge(let sources, _):
                for source in sources {
                    for pair in source.mappingPairs ?? [] {
                        guard let key = pair.key.scalarValue, !seen.contains(key) else { continue }
                        seen.insert(key)
                        pairs.append(pair)
                    }
                }
            }
        }
        return YAMLNode(.mapping(pairs), mark: start.mark, collectionTag: start.tag)
    }

    private func count(_ nodes: Int, at mark: YAMLMark) throws {
        nodeCount += nodes
        guard nodeCount <= Self.maxNodes else {
            throw YAMLError.tooLarge(reason: "more than \(Self.maxNodes) nodes after expanding aliases", at: mark)
        }
    }

    private func size(of node: YAMLNode) -> Int {
        switch node.content {
        case .scalar: return 1
        case .sequence(let items): return items.reduce(1) { $0 + size(of: $1) }
        case .mapping(let pairs): return pairs.reduce(1) { $0 + size(of: $1.key) + size(of: $1.value) }
        }
    }

    // MARK: - Errors and conversions

    private func parserError() -> YAMLError {
        let p = underlying.pointee
        let problem = string(p.problem) ?? "unknown error"
        switch p.error {
        case YAML_READER_ERROR:
            // Reader errors carry a byte offset, not a mark; report the line we reached.
            return .encoding(problem: "\(problem) at byte \(p.problem_offset)", at: mark(p.mark))
        case YAML_MEMORY_ERROR:
            return .syntax(problem: "out of memory", context: nil, at: mark(p.mark))
        default:
            let context = string(p.context).map { "(\($0) at line \(p.context_mark.line + 1))" }
            return .syntax(problem: problem, context: context, at: mark(p.problem_mark))
        }
    }

    private func unexpected(_ event: Event) -> YAMLError {
        .syntax(problem: "unexpected YAML event \(event.type.rawValue)", context: nil, at: event.mark)
    }

    private func mark(_ m: yaml_mark_t) -> YAMLMark {
        YAMLMark(file: file, line: Int(m.line) + 1, column: Int(m.column) + 1)
    }

    private func string(_ pointer: UnsafePointer<CChar>?) -> String? {
        pointer.map { String(cString: $0) }
    }

    private func string(_ pointer: UnsafeMutablePointer<yaml_char_t>?) -> String? {
        pointer.map { String(cString: $0) }
    }

    private func string(_ pointer: UnsafeMutablePointer<yaml_char_t>?, length: Int) -> String? {
        guard let pointer else { return nil }
        return String(decoding: UnsafeBufferPointer(start: pointer, count: length), as: UTF8.self)
    }
}

extension YAMLNode {
    /// Parses `bytes` as exactly one YAML document.
    /// - Parameter file: the name used in marks and errors (usually the path).
    /// - Throws: `YAMLError` with file:line:column.
    public static func parse(_ bytes: [UInt8], file: String) throws -> YAMLNode {
        try YAMLParser(bytes: bytes, file: file).parseSingleDocument()
    }
}
