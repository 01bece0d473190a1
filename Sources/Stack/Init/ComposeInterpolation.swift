import FrostbyteCore

/// Compose's variable interpolation (the compose-spec "Interpolation" rules):
/// `$$` is a literal `$`; `$VAR` and `${VAR}` take the variable's value;
/// `${VAR:-default}` / `${VAR-default}` the default when the variable is unset or
/// empty / unset; `${VAR:?message}` / `${VAR?message}` fail when it is unset or
/// empty / unset; `${VAR:+alternative}` / `${VAR+alternative}` give the
/// alternative when it is set and not empty / set. Defaults and alternatives may
/// hold interpolations themselves. An unset variable without a default is the
/// empty string, as Compose makes it (with a warning).
public struct ComposeInterpolation: Sendable {
    /// Where a variable's value came from.
    public enum Source: String, Sendable, Codable, Equatable {
        /// The environment of the process (Compose: it wins over `.env`).
        case environment
        /// The `.env` file beside the compose file (or `--env-file`).
        case envFile = "env_file"
        /// Neither: the interpolation's default or alternative applied, or empty.
        case unset
    }

    /// One variable a text referred to.
    public struct Use: Sendable, Equatable, Codable {
        /// The variable's name.
        public var name: String
        /// Where its value came from.
        public var source: Source
        /// Its value (nil when unset).
        public var value: String?
    }

    /// The result of interpolating one text.
    public struct Resolved: Sendable, Equatable {
        /// The text with every interpolation applied.
        public var text: String
        /// The variables it referred to, in order of first use.
        public var uses: [Use]
        /// True when a variable without default resolved to nothing.
        public var hasEmptyVariable: Bool
    }

    /// Why a text could not be interpolated.
    public struct Failure: Error, Sendable, Equatable {
        /// What is wrong, one clause ("'${VAR:?set it}' requires VAR: set it").
        public var reason: String
    }

    /// Variables from the environment (they win, as in Compose).
    public var environment: [String: String]
    /// Variables from the `.env` file.
    public var envFile: [String: String]

    /// Creates an interpolator over the two variable sources.
    public init(environment: [String: String], envFile: [String: String]) {
        self.environment = environment
        self.envFile = envFile
    }

    /// Interpolates `text`.
    /// - Throws: `Failure` for an invalid template or a required variable (`:?`, `?`) that is missing.
    public func resolve(_ text: String) throws -> Resolved {
        var uses: [Use] = []
        var empty = false
        let result = try expand(Array(text), uses: &uses, empty: &empty)
        return Resolved(text: result, uses: uses, hasEmptyVariable: empty)
    }

    /// The value and source of one variable.
    public func lookup(_ name: String) -> (String?, Source) {
        if let value = environment[name] { return (value, .environment) }
        if let value = envFile[name] { return (value, .envFile) }
        return (nil, .unset)
    }

    private func expand(_ chars: [Character], uses: inout [Use], empty: inout Bool) throws -> String {
        var output = ""
        var index = 0
        while index < chars.count {
            let c = chars[index]
            guard c == "$" else {
                output.append(c)
                index += 1
                continue
            }
            let next = index + 1 < chars.count ? chars[index + 1] : nil
            if next == "$" {
                output.append("$")
                index += 2
            } else if let next, Self.isNameStart(next) {
                var end = index + 1
                while end < chars.count, Self.isNameCharacter(chars[end]) { end += 1 }
                let name = String(chars[(index + 1)..<end])
                let value = note(name, uses: &uses)
                if (value ?? "").isEmpty { empty = true }
                output += value ?? ""
                index = end
            } else if next == "{" {
                let close = try Self.closingBrace(chars, from: index + 2)
                output += try braced(Array(chars[(index + 2)..<close]), uses: &uses, empty: &empty)
                index = close + 1
            } else {
                throw Failure(reason: "'$' must be followed by a variable name, '{' or another '$' (write '$$' for a literal '$')")
            }
        }
        return output
    }

    /// The variable's value, recorded in `uses` on first use.
    private func note(_ name: String, uses: inout [Use]) -> String? {
        let (value, source) = lookup(name)
        if !uses.contains(where: { $0.name == name }) { uses.append(Use(name: name, source: source, value: value)) }
        return value
    }

    private func braced(_ body: [Character], uses: inout [Use], empty: inout Bool) throws -> String {
        var end = 0
        while end < body.count, Self.isNameCharacter(body[end]) { end += 1 }
        let name = String(body[0..<end])
        guard let first = name.first, Self.isNameStart(first) else {
            throw Failure(reason: "'${\(String(body))}' does not start with a variable name")
        }
        let value = note(name, uses: &uses)
        guard end < body.count else {
            if (value ?? "").isEmpty { empty = true }
            return value ?? ""
        }
        var operatorEnd = end + 1
        let colon = body[end] == ":"
        if colon { operatorEnd += 1 }
        guard operatorEnd <= body.count else { throw Failure(reason: "'${\(String(body))}' ends after ':'") }
        let op = body[operatorEnd - 1]
        let argument = Array(body[operatorEnd...])
        let isSet = colon ? !(value ?? "").isEmpty : value != nil
        switch op {
        case "-":
            return isSet ? value ?? "" : try expand(argument, uses: &uses, empty: &empty)
        case "+":
            return isSet ? try expand(argument, uses: &uses, empty: &empty) : ""
        case "?":
            guard isSet else {
                let message = try expand(argument, uses: &uses, empty: &empty)
                throw Failure(reason: "'${\(String(body))}' requires \(name)\(message.isEmpty ? "" : ": \(message)")")
            }
            return value ?? ""
        default:
            throw Failure(reason: "'${\(String(body))}' uses an operator Compose does not know (':-', '-', ':?', '?', ':+', '+')")
        }
    }

    /// The index of the `}` closing a `${` whose body starts at `start` (nested `${...}` skipped).
    private static func closingBrace(_ chars: [Character], from start: Int) throws -> Int {
        var depth = 1
        var index = start
        while index < chars.count {
            if chars[index] == "$", index + 1 < chars.count, chars[index + 1] == "{" {
                depth += 1
                index += 2
                continue
            }
            if chars[index] == "}" {
                depth -= 1
                if depth == 0 { return index }
            }
            index += 1
        }
        throw Failure(reason: "'${' is never closed with '}'")
    }

    static func isNameStart(_ c: Character) -> Bool { c.isASCII && (c.isLetter || c == "_") }
    static func isNameCharacter(_ c: Character) -> Bool { c.isASCII && (c.isLetter || c.isNumber || c == "_") }
}

/// The `.env` file format Compose reads (compose-go's dotenv): `KEY=VALUE` lines,
/// optional `export ` prefix, `#` comments, blank lines; single-quoted values are
/// literal, double-quoted ones take `\n`, `\t`, `\\` and `\"` escapes; unquoted and
/// double-quoted values may refer to earlier variables and the environment
/// (`${VAR}`), and lose an inline ` #comment`.
public enum DotEnv {
    /// Why a `.env` file cannot be read: the 1-based line and what is wrong.
    public struct Failure: Error, Sendable, Equatable {
        public var line: Int
        public var reason: String
    }

    /// Parses `.env` text. `environment` is what `${VAR}` inside values may refer to.
    /// - Throws: `Failure` naming the line.
    public static func parse(_ text: String, environment: [String: String]) throws -> [String: String] {
        var values: [String: String] = [:]
        for (offset, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            var line = Substring(rawLine)
            if line.hasSuffix("\r") { line = line.dropLast() }
            line = line.drop { $0 == " " || $0 == "\t" }
            if line.isEmpty || line.hasPrefix("#") { continue }
            if line.hasPrefix("export ") { line = line.dropFirst(7).drop { $0 == " " } }
            guard let equals = line.firstIndex(where: { $0 == "=" || $0 == ":" }) else {
                // A bare name takes its value from the environment, as compose-go does.
                let name = line.trimmed(.whitespaces)
                guard ComposeInterpolation.isValidName(name) else { throw Failure(line: offset + 1, reason: "is not KEY=VALUE") }
                if let value = environment[name] { values[name] = value }
                continue
            }
            let name = line[..<equals].trimmed(.whitespaces)
            guard ComposeInterpolation.isValidName(name) else {
                throw Failure(line: offset + 1, reason: "'\(name)' is not a variable name ([A-Za-z_][A-Za-z0-9_]*)")
            }
            let rest = line[line.index(after: equals)...].drop { $0 == " " || $0 == "\t" }
            let interpolator = ComposeInterpolation(environment: environment, envFile: values)
            do {
                values[name] = try value(rest, interpolator: interpolator)
            } catch let failure as ComposeInterpolation.Failure {
                throw Failure(line: offset + 1, reason: failure.reason)
            }
        }
        return values
    }

    private static func value(_ rest: Substring, interpolator: ComposeInterpolation) throws -> String {
        if rest.hasPrefix("'"), let close = rest.dropFirst().firstIndex(of: "'") {
            return String(rest[rest.index(after: rest.startIndex)..<close])
        }
        if rest.hasPrefix("\""), let close = closingQuote(rest) {
            var unescaped = ""
            var escaping = false
            for c in rest[rest.index(after: rest.startIndex)..<close] {
                if escaping {
                    switch c {
                    case "n": unescaped.append("\n")
                    case "t": unescaped.append("\t")
                    case "r": unescaped.append("\r")
                    default: unescaped.append(c)
                    }
                    escaping = false
                } else if c == "\\" {
                    escaping = true
                } else {
                    unescaped.append(c)
                }
            }
            return try interpolator.resolve(unescaped).text
        }
        var plain = String(rest)
        if let comment = plain.firstRange(of: " #") { plain = String(plain[..<comment.lowerBound]) }
        return try interpolator.resolve(plain.trimmed(.whitespaces)).text
    }

    private static func closingQuote(_ rest: Substring) -> Substring.Index? {
        var escaping = false
        for index in rest.indices.dropFirst() {
            if escaping { escaping = false; continue }
            if rest[index] == "\\" { escaping = true; continue }
            if rest[index] == "\"" { return index }
        }
        return nil
    }
}

extension ComposeInterpolation {
    /// `[A-Za-z_][A-Za-z0-9_]*`.
    static func isValidName(_ name: String) -> Bool {
        guard let first = name.first, isNameStart(first) else { return false }
        return name.allSatisfy(isNameCharacter)
    }
}
