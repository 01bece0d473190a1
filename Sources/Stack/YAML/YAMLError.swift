import FrostbyteCore

/// Failures reading or writing YAML. Every parse failure names the file, the
/// 1-based line and column, and libyaml's own problem text.
public enum YAMLError: UserFacingError, Equatable {
    /// libyaml rejected the text (reader, scanner or parser error).
    case syntax(problem: String, context: String?, at: YAMLMark)
    /// The file is not UTF-8 or contains characters YAML forbids.
    case encoding(problem: String, at: YAMLMark)
    /// `*name` refers to an anchor that was never defined (before this point).
    case undefinedAlias(name: String, at: YAMLMark)
    /// The same key appears twice in one mapping.
    case duplicateKey(key: String, at: YAMLMark, first: YAMLMark)
    /// A mapping key is a list or mapping, which this tool does not accept.
    case complexKey(at: YAMLMark)
    /// `<<` whose value is not a mapping or a list of mappings.
    case invalidMerge(at: YAMLMark)
    /// Nesting deeper than the limit, or aliases expanding past the node budget.
    case tooLarge(reason: String, at: YAMLMark)
    /// The file holds no document, or more than one where one was expected.
    case documentCount(found: Int, file: String)
    /// libyaml's emitter failed (a bug in the tree, or out of memory).
    case emitter(problem: String)

    public var message: String {
        switch self {
        case .syntax(let problem, let context, let at):
            let ctx = context.map { " \($0)" } ?? ""
            return "\(at): YAML syntax error: \(problem)\(ctx). Fix the file at that line and column."
        case .encoding(let problem, let at):
            return "\(at): cannot read the file as YAML text: \(problem). Save it as UTF-8."
        case .undefinedAlias(let name, let at):
            return "\(at): alias *\(name) refers to an anchor &\(name) that is not defined before it."
        case .duplicateKey(let key, let at, let first):
            return "\(at): key '\(key)' appears twice in the same mapping (first at line \(first.line)). Keep one."
        case .complexKey(let at):
            return "\(at): mapping keys must be plain values, not lists or mappings."
        case .invalidMerge(let at):
            return "\(at): a merge key '<<' must be followed by a mapping or a list of mappings (usually an alias like *defaults)."
        case .tooLarge(let reason, let at):
            return "\(at): document is too large: \(reason)."
        case .documentCount(let found, let file):
            return found == 0
                ? "\(file): the file holds no YAML document. Check that it is the right file."
                : "\(file): expected one YAML document, found \(found) ('---' separators). Keep one document per file."
        case .emitter(let problem):
            return "cannot write YAML: \(problem)."
        }
    }

    public var exitStatus: ExitStatus {
        switch self {
        case .emitter: return .environment
        default: return .badInput
        }
    }
}
