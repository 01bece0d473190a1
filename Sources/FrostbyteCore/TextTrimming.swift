/// Which characters `trimmed(_:)` removes from both ends of a string: the few sets
/// the tool needs, without Foundation's CharacterSet (which needs ICU's tables).
public enum TrimmedCharacters: Sendable {
    /// Spaces, tabs, line breaks (`Character.isWhitespace`).
    case whitespacesAndNewlines
    /// Spaces and tabs, not line breaks.
    case whitespaces
    /// Line breaks only (`Character.isNewline`).
    case newlines
    /// Exactly these characters.
    case characters(String)

    func contains(_ character: Character) -> Bool {
        switch self {
        case .whitespacesAndNewlines: return character.isWhitespace
        case .whitespaces: return character.isWhitespace && !character.isNewline
        case .newlines: return character.isNewline
        case .characters(let set): return set.contains(character)
        }
    }
}

extension StringProtocol {
    /// The string without leading and trailing characters of `set`.
    public func trimmed(_ set: TrimmedCharacters = .whitespacesAndNewlines) -> String {
        guard let first = firstIndex(where: { !set.contains($0) }) else { return "" }
        let last = lastIndex(where: { !set.contains($0) })!
        return String(self[first...last])
    }
}
