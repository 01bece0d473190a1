@testable import BundleFormat
import FrostbyteArchive
import Foundation
import Testing
import TestSupport

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
    private static func runUnderC(_ arguments: [String]) throws -> CommandOutput {
        let binary = try FrostbyteBinary.path
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        return try TestCommand.run(["env", "-i", "PATH=\(path)", "LANG=C", "LC_ALL=C", binary] + arguments)
    }

    @Test("the real binary's verify-bundle passes under LANG=C LC_ALL=C and checks every non-ASCII entry; a changed byte in one fails by its name")
    func binaryUnderCLocale() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let (bundle, manifest) = try Self.writeBundle(in: folder)

        let human = try Self.runUnderC(["verify-bundle", bundle])
        #expect(human.status == 0, "\(human.stdout)\(human.stderr)")
        #expect(human.stdout.contains(": OK ("))

        let json = try Self.runUnderC(["verify-bundle", bundle, "--json"])
        #expect(json.status == 0, "\(json.stderr)")
        let report = try #require(try JSONSerialization.jsonObject(with: json.data) as? [String: Any])
        #expect(report["verified"] as? Bool == true)
        #expect(report["files_checked"] as? Int == manifest.files.count)
        #expect((report["problems"] as? [Any])?.isEmpty == true)

        // Negative control: one byte of the accented file's content changed (names and
        // manifest intact, recompressed with the zstd CLI, no sidecar). The verifier
        // must read that entry under C too, and name it in the failure.
        let tar = try TestCommand.run(["zstd", "-q", "-d", "-c", bundle])
        try #require(tar.status == 0)
        var bytes = tar.data
        let marker = Data("marker-0-content".utf8)
        let found = try #require(bytes.range(of: marker))
        bytes[found.lowerBound] = UInt8(ascii: "M")
        try bytes.write(to: URL(fileURLWithPath: folder.file("changed.tar")))
        try #require(try TestCommand.run(["zstd", "-q", "-f", folder.file("changed.tar"),
                                          "-o", folder.file("changed.tar.zst")]).status == 0)
        let changed = try Self.runUnderC(["verify-bundle", folder.file("changed.tar.zst")])
        #expect(changed.status == 1, "\(changed.stdout)\(changed.stderr)")
        #expect(changed.stdout.contains("FAILED"))
        #expect(changed.stdout.contains(Self.names[0]), "\(changed.stdout)")
        #expect(!changed.stdout.contains("converted"), "\(changed.stdout)")
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
