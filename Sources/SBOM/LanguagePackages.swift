import FoundationEssentials
import FrostbyteCore

/// The language packages of a squashed image: Python distributions, npm packages
/// and the modules Go binaries were built from. Each is read from one file the
/// layers kept (`keeps`) or from a Go binary's build info, and names that file.
enum LanguagePackages {
    /// True when the regular file at `path` is language package metadata whose
    /// first `LayerScan.patternFileLimit` bytes a layer keeps, wherever it lies:
    /// `*.dist-info/METADATA`, `*.egg-info/PKG-INFO`, a `*.egg-info` file, and the
    /// `package.json` of a package folder in `node_modules` (`node_modules/NAME/` or
    /// `node_modules/@SCOPE/NAME/`).
    static func keeps(_ path: String) -> Bool {
        let parts = path.split(separator: "/")
        guard let last = parts.last else { return false }
        if last.hasSuffix(".egg-info") { return true }
        guard parts.count >= 2 else { return false }
        let parent = parts[parts.count - 2]
        if last == "METADATA" { return parent.hasSuffix(".dist-info") }
        if last == "PKG-INFO" { return parent.hasSuffix(".egg-info") }
        if last == "package.json" && parts.count >= 3 {
            if parts[parts.count - 3] == "node_modules" { return !parent.hasPrefix("@") && !parent.hasPrefix(".") }
            return parts.count >= 4 && parts[parts.count - 4] == "node_modules" && parts[parts.count - 3].hasPrefix("@")
        }
        return false
    }

    /// One package found: the purl type, name, version and the file it was read from.
    struct Found {
        var type: String
        var name: String
        var version: String
        var path: String
        var layer: Int
    }

    /// Every language package of `view`.
    static func all(in view: SquashedView) -> [Found] {
        var result: [Found] = []
        for (path, placed) in view.nodes {
            switch placed.node {
            case .file(let data) where keeps(path):
                if path.hasSuffix("package.json") {
                    if let (name, version) = npm(data) {
                        result.append(Found(type: "npm", name: name, version: version, path: path, layer: placed.layer))
                    }
                } else if let (name, version) = python(data) {
                    result.append(Found(type: "pypi", name: name, version: version, path: path, layer: placed.layer))
                }
            case .goBinary(let info):
                var modules = [GoBuildInfo.Module(path: "stdlib", version: info.goVersion.split(separator: " ").first.map(String.init) ?? "")]
                if let main = info.mainModule { modules.append(main) }
                modules += info.dependencies
                for module in modules {
                    result.append(Found(type: "golang", name: module.path, version: module.version, path: path,
                                        layer: placed.layer))
                }
            default: break
            }
        }
        return result
    }

    /// `Name:` and `Version:` of a Python core metadata file (the RFC 822 headers
    /// before the first blank line); nil without both.
    static func python(_ data: Data) -> (name: String, version: String)? {
        var name: String?, version: String?
        for line in String(decoding: data, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false) {
            let text = line.hasSuffix("\r") ? line.dropLast() : line
            if text.isEmpty { break }
            if name == nil, text.hasPrefix("Name:") { name = text.dropFirst(5).trimmed(.whitespaces) }
            if version == nil, text.hasPrefix("Version:") { version = text.dropFirst(8).trimmed(.whitespaces) }
        }
        guard let name, let version, !name.isEmpty, !version.isEmpty else { return nil }
        return (name, version)
    }

    /// `name` and `version` of a `package.json`; nil when it is not a JSON object with both.
    static func npm(_ data: Data) -> (name: String, version: String)? {
        struct Package: Decodable { var name: String?; var version: String? }
        guard let package = try? JSONDecoder().decode(Package.self, from: data),
              let name = package.name, let version = package.version, !name.isEmpty, !version.isEmpty else { return nil }
        return (name, version)
    }

    /// PEP 503: lowercase, each run of `-`, `_`, `.` one `-`.
    static func normalizedPythonName(_ name: String) -> String {
        var result = ""
        var inRun = false
        for character in name.lowercased() {
            if character == "-" || character == "_" || character == "." {
                if !inRun { result.append("-") }
                inRun = true
            } else {
                result.append(character)
                inRun = false
            }
        }
        return result
    }

    /// The purl of a language package: `pkg:pypi/NAME@V` (PEP 503 name),
    /// `pkg:npm/%40scope/name@V`, `pkg:golang/MODULE/PATH@V` (the stdlib as
    /// `pkg:golang/stdlib@1.22.1`, without the `go` of `go1.22.1`); nil for other types.
    static func purl(type: String, name: String, version: String) -> String? {
        let encode = CycloneDXWriter.encode
        let at = version.isEmpty ? "" : "@" + encode(version)
        switch type {
        case "pypi": return "pkg:pypi/\(encode(normalizedPythonName(name)))\(at)"
        case "npm", "golang":
            let path = name.split(separator: "/").map { encode(String($0)) }.joined(separator: "/")
            var versionPart = at
            if type == "golang", name == "stdlib", version.hasPrefix("go") { versionPart = "@" + encode(String(version.dropFirst(2))) }
            return "pkg:\(type)/\(path)\(versionPart)"
        default: return nil
        }
    }
}
