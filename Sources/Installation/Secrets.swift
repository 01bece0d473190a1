import FrostbyteCore
import InstallationState
import FoundationEssentials
import Glibc

/// The installation's secrets file, `<prefix>/secrets/.env` (0600 in a 0700 folder),
/// made from the bundle's `.env.example`: every `__GENERATE__` value becomes a fresh
/// random value. Generated once and never overwritten: an upgrade only appends keys
/// the new example adds. Values are never printed or logged; only key names are
/// reported.
public enum Secrets {
    /// The placeholder in `.env.example` that asks for a generated value.
    public static let placeholder = "__GENERATE__"

    /// What `ensure` did.
    public struct Outcome: Sendable, Equatable {
        /// True when the file did not exist and was created.
        public var created: Bool
        /// Keys appended to an existing file (names only).
        public var addedKeys: [String]
    }

    /// Creates or extends `layout.secretsEnv` from the example file at `examplePath`
    /// (absent example: an empty `.env`, so `--env-file` always has a file).
    /// - Throws: `InstallError.secretsUnreadable` for a malformed line,
    ///   `InstallError.filesystem` when the file cannot be written.
    @discardableResult
    public static func ensure(layout: InstallationLayout, examplePath: String) throws -> Outcome {
        try AtomicFile.makeFolder(layout.secrets, mode: 0o700, enforceMode: true)
        let example = FileManager.default.contents(atPath: examplePath).map { String(decoding: $0, as: UTF8.self) } ?? ""
        let exampleEntries = try parse(example, origin: examplePath)

        guard let existingData = FileManager.default.contents(atPath: layout.secretsEnv) else {
            var text = ""
            for line in example.split(separator: "\n", omittingEmptySubsequences: false) {
                text += fill(String(line)) + "\n"
            }
            if text.hasSuffix("\n\n") { text.removeLast() }
            try AtomicFile.write(Data(text.utf8), to: layout.secretsEnv, mode: 0o600)
            return Outcome(created: true, addedKeys: [])
        }
        let existing = String(decoding: existingData, as: UTF8.self)
        let present = Set(try parse(existing, origin: layout.secretsEnv).map(\.key))
        let missing = exampleEntries.filter { !present.contains($0.key) }
        // Enforce the mode even when nothing is added: a hand edit may have widened it.
        chmod(layout.secretsEnv, 0o600)
        guard !missing.isEmpty else { return Outcome(created: false, addedKeys: []) }
        var text = existing
        if !text.isEmpty && !text.hasSuffix("\n") { text += "\n" }
        text += "# added on upgrade \(UTCTime.now())\n"
        for entry in missing { text += fill("\(entry.key)=\(entry.value)") + "\n" }
        try AtomicFile.write(Data(text.utf8), to: layout.secretsEnv, mode: 0o600)
        return Outcome(created: false, addedKeys: missing.map(\.key))
    }

    /// The keys of the secrets file, never the values.
    public static func keys(layout: InstallationLayout) throws -> [String] {
        guard let data = FileManager.default.contents(atPath: layout.secretsEnv) else { return [] }
        return try parse(String(decoding: data, as: UTF8.self), origin: layout.secretsEnv).map(\.key)
    }

    /// A random value: 32 bytes from the kernel's CSPRNG as 64 hex digits (safe in
    /// URLs, shells and connection strings without quoting).
    public static func randomValue() -> String {
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<32).map { _ in UInt8.random(in: 0...255, using: &generator) }
        return bytes.map { TextFormat.hex($0, width: 2) }.joined()
    }

    /// Replaces every placeholder in one `KEY=VALUE` line with a fresh random value.
    static func fill(_ line: String) -> String {
        guard line.contains(placeholder), !line.trimmed(.whitespaces).hasPrefix("#") else { return line }
        var result = line
        while let range = result.firstRange(of: placeholder) {
            result.replaceSubrange(range, with: randomValue())
        }
        return result
    }

    /// Parses dotenv text: blank lines and `#` comments skipped, `export ` allowed,
    /// everything else must be `KEY=VALUE` with a shell-style key.
    static func parse(_ text: String, origin: String) throws -> [(key: String, value: String)] {
        var entries: [(key: String, value: String)] = []
        for (index, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            var line = raw.trimmed(.whitespaces)
            if line.isEmpty || line.hasPrefix("#") { continue }
            if line.hasPrefix("export ") { line = String(line.dropFirst(7)).trimmed(.whitespaces) }
            guard let equals = line.firstIndex(of: "=") else {
                throw InstallError.secretsUnreadable(path: origin, line: index + 1)
            }
            let key = String(line[..<equals]).trimmed(.whitespaces)
            guard let first = key.unicodeScalars.first, first == "_" || first.properties.isAlphabetic,
                  key.unicodeScalars.allSatisfy({
                      $0 == "_" || ($0.isASCII && ($0.properties.isAlphabetic || $0.properties.numericType != nil))
                  })
            else { throw InstallError.secretsUnreadable(path: origin, line: index + 1) }
            entries.append((key, String(line[line.index(after: equals)...])))
        }
        return entries
    }
}
