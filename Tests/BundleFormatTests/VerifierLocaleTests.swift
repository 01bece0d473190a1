@testable import BundleFormat
import FrostbyteArchive
import Foundation
import Testing

/// Entry names outside ASCII (UTF-8 in pax `path` records) read the same under every
/// locale: libarchive converts them through the thread's locale, and under C that used
/// to fail with "Pathname can't be converted from UTF-8 to current locale".
@Suite("Verifier: non-ASCII entry names under the C locale")
struct VerifierLocaleTests {
    /// Names that need a pax `path` record: accents, CJK, and one beyond ustar's 100 bytes.
    static let names = [
        "config/café-ünïcødé.json",
        "notes/日本語-ノート.txt",
        "docs/" + String(repeating: "ß", count: 60) + ".md",
    ]

    /// `FROSTBYTE_BIN`, else the `frostbyte-bundle` built beside this test bundle
    /// (the same build as the code under test).
    static let binary: String? = {
        if let explicit = ProcessInfo.processInfo.environment["FROSTBYTE_BIN"], !explicit.isEmpty { return explicit }
        var folder = URL(fileURLWithPath: ProcessInfo.processInfo.arguments[0]).deletingLastPathComponent()
        while folder.path.contains(".xctest") && folder.path != "/" { folder.deleteLastPathComponent() }
        let candidate = folder.appendingPathComponent("frostbyte-bundle").path
        return FileManager.default.isExecutableFile(atPath: candidate) ? candidate : nil
    }()

    /// A zstd bundle from BundleWriter (the code behind `build`) holding `names`, each
    /// with a distinct marker as its content, plus a compose file and one image.
    private static func writeBundle(in folder: TemporaryFolder) throws -> (path: String, manifest: Manifest) {
        let markers = names.enumerated().map { index, name in
            BundleEntry(path: name, source: .data(Data("marker-\(index)-content\n".utf8)))
        }
        let (entries, imageDigest) = try WriterFixture.entries(in: folder, extra: markers)
        let draft = try WriterFixture.draft(version: "4.0.0", entries: entries, imageDigest: imageDigest)
        let path = folder.file("demo-4.0.0.tar.zst")
        let written = try BundleWriter(mtime: 1_767_225_600).write(manifest: draft, entries: entries, to: path)
        return (path, written.manifest)
    }

    /// Runs the binary with exactly `LANG=C LC_ALL=C` (and PATH) as its environment.
    private static func runUnderC(_ arguments: [String]) throws -> WriterTools.Output {
        let binary = try #require(binary, "frostbyte-bundle is not built beside the tests (or set FROSTBYTE_BIN)")
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        return try WriterTools.run(["env", "-i", "PATH=\(path)", "LANG=C", "LC_ALL=C", binary] + arguments)
    }

    @Test("the real binary's verify-bundle passes under LANG=C LC_ALL=C and checks every non-ASCII entry; a changed byte in one fails by its name")
    func binaryUnderCLocale() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let (bundle, manifest) = try Self.writeBundle(in: folder)

        let human = try Self.runUnderC(["verify-bundle", bundle])
        #expect(human.status == 0, "\(human.text)\(human.stderr)")
        #expect(human.text.contains(": OK ("))

        let json = try Self.runUnderC(["verify-bundle", bundle, "--json"])
        #expect(json.status == 0, "\(json.stderr)")
        let report = try #require(try JSONSerialization.jsonObject(with: json.stdout) as? [String: Any])
        #expect(report["verified"] as? Bool == true)
        #expect(report["files_checked"] as? Int == manifest.files.count)
        #expect((report["problems"] as? [Any])?.isEmpty == true)

        // Negative control: one byte of the accented file's content changed (names and
        // manifest intact, recompressed with the zstd CLI, no sidecar). The verifier
        // must read that entry under C too, and name it in the failure.
        let tar = try WriterTools.run(["zstd", "-q", "-d", "-c", bundle])
        try #require(tar.status == 0)
        var bytes = tar.stdout
        let marker = Data("marker-0-content".utf8)
        let found = try #require(bytes.range(of: marker))
        bytes[found.lowerBound] = UInt8(ascii: "M")
        try bytes.write(to: URL(fileURLWithPath: folder.file("changed.tar")))
        try #require(try WriterTools.run(["zstd", "-q", "-f", folder.file("changed.tar"),
                                          "-o", folder.file("changed.tar.zst")]).status == 0)
        let changed = try Self.runUnderC(["verify-bundle", folder.file("changed.tar.zst")])
        #expect(changed.status == 1, "\(changed.text)\(changed.stderr)")
        #expect(changed.text.contains("FAILED"))
        #expect(changed.text.contains(Self.names[0]), "\(changed.text)")
        #expect(!changed.text.contains("converted"), "\(changed.text)")
    }

    @Test("in process: ArchiveReader returns the UTF-8 names under a thread locale of C and leaves that locale as it was")
    func readerUnderCLocale() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let (bundle, _) = try Self.writeBundle(in: folder)
        let cLocale = try #require(newlocale(LC_CTYPE_MASK, "C", nil))
        defer { freelocale(cLocale) }
        let previous = uselocale(cLocale)
        defer { uselocale(previous) }

        let reader = try ArchiveReader(path: bundle)
        var paths: [String] = []
        while let header = try reader.nextEntry() {
            paths.append(try #require(header.utf8Path, "\(header.displayPath) is not UTF-8"))
            try reader.skipData()
        }
        try reader.finish()
        for name in Self.names {
            #expect(paths.contains("demo-4.0.0/\(name)"))
        }
        #expect(uselocale(nil) == cLocale, "the reader must restore the thread's locale")
    }
}
