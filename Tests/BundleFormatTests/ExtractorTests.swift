import BundleFormat
import FrostbyteArchive
import Foundation
import Testing

/// Verify-while-extracting, the path `install` takes: entries are written only
/// below the staging folder, and the staging folder disappears when anything fails.
@Suite("Extractor: verify and extract into a staging folder")
struct ExtractorTests {
    static let root = "demo-1.0.0"

    /// Builds the bundle with `transform`, verifies it with extraction into
    /// `<temp>/area/staging`, and returns the report (or the error) plus the folder.
    private func extract(
        transform: @escaping ([FixtureEntry]) throws -> [FixtureEntry] = { $0 },
        check: (Result<VerificationReport, Error>, TemporaryFolder, String) throws -> Void
    ) throws {
        let temp = try TemporaryFolder()
        defer { temp.remove() }
        let bundle = try FixtureBundle.standard(in: temp.path)
        let path = try bundle.write(to: temp.file("b.tar.zst"), transform: transform)
        let area = temp.file("area")
        try FileManager.default.createDirectory(atPath: area, withIntermediateDirectories: true)
        let staging = area + "/staging"
        let result = Result { try BundleVerifier.verify(archiveAt: path, extractTo: staging) }
        try check(result, temp, area)
    }

    @Test("a good bundle is extracted completely, relative to its root folder, with its modes")
    func goodExtraction() throws {
        try extract { result, _, area in
            let report = try result.get()
            #expect(report.verified)
            let staging = area + "/staging"
            let again = try BundleVerifier.verify(path: staging)
            #expect(again.problems == [])
            var info = stat()
            #expect(stat(staging + "/scripts/install.sh", &info) == 0)
            #expect(info.st_mode & 0o7777 == 0o755)
            #expect(stat(staging + "/docker-compose.yml", &info) == 0)
            #expect(info.st_mode & 0o7777 == 0o644)
            #expect(FileManager.default.fileExists(atPath: staging + "/MANIFEST.json"))
            #expect(stat(staging, &info) == 0)
            #expect(info.st_mode & 0o7777 == 0o755)
        }
    }

    @Test("a failed verification removes the staging folder", arguments: [
        "flipped byte", "extra file", "missing file",
    ])
    func failedVerificationDiscards(kind: String) throws {
        let transform: ([FixtureEntry]) -> [FixtureEntry]
        switch kind {
        case "flipped byte": transform = Tamper.flipByte(in: "\(Self.root)/images/app.tar", at: 2000)
        case "extra file": transform = Tamper.adding(.file("\(Self.root)/extra", Data("x".utf8)))
        default: transform = Tamper.removing("\(Self.root)/models/embed.bin")
        }
        try extract(transform: transform) { result, _, area in
            let report = try result.get()
            #expect(!report.verified)
            #expect(!FileManager.default.fileExists(atPath: area + "/staging"))
            #expect(TemporaryFolder.list(area) == [])
        }
    }

    @Test("a truncated archive removes the staging folder")
    func truncatedDiscards() throws {
        let temp = try TemporaryFolder()
        defer { temp.remove() }
        let path = try FixtureBundle.standard(in: temp.path).write(to: temp.file("b.tar.zst"))
        let size = try FileManager.default.attributesOfItem(atPath: path)[.size] as! Int
        truncate(path, off_t(size / 2))
        let staging = temp.file("staging")
        let report = try BundleVerifier.verify(archiveAt: path, extractTo: staging)
        #expect(report.has(.archive))
        #expect(!FileManager.default.fileExists(atPath: staging))
    }

    // MARK: - Path traversal and symlink attacks

    @Test("nothing is written outside the staging folder", arguments: [
        "dotdot", "absolute", "symlink-then-write-through", "hardlink", "dotdot-deep",
    ])
    func nothingOutside(attack: String) throws {
        let marker = "fb-escape-\(UUID().uuidString)"
        let absolute = NSTemporaryDirectory() + "/" + marker
        defer { unlink(absolute) }
        try extract(transform: { entries in
            switch attack {
            case "dotdot":
                return entries + [.file("\(Self.root)/../\(marker)", Data("pwned".utf8))]
            case "dotdot-deep":
                return entries + [.file("\(Self.root)/config/../../../\(marker)", Data("pwned".utf8))]
            case "absolute":
                return entries + [.file(absolute, Data("pwned".utf8))]
            case "symlink-then-write-through":
                // The classic: a symlink to the outside, then a file "inside" it.
                let outside = URL(fileURLWithPath: absolute).deletingLastPathComponent().path
                return entries + [.symlink("\(Self.root)/config/out", to: outside),
                                  .file("\(Self.root)/config/out/\(marker)", Data("pwned".utf8))]
            default:
                return entries + [.hardLink("\(Self.root)/config/hl", to: "/etc/passwd")]
            }
        }) { result, temp, area in
            let report = try result.get()
            #expect(!report.verified)
            #expect(!FileManager.default.fileExists(atPath: absolute))
            #expect(!FileManager.default.fileExists(atPath: temp.path + "/" + marker))
            #expect(!FileManager.default.fileExists(atPath: area + "/" + marker))
            #expect(TemporaryFolder.list(area) == [])
        }
    }

    @Test("an existing staging folder is refused, not reused")
    func stagingExists() throws {
        let temp = try TemporaryFolder()
        defer { temp.remove() }
        let path = try FixtureBundle.standard(in: temp.path).write(to: temp.file("b.tar.zst"))
        let staging = temp.file("staging")
        try FileManager.default.createDirectory(atPath: staging, withIntermediateDirectories: false)
        #expect(throws: ExtractionError.stagingExists(path: staging)) {
            try BundleVerifier.verify(archiveAt: path, extractTo: staging)
        }
        #expect(FileManager.default.fileExists(atPath: staging))
    }

    // MARK: - SafeExtractor directly

    @Test("SafeExtractor never follows a symlink planted inside the staging folder")
    func plantedSymlink() throws {
        let temp = try TemporaryFolder()
        defer { temp.remove() }
        let outside = temp.file("outside")
        try FileManager.default.createDirectory(atPath: outside, withIntermediateDirectories: false)
        let extractor = try SafeExtractor(stagingPath: temp.file("staging"))
        symlink(outside, temp.file("staging/dir"))
        symlink(outside + "/file", temp.file("staging/file"))
        #expect(throws: ExtractionError.self) { _ = try extractor.createFile("dir/x", mode: 0o644) }
        #expect(throws: ExtractionError.self) { _ = try extractor.createFile("file", mode: 0o644) }
        #expect(throws: ExtractionError.self) { try extractor.makeDirectory("dir", mode: 0o755) }
        #expect(TemporaryFolder.list(outside) == [])
        extractor.discard()
        #expect(!FileManager.default.fileExists(atPath: temp.file("staging")))
        #expect(FileManager.default.fileExists(atPath: outside))
    }

    @Test("SafeExtractor refuses unsafe paths and existing files, and masks modes",
          arguments: ["../x", "/etc/x", "a/../b", "./a", "a//b", ""])
    func unsafePaths(path: String) throws {
        let temp = try TemporaryFolder()
        defer { temp.remove() }
        let extractor = try SafeExtractor(stagingPath: temp.file("staging"))
        #expect(throws: ExtractionError.unsafePath(path)) { _ = try extractor.createFile(path, mode: 0o644) }
        let writer = try extractor.createFile("ok/file", mode: 0o4755)
        try writer.finish()
        var info = stat()
        #expect(stat(temp.file("staging/ok/file"), &info) == 0)
        #expect(info.st_mode & 0o7777 == 0o755)
        #expect(throws: ExtractionError.self) { _ = try extractor.createFile("ok/file", mode: 0o644) }
    }
}

extension TemporaryFolder {
    /// Every path below `folder` (relative), sorted.
    static func list(_ folder: String) -> [String] {
        (FileManager.default.subpaths(atPath: folder) ?? []).sorted()
    }
}
