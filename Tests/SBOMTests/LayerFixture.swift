import FrostbyteCore
import Foundation
import SBOM

/// Layer tars made by GNU tar (a real, independent writer) from folder trees
/// written in the test, and fed to `LayerScanner` in chunks of a chosen size.
struct LayerFixture {
    let scratch: ScratchFolder
    private var count = 0

    init() throws { scratch = try ScratchFolder(prefix: "fb-sbom") }

    /// What to put in a layer: files (path → content), symlinks (path → target),
    /// empty folders, and whiteout marker files.
    struct Tree {
        var files: [String: String] = [:]
        var symlinks: [String: String] = [:]
        var folders: [String] = []
        /// Files with binary content (copied as given).
        var binaries: [String: Data] = [:]
    }

    /// The layer tar of `tree` (pax format, as `docker save`/BuildKit write them).
    mutating func layer(_ tree: Tree, format: String = "posix") throws -> Data {
        count += 1
        let root = "\(scratch.path)/tree\(count)"
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        for folder in tree.folders {
            try FileManager.default.createDirectory(atPath: "\(root)/\(folder)", withIntermediateDirectories: true)
        }
        for (path, content) in tree.files {
            let url = URL(fileURLWithPath: "\(root)/\(path)")
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try Data(content.utf8).write(to: url)
        }
        for (path, content) in tree.binaries {
            let url = URL(fileURLWithPath: "\(root)/\(path)")
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try content.write(to: url)
        }
        for (path, target) in tree.symlinks {
            let url = URL(fileURLWithPath: "\(root)/\(path)")
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try FileManager.default.createSymbolicLink(atPath: url.path, withDestinationPath: target)
        }
        let tar = "\(scratch.path)/layer\(count).tar"
        try CommandRunner.check(["tar", "--format=\(format)", "--sort=name", "-C", root, "-cf", tar, "."])
        return try Data(contentsOf: URL(fileURLWithPath: tar))
    }

    /// Scans `data` in chunks of `chunk` bytes.
    static func scan(_ data: Data, chunk: Int = 1 << 20) -> LayerScan? {
        let scanner = LayerScanner()
        data.withUnsafeBytes { bytes in
            var offset = 0
            while offset < bytes.count {
                let end = min(offset + chunk, bytes.count)
                scanner.consume(UnsafeRawBufferPointer(rebasing: bytes[offset..<end]))
                offset = end
            }
        }
        return scanner.scan
    }

    /// A dpkg status stanza.
    static func stanza(_ name: String, _ version: String, status: String = "install ok installed",
                       arch: String = "amd64") -> String {
        "Package: \(name)\nStatus: \(status)\nPriority: optional\nArchitecture: \(arch)\nVersion: \(version)\n"
            + "Description: \(name)\n the \(name) package\n"
    }

    static let debianRelease = """
        PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"
        NAME="Debian GNU/Linux"
        VERSION_ID="12"
        VERSION_CODENAME=bookworm
        ID=debian

        """
}
