import BundleFormat
import Foundation
import Testing

/// Hostile extracted folders: the same checks as for archives, on disk, with
/// nothing followed through symlinks.
@Suite("Tamper: extracted bundle folders")
struct TamperFolderTests {
    private func verifyFolder(_ tamper: (String) throws -> Void) throws -> VerificationReport {
        let temp = try TemporaryFolder()
        defer { temp.remove() }
        let folder = try FixtureBundle.standard(in: temp.path).writeFolder(in: temp.path)
        try tamper(folder)
        return try BundleVerifier.verify(path: folder)
    }

    @Test("a flipped byte in an extracted file")
    func flippedByte() throws {
        let report = try verifyFolder { folder in
            let path = folder + "/docker-compose.yml"
            var data = try Data(contentsOf: URL(fileURLWithPath: path))
            data[0] ^= 1
            try data.write(to: URL(fileURLWithPath: path))
        }
        #expect(report.failedChecks == [.sha256])
        #expect(report.has(.sha256, path: "docker-compose.yml"))
    }

    @Test("a file replaced by a symlink is not followed")
    func symlinkReplacesFile() throws {
        let report = try verifyFolder { folder in
            unlink(folder + "/config/tenant.json")
            symlink("/etc/hostname", folder + "/config/tenant.json")
        }
        #expect(report.failedChecks == [.symlink, .missingFile])
        #expect(report.has(.symlink, path: "config/tenant.json"))
    }

    @Test("an extra file in the folder")
    func extraFile() throws {
        let report = try verifyFolder { folder in
            try Data("x".utf8).write(to: URL(fileURLWithPath: folder + "/scripts/extra.sh"))
        }
        #expect(report.failedChecks == [.unlistedFile])
    }

    @Test("a setuid file in the folder")
    func setuid() throws {
        let report = try verifyFolder { folder in chmod(folder + "/scripts/install.sh", 0o4755) }
        #expect(report.failedChecks == [.specialModeBits])
    }

    @Test("a FIFO in the folder")
    func fifo() throws {
        let report = try verifyFolder { folder in mkfifo(folder + "/config/pipe", 0o644) }
        #expect(report.failedChecks == [.fifo])
    }

    @Test("a hard link to a bundle file")
    func hardLink() throws {
        let report = try verifyFolder { folder in link(folder + "/docker-compose.yml", folder + "/config/copy.yml") }
        #expect(report.has(.hardLink, path: "config/copy.yml"))
        #expect(report.has(.hardLink, path: "docker-compose.yml"))
    }

    @Test("a narrower mode (umask) is a warning, a world-writable one a problem")
    func modes() throws {
        let narrowed = try verifyFolder { folder in chmod(folder + "/config/tenant.json", 0o600) }
        #expect(narrowed.problems == [])
        #expect(narrowed.warnings.contains { $0.contains("config/tenant.json") })
        let writable = try verifyFolder { folder in chmod(folder + "/config/tenant.json", 0o666) }
        #expect(writable.failedChecks == [.mode])
    }
}
