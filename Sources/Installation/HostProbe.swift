import FrostbyteCore
import FoundationEssentials
import Glibc

/// Read-only questions to the host outside Docker: routes and free space. Nothing
/// here changes the host.
public enum HostProbe {
    /// One route of the host's main table.
    public struct Route: Sendable, Equatable {
        public var destination: String
        public var device: String
    }

    /// The host's IPv4 routes (`ip -j route show`), the default route left out.
    public static func routes() throws -> [Route] {
        let json = try CommandRunner.check(["ip", "-j", "-4", "route", "show"], timeout: 30)
        struct Entry: Decodable { var dst: String?; var dev: String? }
        let entries = (try? JSONDecoder().decode([Entry].self, from: Data(json.utf8))) ?? []
        return entries.compactMap { entry in
            guard let destination = entry.dst, destination != "default" else { return nil }
            return Route(destination: destination.contains("/") ? destination : "\(destination)/32",
                         device: entry.dev ?? "")
        }
    }

    /// Free bytes for unprivileged-and-root writers on the filesystem holding `path`
    /// (or its nearest existing ancestor), and that filesystem's device number.
    public static func freeSpace(at path: String) -> (bytes: Int64, device: UInt64)? {
        var candidate = path
        while !FileManager.default.fileExists(atPath: candidate) {
            let parent = PathText.deletingLastComponent(candidate)
            if parent == candidate || parent.isEmpty { return nil }
            candidate = parent
        }
        var stats = statvfs()
        var info = stat()
        guard statvfs(candidate, &stats) == 0, stat(candidate, &info) == 0 else { return nil }
        return (Int64(stats.f_bavail) * Int64(stats.f_frsize), UInt64(info.st_dev))
    }
}
