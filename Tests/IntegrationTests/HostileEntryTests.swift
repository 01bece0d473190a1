import Foundation
import Testing
import TestSupport

/// A small hostile bundle must not make the verifier or the installer read, hash or
/// write gigabytes before it says no: the model is replaced by a 3 GiB zero-filled
/// entry under the same name (the whole bundle compresses to a few MB), and an
/// unlisted 3 GiB entry is added to another copy. Both are refused at the entry's
/// header: exit 1, and the installer's staging area never receives a byte of it.
@Suite("Hostile entries are refused at their header", .serialized)
struct HostileEntryTests {
    static let hugeSize: Int64 = 3 << 30

    /// Repacks the bundle at `bundle` (a `.tar`) with GNU tar in the same entry order,
    /// after `edit` changed the extracted folder; returns the new `.tar.zst`.
    private func repack(_ fixture: BuildFixture, _ bundle: String, name: String,
                        edit: (String) throws -> [String]) throws -> String {
        let work = fixture.folder + "/repack-\(name)"
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
        try TestCommand.check(["tar", "-xf", bundle, "-C", work])
        var order = try TestCommand.check(["tar", "-tf", bundle]).split(separator: "\n").map(String.init)
        order += try edit(work + "/fbtest-1.2.3")
        try fixture.write("order-\(name)", order.joined(separator: "\n") + "\n")
        let output = fixture.folder + "/\(name).tar.zst"
        try TestCommand.check(["tar", "--zstd", "-cf", output, "-C", work, "--no-recursion",
                                     "-T", fixture.folder + "/order-\(name)"], timeout: 600)
        try? FileManager.default.removeItem(atPath: work)
        return output
    }

    private func makeHuge(_ path: String) {
        unlink(path)
        let descriptor = open(path, O_WRONLY | O_CREAT, 0o644)
        #expect(ftruncate(descriptor, off_t(Self.hugeSize)) == 0)
        close(descriptor)
    }

    @Test("an entry larger than the manifest says, and an entry it does not list: exit 1, nothing staged")
    func refusedAtHeader() throws {
        let fixture = try BuildFixture(image: "fbtest-none/app:1", archive: "image.tar")
        defer { fixture.remove() }
        try fixture.writeDockerArchive("image.tar", reference: "fbtest-none/app:1")
        let built = try TestCommand.run([FrostbyteBinary.path, "build", fixture.spec, "-o", fixture.out,
                                               "--compression", "none"])
        try #require(built.status == 0, "\(built.stderr)")
        let plain = fixture.out + "/fbtest-1.2.3.tar"

        let oversized = try repack(fixture, plain, name: "oversized") { root in
            makeHuge(root + "/models/embed.bin")
            return []
        }
        let unlisted = try repack(fixture, plain, name: "unlisted") { root in
            makeHuge(root + "/models/extra.bin")
            return ["fbtest-1.2.3/models/extra.bin"]
        }
        var size = stat()
        #expect(stat(oversized, &size) == 0 && size.st_size < 64 << 20, "the hostile bundle is small")

        for (bundle, check) in [(oversized, "size"), (unlisted, "unlisted-file")] {
            let verify = try TestCommand.run([FrostbyteBinary.path, "verify-bundle", bundle, "--json"])
            #expect(verify.status == 1, "\(verify.stderr)")
            #expect(verify.stdout.contains("refused at its header"), "\(verify.stdout)")
            #expect(verify.stdout.contains("\"\(check)\""), "\(verify.stdout)")
            let hashed = try JSONSerialization.jsonObject(with: Data(verify.stdout.utf8)) as? [String: Any]
            let bytes = (hashed?["bytes_hashed"] as? NSNumber)?.int64Value ?? Int64.max
            #expect(bytes < 64 << 20, "the verifier hashed \(bytes) bytes; the huge entry must not be hashed")

            // install verifies while extracting: the refusal comes before a byte is staged.
            let prefix = fixture.folder + "/prefix-\(check)"
            let install = try TestCommand.run(
                [FrostbyteBinary.path, "install", bundle, "--allow-unsigned", "--prefix", prefix,
                 "--project", DockerTestSupport.projectName(), "--subnet", try DockerTestSupport.freeSubnet()],
                timeout: 600)
            #expect(install.status == 1, "\(install.stderr)")
            let staged = (FileManager.default.subpaths(atPath: prefix) ?? []).filter { path in
                var info = stat()
                return stat(prefix + "/" + path, &info) == 0 && Int64(info.st_size) > 64 << 20
            }
            #expect(staged.isEmpty, "nothing large was written under the prefix: \(staged)")
            #expect(!FileManager.default.fileExists(atPath: prefix + "/current"))
        }
        // Control: the untouched bundle verifies.
        #expect(try TestCommand.run([FrostbyteBinary.path, "verify-bundle", plain]).status == 0)
    }
}
