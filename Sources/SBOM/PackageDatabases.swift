import FrostbyteCore
import FoundationEssentials

/// One installed OS package, as the catalogue records it.
public struct CataloguedPackage: Sendable, Equatable {
    /// The purl type: `deb`, `apk` (OS packages), `pypi`, `npm`, `golang`.
    public var type: String
    public var name: String
    public var version: String
    public var architecture: String
    /// The diff ID of the layer that brought this version of the package.
    public var layer: String
    /// The file a language package was read from (its metadata file, or the Go
    /// binary); nil for OS packages, which their database lists.
    public var location: String?

    public init(type: String, name: String, version: String, architecture: String, layer: String,
                location: String? = nil) {
        self.type = type; self.name = name; self.version = version; self.architecture = architecture; self.layer = layer
        self.location = location
    }

    /// Identity across layers: the same key with another version is an upgrade.
    var key: String { "\(type)/\(name):\(architecture)" + (location.map { "@" + $0 } ?? "") }
}

/// `etc/os-release` (or `usr/lib/os-release`): the distribution.
public struct OSRelease: Sendable, Equatable {
    public var id: String
    public var versionID: String?
    public var versionCodename: String?
    public var prettyName: String?

    /// Parses `KEY=value` lines (values optionally quoted); nil without `ID`.
    public init?(_ data: Data) {
        var fields: [String: String] = [:]
        for line in String(decoding: data, as: UTF8.self).split(separator: "\n") {
            guard let equals = line.firstIndex(of: "="), !line.hasPrefix("#") else { continue }
            var value = line[line.index(after: equals)...].trimmed(.whitespaces)
            if value.count >= 2, let first = value.first, first == "\"" || first == "'", value.last == first {
                value = String(value.dropFirst().dropLast())
            }
            fields[String(line[..<equals]).trimmed(.whitespaces)] = value
        }
        guard let id = fields["ID"], !id.isEmpty else { return nil }
        self.id = id.lowercased()
        versionID = fields["VERSION_ID"]
        versionCodename = fields["VERSION_CODENAME"]
        prettyName = fields["PRETTY_NAME"]
    }

    /// The purl `distro` qualifier: `debian-12`, `alpine-3.19.1` (`debian-trixie` without VERSION_ID).
    public var distroQualifier: String? {
        (versionID ?? versionCodename).map { "\(id)-\($0)" }
    }
}

/// Readers of the package databases, each giving (name, version, architecture) of
/// the packages installed.
enum PackageDatabases {
    /// dpkg's `status` file: the stanzas whose `Status` ends in `installed` (what
    /// `dpkg-query -W` lists in state `ii`). A distroless `status.d/<name>` file
    /// (`requireStatus: false`) carries no `Status`: each stanza is installed.
    static func dpkg(_ data: Data, requireStatus: Bool = true) -> [(name: String, version: String, architecture: String)] {
        stanzas(data).compactMap { fields in
            guard let name = fields["Package"], let version = fields["Version"] else { return nil }
            if requireStatus || fields["Status"] != nil {
                guard fields["Status"]?.split(separator: " ").last == "installed" else { return nil }
            }
            return (name, version, fields["Architecture"] ?? "")
        }
    }

    /// apk's `lib/apk/db/installed`: `P:` name, `V:` version, `A:` architecture.
    static func apk(_ data: Data) -> [(name: String, version: String, architecture: String)] {
        stanzas(data).compactMap { fields in
            guard let name = fields["P"], let version = fields["V"] else { return nil }
            return (name, version, fields["A"] ?? "")
        }
    }

    /// The packages of an rpm sqlite database (`rpmdb.sqlite`): version
    /// `[EPOCH:]VERSION-RELEASE`; empty when the file is no such database.
    static func rpm(_ data: Data) -> [(name: String, version: String, architecture: String)] {
        (RPMDatabase(data)?.headerBlobs() ?? []).compactMap(RPMHeader.package)
    }

    /// Blank-line separated stanzas of `Key:value` lines; continuation
    /// lines (starting with a space or tab) are skipped.
    private static func stanzas(_ data: Data) -> [[String: String]] {
        var result: [[String: String]] = []
        var current: [String: String] = [:]
        for line in String(decoding: data, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false) {
            if line.trimmed(.whitespaces).isEmpty {
                if !current.isEmpty { result.append(current) }
                current = [:]
                continue
            }
            guard let first = line.first, first != " " && first != "\t",
                  let colon = line.firstIndex(of: ":") else { continue }
            let key = String(line[..<colon])
            if current[key] == nil {
                current[key] = line[line.index(after: colon)...].trimmed(.whitespaces)
            }
        }
        if !current.isEmpty { result.append(current) }
        return result
    }
}
