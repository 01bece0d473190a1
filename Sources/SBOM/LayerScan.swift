import FoundationEssentials

/// What one image layer says about the few paths the catalogue reads: the package
/// databases and os-release files it writes, and the whiteouts and opaque folders
/// that hide lower layers' versions of them. Everything else of the layer is skipped,
/// so a scan holds a few small files whatever the layer's size.
public struct LayerScan: Sendable, Equatable {
    /// What a layer puts at a path.
    public enum Node: Sendable, Equatable {
        case file(Data)
        case symlink(String)
        case directory
        /// Anything else (a hard link, a device, a file too big to keep): hides what
        /// lower layers had at the path, and under it.
        case other
        /// A regular file that is a Go binary: its embedded build info (`GoBuildInfo`).
        case goBinary(GoBuildInfo)
    }

    /// Kept paths (relative, no leading `/`) and the ancestors of kept paths.
    public var nodes: [String: Node] = [:]
    /// Paths a `.wh.<name>` entry deletes from lower layers (and everything under them).
    /// Every whiteout of the layer is listed (language packages may be anywhere).
    public var whiteouts: [String] = []
    /// Folders a `.wh..wh..opq` entry empties of lower layers' content (all of the layer's).
    public var opaqueFolders: [String] = []

    public init() {}

    /// True when the layer touches none of the catalogued paths.
    public var isEmpty: Bool { nodes.isEmpty && whiteouts.isEmpty && opaqueFolders.isEmpty }

    /// Files whose content the catalogue reads.
    public static let keptFiles: Set<String> = [
        "var/lib/dpkg/status", "etc/os-release", "usr/lib/os-release", "lib/apk/db/installed",
        "var/lib/rpm/rpmdb.sqlite", "usr/lib/sysimage/rpm/rpmdb.sqlite",
    ]
    /// Folders whose direct regular files the catalogue reads (distroless-style dpkg).
    public static let keptFolders: Set<String> = ["var/lib/dpkg/status.d"]
    /// The largest file kept in memory; a bigger one counts as `.other`.
    public static let keptFileLimit: Int64 = 16 << 20

    /// Every ancestor folder of a kept path: an entry there (a symlink, a file
    /// replacing the folder, a whiteout) changes what the kept path resolves to.
    static let ancestors: Set<String> = {
        var result = Set<String>()
        for path in keptFiles.union(keptFolders) {
            var parts = path.split(separator: "/").dropLast()
            while !parts.isEmpty {
                result.insert(parts.joined(separator: "/"))
                parts = parts.dropLast()
            }
        }
        return result.union(keptFolders)
    }()

    /// True when the content of the regular file at `path` is kept whole (up to
    /// `keptFileLimit`; a bigger one counts as `.other`).
    public static func keepsContent(_ path: String) -> Bool {
        if keptFiles.contains(path) { return true }
        guard let slash = path.lastIndex(of: "/") else { return false }
        return keptFolders.contains(String(path[..<slash]))
    }

    /// The largest prefix of a `LanguagePackages.keeps` file kept: the metadata
    /// headers come first; a longer file is cut there (a cut `package.json` is not read).
    public static let patternFileLimit = 256 << 10

    /// True when an entry at `path` matters to the catalogue at all.
    public static func matters(_ path: String) -> Bool {
        keepsContent(path) || ancestors.contains(path)
    }
}
