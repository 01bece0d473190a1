internal import CYAML

/// Writes `YAMLNode` trees as YAML text through libyaml's emitter. Owns one
/// `yaml_emitter_t` (freed in `deinit`). Not `Sendable`: use from one task.
///
/// Output is deterministic for a given tree: block style, 2-space indent, no
/// line wrapping, `\n` line breaks, UTF-8. Strings are quoted whenever plain text
/// could read back as another type (`"8080:80"`, `"yes"`, `"1.0"`, `"${VAR}"`);
/// plain scalars from a parsed source stay plain so numbers stay numbers.
public final class YAMLEmitter {
    private let underlying: UnsafeMutablePointer<yaml_emitter_t>
    private let sink: Sink
    private var finished = false

    /// Collects emitted bytes; passed to libyaml's write callback via `Unmanaged`.
    private final class Sink {
        var bytes: [UInt8] = []
    }

    /// Creates an emitter writing into memory.
    /// - Throws: `YAMLError.emitter` if libyaml cannot allocate its state.
    public init() throws {
        underlying = .allocate(capacity: 1)
        underlying.initialize(to: yaml_emitter_t())
        sink = Sink()
        guard yaml_emitter_initialize(underlying) == 1 else {
            underlying.deallocate()
            throw YAMLError.emitter(problem: "cannot initialise libyaml's emitter")
        }
        yaml_emitter_set_output(underlying, { data, buffer, size in
            guard let data, let buffer else { return 0 }
            let sink = Unmanaged<Sink>.fromOpaque(data).takeUnretainedValue()
            sink.bytes.append(contentsOf: UnsafeBufferPointer(start: buffer, count: size))
            return 1
        }, Unmanaged.passUnretained(sink).toOpaque())
        yaml_emitter_set_encoding(underlying, YAML_UTF8_ENCODING)
        yaml_emitter_set_indent(underlying, 2)
        yaml_emitter_set_width(underlying, -1)
        yaml_emitter_set_unicode(underlying, 1)
        yaml_emitter_set_break(underlying, YAML_LN_BREAK)
    }

    deinit {
        yaml_emitter_delete(underlying)
        underlying.deallocate()
    }

    /// Emits `root` as the only document of a stream and returns the bytes.
    /// An emitter is single-use: a second call throws.
    /// - Throws: `YAMLError.emitter` with libyaml's problem text.
    public func emit(_ root: YAMLNode) throws -> [UInt8] {
        guard !finished else { throw YAMLError.emitter(problem: "emitter already used") }
        finished = true
        try send { yaml_stream_start_event_initialize(&$0, YAML_UTF8_ENCODING) }
        try send { yaml_document_start_event_initialize(&$0, nil, nil, nil, 1) }
        try emitNode(root)
        try send { yaml_document_end_event_initialize(&$0, 1) }
        try send { yaml_stream_end_event_initialize(&$0) }
        guard yaml_emitter_flush(underlying) == 1 else { throw emitterError() }
        return sink.bytes
    }

    private func emitNode(_ node: YAMLNode) throws {
        switch node.content {
        case .scalar(let scalar):
            try emitScalar(scalar)
        case .sequence(let items):
            try withTag(node.collectionTag) { tag in
                try send { yaml_sequence_start_event_initialize(&$0, nil, tag, tag == nil ? 1 : 0, YAML_BLOCK_SEQUENCE_STYLE) }
            }
            for item in items { try emitNode(item) }
            try send { yaml_sequence_end_event_initialize(&$0) }
        case .mapping(let pairs):
            try withTag(node.collectionTag) { tag in
                try send { yaml_mapping_start_event_initialize(&$0, nil, tag, tag == nil ? 1 : 0, YAML_BLOCK_MAPPING_STYLE) }
            }
            for pair in pairs {
                try emitNode(pair.key)
                try emitNode(pair.value)
            }
            try send { yaml_mapping_end_event_initialize(&$0) }
        }
    }

    private func emitScalar(_ scalar: YAMLScalar) throws {
        let style: yaml_scalar_style_t
        // Tags that only restate what the style already says are dropped.
        var tag = scalar.tag
        if tag == "tag:yaml.org,2002:str" || tag == "!" { tag = nil }
        if scalar.style == .plain && scalar.tag == "tag:yaml.org,2002:str" {
            // `!!str 123`: keep it a string by quoting rather than tagging.
            style = ScalarResolution.isSafePlainString(scalar.value) ? YAML_PLAIN_SCALAR_STYLE : YAML_DOUBLE_QUOTED_SCALAR_STYLE
        } else if scalar.style == .plain {
            style = YAML_PLAIN_SCALAR_STYLE
        } else if scalar.value.contains("\n") && !scalar.value.hasPrefix(" ") {
            style = YAML_LITERAL_SCALAR_STYLE
        } else if ScalarResolution.isSafePlainString(scalar.value) {
            style = YAML_PLAIN_SCALAR_STYLE
        } else {
            style = YAML_DOUBLE_QUOTED_SCALAR_STYLE
        }
        // A plain style request for a string that must stay a string is only made
        // when it is safe; `plain_implicit` lets libyaml omit the tag.
        let plainImplicit: Int32 = tag == nil ? 1 : 0
        let quotedImplicit: Int32 = tag == nil ? 1 : 0
        let bytes = Array(scalar.value.utf8)
        try withTag(tag) { tagPointer in
            try bytes.withUnsafeBufferPointer { buffer in
                try send {
                    yaml_scalar_event_initialize(
                        &$0, nil, tagPointer, buffer.baseAddress ?? emptyByte, Int32(buffer.count),
                        plainImplicit, quotedImplicit, style)
                }
            }
        }
    }

    private func withTag(_ tag: String?, _ body: (UnsafePointer<yaml_char_t>?) throws -> Void) throws {
        guard let tag else { return try body(nil) }
        let bytes = Array(tag.utf8) + [0]
        try bytes.withUnsafeBufferPointer { try body($0.baseAddress) }
    }

    /// Initialises an event with `make` and hands it to the emitter (which takes
    /// ownership and frees it, also on failure).
    private func send(_ make: (inout yaml_event_t) -> Int32) throws {
        var event = yaml_event_t()
        guard make(&event) == 1 else { throw YAMLError.emitter(problem: "cannot create a YAML event (out of memory)") }
        guard yaml_emitter_emit(underlying, &event) == 1 else { throw emitterError() }
    }

    private func emitterError() -> YAMLError {
        let problem = underlying.pointee.problem.map { String(cString: $0) } ?? "unknown emitter error"
        return .emitter(problem: problem)
    }
}

/// A valid pointer for zero-length scalars (libyaml rejects a NULL value pointer).
private nonisolated(unsafe) let emptyByte: UnsafePointer<yaml_char_t> = {
    let p = UnsafeMutablePointer<yaml_char_t>.allocate(capacity: 1)
    p.initialize(to: 0)
    return UnsafePointer(p)
}()

extension YAMLNode {
    /// This tree as YAML text (see `YAMLEmitter` for the output guarantees).
    /// - Throws: `YAMLError.emitter`.
    public func emitted() throws -> [UInt8] {
        try YAMLEmitter().emit(self)
    }
}
