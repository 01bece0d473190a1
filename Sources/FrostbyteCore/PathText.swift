/// Path arithmetic on plain strings, as NSString's path methods did it for this
/// package before it moved to FoundationEssentials (which has no NSString). No
/// file system access; "/" is the only separator; no normalisation beyond what
/// each method says.
public enum PathText {
    /// `folder` + "/" + `name`, without doubling a trailing "/"; `name` alone when
    /// `folder` is empty. ("a", "b") -> "a/b", ("a/", "b") -> "a/b", ("/", "b") -> "/b".
    public static func join(_ folder: String, _ name: String) -> String {
        if folder.isEmpty { return name }
        return folder.hasSuffix("/") ? folder + name : folder + "/" + name
    }

    /// The last component, ignoring trailing "/": "/a/b/" -> "b", "/" -> "/", "" -> "".
    public static func lastComponent(_ path: String) -> String {
        let trimmed = trimmingTrailingSlashes(path)
        if trimmed == "/" || trimmed.isEmpty { return trimmed }
        return String(trimmed.split(separator: "/", omittingEmptySubsequences: false).last ?? "")
    }

    /// Everything before the last component: "a/b" -> "a", "/a" -> "/", "a" -> "",
    /// "/a/b/" -> "/a", "/" -> "/".
    public static func deletingLastComponent(_ path: String) -> String {
        let trimmed = trimmingTrailingSlashes(path)
        guard let slash = trimmed.lastIndex(of: "/") else { return "" }
        if slash == trimmed.startIndex { return "/" }
        return trimmingTrailingSlashes(String(trimmed[..<slash]))
    }

    private static func trimmingTrailingSlashes(_ path: String) -> String {
        var text = Substring(path)
        while text.count > 1 && text.hasSuffix("/") { text = text.dropLast() }
        return String(text)
    }
}
