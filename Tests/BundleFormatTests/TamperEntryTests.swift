import BundleFormat
import Foundation
import Testing

/// Hostile archive entries: what a maliciously crafted archive would try against
/// an extractor, plus damaged archives. Each fails for exactly the planted reason.
@Suite("Tamper: hostile entries and damaged archives")
struct TamperEntryTests {
    static let root = "demo-1.0.0"

    // MARK: - Entry kinds

    @Test("entry kinds other than files and directories are rejected", arguments: [
        (FixtureEntry.symlink("\(root)/config/link", to: "/etc/passwd"), VerificationProblem.Check.symlink),
        (FixtureEntry.hardLink("\(root)/config/hard", to: "/etc/shadow"), .hardLink),
        (FixtureEntry.hardLink("\(root)/config/hard2", to: "\(root)/docker-compose.yml"), .hardLink),
        (FixtureEntry.special("\(root)/config/tty", .characterDevice), .device),
        (FixtureEntry.special("\(root)/config/disk", .blockDevice), .device),
        (FixtureEntry.special("\(root)/config/pipe", .fifo), .fifo),
    ])
    func entryKind(entry: FixtureEntry, check: VerificationProblem.Check) throws {
        let report = try Tamper.verify(transform: Tamper.adding(entry))
        #expect(report.failedChecks == [check])
        let relative = String(entry.pathString.dropFirst(Self.root.count + 1))
        #expect(report.has(check, path: relative))
    }

    // MARK: - Path traversal and unsafe names

    @Test("parent traversal with '..' is rejected")
    func parentTraversal() throws {
        let report = try Tamper.verify(transform: Tamper.adding(.file("\(Self.root)/../escape.txt", Data("x".utf8))))
        #expect(report.failedChecks == [.parentTraversal])
    }

    @Test("an absolute path is rejected")
    func absolutePath() throws {
        let report = try Tamper.verify(transform: Tamper.adding(.file("/tmp/fb-absolute-\(UUID().uuidString)", Data("x".utf8))))
        #expect(report.failedChecks == [.absolutePath])
    }

    @Test("an entry outside the root folder is rejected")
    func outsideRoot() throws {
        let report = try Tamper.verify(transform: Tamper.adding(.file("other-1.0.0/x.txt", Data("x".utf8))))
        #expect(report.failedChecks == [.outsideRoot])
    }

    @Test("a file at the top level, beside the root folder, is rejected")
    func topLevelFile() throws {
        let report = try Tamper.verify(transform: Tamper.adding(.file("stray.txt", Data("x".utf8))))
        #expect(report.failedChecks == [.outsideRoot])
    }

    @Test("a root folder that does not match name-version is rejected")
    func rootFolderMismatch() throws {
        let report = try Tamper.verify(transform: { entries in
            entries.map { entry in
                var entry = entry
                entry.path = Array("evil-9.9".utf8) + entry.path.dropFirst(Self.root.utf8.count)
                return entry
            }
        })
        #expect(report.failedChecks == [.rootFolder])
    }

    @Test("a non-UTF-8 name is rejected")
    func nonUTF8() throws {
        var entry = FixtureEntry.file("x", Data("x".utf8))
        entry.path = Array("\(Self.root)/config/".utf8) + [0xFF, 0xFE, 0x41]
        let report = try Tamper.verify(zstd: false, transform: Tamper.adding(entry))
        #expect(report.failedChecks == [.nonUTF8Path])
        #expect(!report.verified)
    }

    @Test("a '.' component is rejected")
    func dotComponent() throws {
        let report = try Tamper.verify(transform: Tamper.adding(.file("\(Self.root)/./config/x", Data("x".utf8))))
        #expect(report.failedChecks == [.unsafePath])
    }

    @Test("a control character in a name is rejected")
    func controlCharacter() throws {
        let report = try Tamper.verify(transform: Tamper.adding(.file("\(Self.root)/config/a\nb", Data("x".utf8))))
        #expect(report.failedChecks == [.unsafePath])
    }

    // MARK: - Duplicates and case

    @Test("a duplicate path is rejected (a later copy must not replace the first)")
    func duplicate() throws {
        let report = try Tamper.verify(transform: Tamper.adding(.file("\(Self.root)/docker-compose.yml", Data("evil".utf8))))
        #expect(report.failedChecks == [.duplicate])
        #expect(report.has(.duplicate, path: "docker-compose.yml"))
    }

    @Test("a second MANIFEST.json is rejected and does not replace the first")
    func duplicateManifest() throws {
        let report = try Tamper.verify(transform: Tamper.adding(.file("\(Self.root)/MANIFEST.json", Data("{}".utf8))))
        #expect(report.has(.duplicate, path: "MANIFEST.json"))
        #expect(report.manifest?.name == "demo")
    }

    @Test("names that differ only by case are rejected")
    func caseCollision() throws {
        let report = try Tamper.verify(transform: Tamper.adding(.file("\(Self.root)/Docker-Compose.yml", Data("x".utf8))))
        #expect(report.failedChecks == [.caseCollision])
    }

    // MARK: - Modes

    @Test("setuid, setgid and sticky bits are rejected", arguments: [UInt32(0o4755), 0o2755, 0o1755])
    func specialBits(mode: UInt32) throws {
        let report = try Tamper.verify(configure: { bundle, _ in
            let index = bundle.payload.firstIndex { $0.pathString == "scripts/install.sh" }!
            bundle.payload[index].mode = mode
        })
        #expect(report.failedChecks == [.specialModeBits])
        #expect(report.has(.specialModeBits, path: "scripts/install.sh"))
    }

    @Test("a mode other than 0644/0755 is rejected")
    func worldWritable() throws {
        let report = try Tamper.verify(configure: { bundle, _ in
            let index = bundle.payload.firstIndex { $0.pathString == "config/tenant.json" }!
            bundle.payload[index].mode = 0o666
        })
        #expect(report.failedChecks == [.mode])
        #expect(report.problems.first?.actual == "0666")
    }

    // MARK: - Damaged archives

    @Test("a truncated archive is reported as truncated, not a crash", arguments: [true, false])
    func truncated(zstd: Bool) throws {
        let report = try Tamper.verify(zstd: zstd, afterWrite: { path in
            let size = try FileManager.default.attributesOfItem(atPath: path)[.size] as! Int
            #expect(truncate(path, off_t(size * 6 / 10)) == 0)
        })
        #expect(report.has(.archive))
        let archive = try #require(report.problems.first { $0.check == .archive })
        #expect(archive.message.contains("truncated"))
        #expect(archive.path != nil)
    }

    @Test("a corrupt zstd stream is reported as such")
    func corruptZstd() throws {
        let report = try Tamper.verify(afterWrite: { path in
            var data = try Data(contentsOf: URL(fileURLWithPath: path))
            let middle = data.count / 2
            for offset in middle..<(middle + 64) { data[offset] ^= 0x5A }
            try data.write(to: URL(fileURLWithPath: path))
        })
        let archive = try #require(report.problems.first { $0.check == .archive })
        #expect(archive.message.contains("corrupt zstd stream at entry"))
    }
}
