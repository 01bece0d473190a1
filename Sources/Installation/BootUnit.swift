import FrostbyteCore
import InstallationState
import FoundationEssentials
import Glibc

/// The systemd unit that puts an installation's host state back at boot, before
/// dockerd starts any container: `frostbyte-bundle-<project>.service`, a oneshot
/// ordered `Before=docker.service` and wanted by `docker.service` and
/// `multi-user.target`, whose `ExecStart` is `<executable> repair --prefix <prefix>`.
/// The bridges have fixed names, so the rules can exist before the bridges.
///
/// Written by `install` (atomically, only when its text changed), enabled the way
/// `systemctl enable` does it (symlinks in the `.wants/` folders of its `WantedBy`
/// targets, so it works without a running systemd), removed by `uninstall`. A host
/// whose `/etc/systemd/system` does not exist gets no unit (docs/operator.md says
/// what to run at boot there).
public struct BootUnit: Sendable, Equatable {
    /// The targets whose `.wants/` folders enable the unit.
    public static let wantedBy = ["docker.service", "multi-user.target"]

    /// The unit folder: `$FROSTBYTE_SYSTEMD_DIR` when set (tests), else `/etc/systemd/system`.
    public static var defaultFolder: String {
        ProcessInfo.processInfo.environment["FROSTBYTE_SYSTEMD_DIR"].flatMap { $0.isEmpty ? nil : $0 } ?? "/etc/systemd/system"
    }

    public let project: String
    public let prefix: String
    public let folder: String

    public init(project: String, prefix: String, folder: String = BootUnit.defaultFolder) {
        self.project = project; self.prefix = prefix; self.folder = folder
    }

    /// `frostbyte-bundle-<project>.service` (project names are valid unit name characters).
    public var name: String { "frostbyte-bundle-\(project).service" }
    /// The unit file.
    public var path: String { "\(folder)/\(name)" }
    /// The enabling symlinks.
    public var links: [String] { Self.wantedBy.map { "\(folder)/\($0).wants/\(name)" } }
    /// True when the host has a systemd unit folder.
    public var systemdHost: Bool { FileManager.default.fileExists(atPath: folder) }

    /// The program the unit runs: the release's own `bin/frostbyte-bundle` through
    /// `PREFIX/current` when `releaseFolder` carries one (it keeps working across
    /// upgrades), else the executable of this process (a bundle built without the
    /// installer binary).
    public static func executable(prefix: String, releaseFolder: String) -> String {
        if FileManager.default.isExecutableFile(atPath: "\(releaseFolder)/bin/frostbyte-bundle") {
            return "\(InstallationLayout(prefix: prefix).current)/bin/frostbyte-bundle"
        }
        return linkTarget("/proc/self/exe") ?? CommandLine.arguments[0]
    }

    /// Where the symbolic link `path` points; nil when it is no link.
    static func linkTarget(_ path: String) -> String? {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let count = readlink(path, &buffer, buffer.count - 1)
        return count > 0 ? String(decoding: buffer[0..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self) : nil
    }

    /// The unit's text.
    public func text(executable: String) -> String {
        """
        # Written by frostbyte-bundle install for \(prefix); removed by uninstall.
        [Unit]
        Description=frostbyte-bundle: host firewall rules of project \(project) before Docker starts containers
        Before=docker.service
        RequiresMountsFor=\(Self.quoted(prefix))

        [Service]
        Type=oneshot
        RemainAfterExit=yes
        ExecStart=\(Self.quoted(executable)) repair --prefix \(Self.quoted(prefix))

        [Install]
        WantedBy=\(Self.wantedBy.joined(separator: " "))

        """
    }

    /// The unit's `ExecStart` command line as written (for the boot step of tests and operators).
    public func execStart() -> String? {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return nil }
        return text.split(separator: "\n").first { $0.hasPrefix("ExecStart=") }.map { String($0.dropFirst("ExecStart=".count)) }
    }

    /// What `write` found and did.
    public struct State: Codable, Sendable, Equatable {
        public var path: String
        public var executable: String
        /// The unit file was (re)written now.
        public var written: Bool
        /// Enabling symlinks created now.
        public var linked: Int
        enum CodingKeys: String, CodingKey {
            case path, executable, written, linked
        }
    }

    /// Writes the unit unless it already has this text, and enables it; nil on a host
    /// without a systemd unit folder.
    /// - Throws: `FileSystemError` when the folder refuses the file or a link.
    public func write(executable: String) throws -> State? {
        guard systemdHost else { return nil }
        let wanted = text(executable: executable)
        let written = FileManager.default.contents(atPath: path) != Data(wanted.utf8)
        if written { try AtomicFile.write(Data(wanted.utf8), to: path, mode: 0o644) }
        var linked = 0
        for link in links {
            if Self.linkTarget(link) == path { continue }
            try AtomicFile.makeFolder(PathText.deletingLastComponent(link), mode: 0o755)
            unlink(link)
            guard symlink(path, link) == 0 else { throw FileSystemError.current("link", link) }
            linked += 1
        }
        if written || linked > 0 { Self.reloadSystemd() }
        return State(path: path, executable: executable, written: written, linked: linked)
    }

    /// Removes the unit and its links; true when something was removed.
    @discardableResult
    public func remove() -> Bool {
        var removed = false
        for file in links + [path] where unlink(file) == 0 { removed = true }
        if removed { Self.reloadSystemd() }
        return removed
    }

    /// `systemctl daemon-reload` when systemd runs (PID 1 is systemd); nothing otherwise.
    static func reloadSystemd() {
        guard FileManager.default.fileExists(atPath: "/run/systemd/system") else { return }
        _ = try? CommandRunner.run(["systemctl", "daemon-reload"], timeout: 60)
    }

    /// A word of a unit command line, double-quoted when it holds a space or quote.
    static func quoted(_ word: String) -> String {
        guard word.contains(where: { $0 == " " || $0 == "\"" || $0 == "\\" || $0 == "\t" }) else { return word }
        var out = "\""
        for character in word {
            if character == "\\" || character == "\"" { out.append("\\") }
            out.append(character)
        }
        return out + "\""
    }
}
