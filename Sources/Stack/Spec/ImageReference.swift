/// A Docker image reference split into repository, tag and digest, following the
/// distribution reference grammar (github.com/distribution/reference):
/// `[host[:port]/]path[:tag][@algo:hex]`.
public struct ImageReference: Sendable, Hashable, CustomStringConvertible {
    /// The reference exactly as written.
    public let text: String
    /// Registry host (with port) when the first component looks like one, else nil.
    public let host: String?
    /// Slash-separated path components (`library/postgres`).
    public let path: String
    /// The tag, if any.
    public let tag: String?
    /// The digest (`sha256:...`), if any.
    public let digest: String?

    /// Parses a reference; nil when it does not follow the grammar (upper case in
    /// the repository, empty components, bad tag characters, bad digest).
    public init?(_ text: String) {
        guard !text.isEmpty, text.count <= 512, !text.contains(where: { $0.isWhitespace }) else { return nil }
        self.text = text
        var rest = Substring(text)
        if let at = rest.firstIndex(of: "@") {
            let digest = rest[rest.index(after: at)...]
            let parts = digest.split(separator: ":", maxSplits: 1)
            guard parts.count == 2, parts[0] == "sha256", parts[1].count == 64,
                  parts[1].allSatisfy({ $0.isHexDigit && !$0.isUppercase }) else { return nil }
            self.digest = String(digest)
            rest = rest[..<at]
        } else {
            digest = nil
        }
        let lastSlash = rest.lastIndex(of: "/")
        let nameStart = lastSlash.map { rest.index(after: $0) } ?? rest.startIndex
        if let colon = rest[nameStart...].lastIndex(of: ":") {
            let tag = rest[rest.index(after: colon)...]
            guard Self.isValidTag(tag) else { return nil }
            self.tag = String(tag)
            rest = rest[..<colon]
        } else {
            tag = nil
        }
        var components = rest.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        if components.count > 1, let first = components.first,
           first.contains(".") || first.contains(":") || first == "localhost" {
            host = first
            components.removeFirst()
        } else {
            host = nil
        }
        guard !components.isEmpty, components.allSatisfy(Self.isValidPathComponent) else { return nil }
        path = components.joined(separator: "/")
    }

    /// True when the reference pins a version: a tag or a digest.
    public var isPinned: Bool { tag != nil || digest != nil }

    /// The reference with Docker Hub defaults made explicit
    /// (`postgres:16` → `docker.io/library/postgres:16`), for comparing references.
    public var normalized: String {
        let registry = host ?? "docker.io"
        let fullPath = (registry == "docker.io" && !path.contains("/")) ? "library/\(path)" : path
        var result = "\(registry)/\(fullPath)"
        if let tag { result += ":\(tag)" }
        if let digest { result += "@\(digest)" }
        return result
    }

    public var description: String { text }

    private static func isValidTag(_ tag: Substring) -> Bool {
        guard let first = tag.first, tag.count <= 128, first.isASCII,
              first.isLetter || first.isNumber || first == "_" else { return false }
        return tag.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "_.-".contains($0)) }
    }

    /// `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*`
    private static func isValidPathComponent(_ component: String) -> Bool {
        guard let first = component.first, let last = component.last,
              isLowerAlnum(first), isLowerAlnum(last) else { return false }
        var separatorRun = ""
        for c in component {
            if isLowerAlnum(c) {
                if !separatorRun.isEmpty {
                    guard separatorRun == "." || separatorRun == "_" || separatorRun == "__"
                        || separatorRun.allSatisfy({ $0 == "-" }) else { return false }
                    separatorRun = ""
                }
            } else if "._-".contains(c) {
                separatorRun.append(c)
            } else {
                return false
            }
        }
        return true
    }

    private static func isLowerAlnum(_ c: Character) -> Bool {
        c.isASCII && (c.isLowercase || c.isNumber)
    }
}
