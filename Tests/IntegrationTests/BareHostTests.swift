import Foundation
import Testing
import TestSupport

/// The installer inside a bundle runs on a bare air-gapped host: in a chroot of a
/// `debootstrap --variant=minbase` Debian root with nothing added (no Docker,
/// no libarchive, OpenSSL, libyaml or libzstd), the demo bundle's own
/// bin/frostbyte-bundle (the release binary) starts, verifies the bundle and
/// rejects a tampered copy, the bundle's verify.sh --files works without Docker,
/// and install stops with exit 3 and one sentence because no Docker is there.
///
/// Needs root, FROSTBYTE_RELEASE_BIN (scripts/release-binary), the roots of
/// scripts/make-minimal-roots and the demo images' archives of
/// scripts/make-demo-images; under CI=true a missing one fails the test.
@Suite("bare host: the bundled binary in minimal Debian roots",
       .enabled(if: ReleaseBinarySupport.rootsEnabled), .serialized)
struct BareHostTests {
    /// The bundle is bind-mounted on /mnt inside the root.
    static let inside = "/mnt"
    static let extracted = inside + "/" + DemoReleaseBundle.topFolder
    static var bin: String { extracted + "/bin/frostbyte-bundle" }

    static func demo() throws -> DemoReleaseBundle { try DemoReleaseBundle.shared.get() }

    static func run(_ suite: String, _ command: [String]) throws -> CommandOutput {
        let root = try ReleaseBinarySupport.requireRoot(suite)
        return try ReleaseBinarySupport.inRoot(root, share: try demo().folder, command)
    }

    @Test("the bundled binary is the release binary and starts", arguments: ReleaseBinarySupport.suites)
    func version(suite: String) throws {
        let demo = try Self.demo()
        let shipped = try Data(contentsOf: URL(fileURLWithPath: demo.extracted + "/bin/frostbyte-bundle"))
        let release = try Data(contentsOf: URL(fileURLWithPath: try ReleaseBinarySupport.requireBinary()))
        #expect(shipped == release, "bin/frostbyte-bundle in the bundle is not FROSTBYTE_RELEASE_BIN")
        // The man page and completions scripts/release-binary writes beside it travel too.
        for file in ["share/man/man1/frostbyte-bundle.1", "share/bash-completion/completions/frostbyte-bundle",
                     "share/zsh/site-functions/_frostbyte-bundle", "share/fish/vendor_completions.d/frostbyte-bundle.fish"] {
            #expect(FileManager.default.fileExists(atPath: demo.extracted + "/" + file), "the bundle lacks \(file)")
        }
        let result = try Self.run(suite, [Self.bin, "--version"])
        #expect(result.status == 0, "\(suite): --version exited \(result.status): \(result.stderr)")
        #expect(!result.stdout.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty)
    }

    @Test("verify-bundle: the bundle passes (0), a tampered copy fails (1)", arguments: ReleaseBinarySupport.suites)
    func verifyBundle(suite: String) throws {
        let good = try Self.run(suite, [Self.bin, "verify-bundle", Self.inside + "/" + DemoReleaseBundle.fileName,
                                        "--trust", Self.inside + "/release.pub"])
        #expect(good.status == 0, "\(suite): \(good.stderr)")
        let bad = try Self.run(suite, [Self.bin, "verify-bundle",
                                       Self.inside + "/tampered-" + DemoReleaseBundle.fileName,
                                       "--trust", Self.inside + "/release.pub"])
        #expect(bad.status == 1, "\(suite): tampered copy exited \(bad.status): \(bad.stderr)")
    }

    @Test("scripts/verify.sh --files passes without Docker", arguments: ReleaseBinarySupport.suites)
    func verifyFiles(suite: String) throws {
        let root = try ReleaseBinarySupport.requireRoot(suite)
        #expect(!FileManager.default.fileExists(atPath: root + "/usr/bin/docker"), "\(suite) root has docker")
        let result = try Self.run(suite, ["/bin/sh", Self.extracted + "/scripts/verify.sh", "--files",
                                          "--trust", Self.inside + "/release.pub"])
        #expect(result.status == 0, "\(suite): verify.sh --files exited \(result.status): \(result.stderr)")
    }

    @Test("install without Docker: exit 3 and one sentence (wrapper and binary)",
          arguments: ReleaseBinarySupport.suites)
    func installWithoutDocker(suite: String) throws {
        let bundle = Self.inside + "/" + DemoReleaseBundle.fileName
        let wrapper = try Self.run(suite, ["/bin/sh", Self.extracted + "/scripts/install.sh", bundle,
                                           "--trust", Self.inside + "/release.pub"])
        #expect(wrapper.status == 3, "\(suite): install.sh exited \(wrapper.status): \(wrapper.stderr)")
        #expect(Self.oneSentence(wrapper.stderr), "\(suite): install.sh said: \(wrapper.stderr)")
        #expect(wrapper.stderr.contains("docker"), "\(suite): install.sh said: \(wrapper.stderr)")

        let direct = try Self.run(suite, [Self.bin, "install", bundle, "--trust", Self.inside + "/release.pub"])
        #expect(direct.status == 3, "\(suite): install exited \(direct.status): \(direct.stderr)")
        #expect(Self.oneSentence(direct.stderr), "\(suite): install said: \(direct.stderr)")
    }

    /// One non-empty line (a sentence may contain "; " but no second line).
    static func oneSentence(_ text: String) -> Bool {
        let lines = text.split(separator: "\n").filter { !$0.trimmingCharacters(in: .whitespaces).isEmpty }
        return lines.count == 1
    }
}
