/// YAML's implicit typing of plain scalars, as a union of YAML 1.1 (PyYAML,
/// old compose) and YAML 1.2 core (go-yaml v3, compose-go): a scalar that any of
/// them reads as non-string is treated as non-string, so a string we emit plain
/// is a string for every reader.
enum ScalarResolution {
    private static let nulls: Set<String> = ["", "~", "null", "Null", "NULL"]
    private static let bools: Set<String> = [
        "true", "True", "TRUE", "false", "False", "FALSE",
        "yes", "Yes", "YES", "no", "No", "NO", "on", "On", "ON", "off", "Off", "OFF",
        "y", "Y", "n", "N",
    ]
    private static let floats: Set<String> = [
        ".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF", "-.inf", "-.Inf", "-.INF",
        ".nan", ".NaN", ".NAN",
    ]

    /// The kind of a plain scalar with text `value`.
    static func kind(ofPlain value: String) -> YAMLScalarKind {
        if nulls.contains(value) { return .null }
        if bools.contains(value) { return .bool }
        if floats.contains(value) { return .float }
        if isInteger(value) { return .int }
        if isFloat(value) { return .float }
        return .string
    }

    /// True when `value` is only truthy booleans (`true`, `yes`, `on`, `y`, any case).
    static func isTrue(_ value: String) -> Bool {
        ["true", "yes", "on", "y"].contains(value.lowercased())
    }

    /// True when `value` is a false boolean (`false`, `no`, `off`, `n`, any case).
    static func isFalse(_ value: String) -> Bool {
        ["false", "no", "off", "n"].contains(value.lowercased())
    }

    private static func isInteger(_ value: String) -> Bool {
        var s = Substring(value)
        if s.first == "+" || s.first == "-" { s = s.dropFirst() }
        guard !s.isEmpty else { return false }
        if s.hasPrefix("0x") { return s.count > 2 && s.dropFirst(2).allSatisfy { $0.isHexDigit || $0 == "_" } }
        if s.hasPrefix("0o") { return s.count > 2 && s.dropFirst(2).allSatisfy { ("0"..."7").contains($0) || $0 == "_" } }
        if s.hasPrefix("0b") { return s.count > 2 && s.dropFirst(2).allSatisfy { $0 == "0" || $0 == "1" || $0 == "_" } }
        // Decimal, YAML 1.1 underscores, and 1.1 sexagesimal (`190:20:30`, so `8080:80`).
        guard s.first!.isASCII, s.first!.isNumber else { return false }
        return s.allSatisfy { ($0.isASCII && $0.isNumber) || $0 == "_" || $0 == ":" }
    }

    private static func isFloat(_ value: String) -> Bool {
        var s = Substring(value)
        if s.first == "+" || s.first == "-" { s = s.dropFirst() }
        guard !s.isEmpty, s.contains(where: { $0.isASCII && $0.isNumber }) else { return false }
        // Digits, one dot, exponent, 1.1 underscores and sexagesimal colons.
        var seenE = false
        var previous: Character = " "
        for c in s {
            switch c {
            case "0"..."9", "_", ":", ".": break
            case "e", "E": if seenE { return false } else { seenE = true }
            case "+", "-": if previous != "e" && previous != "E" { return false }
            default: return false
            }
            previous = c
        }
        return s.first != "e" && s.first != "E" && s.filter({ $0 == "." }).count <= 1
    }

    /// True when `value` can be written as a plain scalar and still read back as the
    /// same string by every YAML reader. Deliberately conservative: anything with
    /// YAML indicators, `$`, `:`, `#`, edge spaces or non-ASCII gets quoted.
    static func isSafePlainString(_ value: String) -> Bool {
        guard let first = value.unicodeScalars.first, kind(ofPlain: value) == .string else { return false }
        guard first.properties.isAlphabetic && first.isASCII || first == "_" || first == "/" else { return false }
        guard value.last != " " else { return false }
        var previousSpace = false
        for scalar in value.unicodeScalars {
            guard scalar.isASCII else { return false }
            switch scalar {
            case "a"..."z", "A"..."Z", "0"..."9", "_", ".", "/", "@", "+", "=", ",", "-":
                previousSpace = false
            case " ":
                if previousSpace { return false }
                previousSpace = true
            default:
                return false
            }
        }
        return true
    }
}
