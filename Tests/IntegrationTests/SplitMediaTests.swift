import BundleFormat
import Foundation
import TestSupport
import Testing

/// `build --split` with the real binary: parts and a signed index instead of one file,
/// the parts joined by `cat` equal to the single-file build, `verify-bundle`,
/// `inspect` and `install` reading the index directly, refusals with exit 2, and
/// nothing left behind by an interrupted split build.
@Suite("Split media: build --split, verify-bundle, inspect, install (real binary)")
struct SplitMediaTests {
    private static func tool(_ arguments: [String]) throws -> CommandOutput {
        try BuildFixture.tool(arguments)
    }

    private static func json(_ output: CommandOutput) -> [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(output.stdout.utf8))) as? [String: Any] ?? [:]
    }

    @Test("--split SIZE: 0, garbage and sizes under 1M are refused with one sentence, exit 2, nothing written")
    func badSizes() throws {
        let fixture = try BuildFixture(image: "fbtest-none/app:1", archive: "image.tar")
        defer { fixture.remove() }
        try fixture.writeDockerArchive("image.tar", reference: "fbtest-none/app:1")
        for size in ["0", "abc", "512K", "4GB", "-1"] {
            let result = try Self.tool(["build", fixture.spec, "-o", fixture.out + "/", "--split=\(size)"])
            #expect(result.status == 2, "--split \(size): \(result.stderr)")
            #expect(result.stderr.split(separator: "\n").count == 1, "one sentence: \(result.stderr)")
            #expect(result.stderr.contains("--split '\(size)'"))
            #expect(fixture.outputListing() == [])
        }
    }

    @Test("build --split: parts + signed index; cat joins them into the single-file build; verify, inspect; a flipped byte in part 2 is named")
    func buildVerifyInspect() throws {
        let fixture = try BuildFixture(image: "fbtest-none/app:1", archive: "image.tar")
        defer { fixture.remove() }
        try fixture.writeDockerArchive("image.tar", reference: "fbtest-none/app:1")
        let keys = fixture.folder + "/signer"
        _ = try Self.tool(["keygen", "--out", keys])
        let split = try Self.tool(["build", fixture.spec, "-o", fixture.out + "/", "--split", "4M",
                                   "--sign-key", keys + ".key", "--json", "--source-date-epoch", "0"])
        #expect(split.status == 0, "\(split.stderr)")
        let summary = Self.json(split)
        let bundle = "fbtest-1.2.3.tar.zst"
        let index = fixture.out + "/" + bundle + ".parts.json"
        #expect(summary["parts_index"] as? String == index)
        let parts = try #require(summary["parts"] as? [[String: Any]])
        #expect(parts.count >= 2, "a bundle carrying the debug binary spans several 4 MiB parts")
        let names = parts.compactMap { $0["file"] as? String }
        #expect(fixture.outputListing() == names + [bundle + ".parts.json", bundle + ".parts.json.sig"],
                "no OUT, no OUT.sha256, no temporary file")
        #expect(names.first == bundle + ".part001")

        // Interop: cat and sha256sum; the same build without --split is byte-identical.
        let single = fixture.folder + "/single"
        try FileManager.default.createDirectory(atPath: single, withIntermediateDirectories: true)
        let whole = try Self.tool(["build", fixture.spec, "-o", single + "/", "--sign-key", keys + ".key",
                                   "--source-date-epoch", "0"])
        #expect(whole.status == 0, "\(whole.stderr)")
        let joined = fixture.folder + "/joined.tar.zst"
        try TestCommand.check(["sh", "-c", "cd '\(fixture.out)' && cat \(bundle).part[0-9]* > '\(joined)'"])
        #expect(try Data(contentsOf: URL(fileURLWithPath: joined)) == (try Data(contentsOf: URL(fileURLWithPath: single + "/" + bundle))))
        let sha = try TestCommand.check(["sha256sum", joined]).prefix(64)
        #expect(String(sha) == summary["sha256"] as? String)
        #expect(try TestCommand.run(["openssl", "pkeyutl", "-verify", "-pubin", "-inkey", keys + ".pub", "-rawin",
                                           "-in", index, "-sigfile", index + ".sig"]).status == 0)

        let verified = try Self.tool(["verify-bundle", index, "--trust", keys + ".pub", "--json"])
        #expect(verified.status == 0, "\(verified.stdout)\(verified.stderr)")
        let report = Self.json(verified)
        #expect(report["verified"] as? Bool == true)
        #expect((report["parts"] as? [String: Any])?["count"] as? Int == parts.count)
        #expect(((report["parts"] as? [String: Any])?["signature"] as? [String: Any])?["state"] as? String == "trusted")
        let human = try Self.tool(["verify-bundle", index, "--trust", keys + ".pub"])
        #expect(human.status == 0 && human.stdout.contains("\(parts.count) parts ok"), "\(human.stdout)")
        let inspected = try Self.tool(["inspect", index, "--json"])
        #expect(inspected.status == 0, "\(inspected.stderr)")
        #expect((Self.json(inspected)["parts"] as? [String: Any])?["count"] as? Int == parts.count)

        // Negative control: one flipped byte in part 2 is exit 1, named by number and file.
        let second = fixture.out + "/" + names[1]
        var bytes = try Data(contentsOf: URL(fileURLWithPath: second))
        bytes[bytes.count / 3] ^= 0x04
        try bytes.write(to: URL(fileURLWithPath: second))
        let failed = try Self.tool(["verify-bundle", index, "--trust", keys + ".pub", "--json"])
        #expect(failed.status == 1, "\(failed.stderr)")
        let problems = Self.json(failed)["problems"] as? [[String: Any]] ?? []
        #expect(problems.contains { $0["check"] as? String == "part" && $0["part"] as? Int == 2 && $0["path"] as? String == names[1] },
                "\(failed.stdout)")
        // A malformed index is bad input: exit 2, one sentence.
        try Data("{}".utf8).write(to: URL(fileURLWithPath: index))
        let malformed = try Self.tool(["verify-bundle", index])
        #expect(malformed.status == 2 && malformed.stdout.isEmpty && malformed.stderr.contains("parts index"), "\(malformed.stderr)")
    }

    /// v1 writes the parts while it compresses (the signal lands while they are being
    /// written); v2 compresses its body into a temporary file first and writes the parts
    /// at the end (the signal lands while the inputs are hashed, the first part's
    /// temporary file already created).
    @Test("SIGINT in the middle of a split build leaves no part, index or temporary file", arguments: ["v1", "v2"])
    func interrupted(_ format: String) throws {
        let fixture = try BuildFixture.withBigModel()
        defer { fixture.remove() }
        let process = try fixture.startBigBuild(["--split", "1M", "--format", format])
        // v1: wait until a second part exists (the first is created at once); v2: until the first.
        let marker = format == "v1" ? ".part2." : ".part1."
        let deadline = Date().addingTimeInterval(60)
        while !fixture.outputListing().contains(where: { $0.contains(marker) }) && Date() < deadline && process.isRunning {
            usleep(20_000)
        }
        #expect(fixture.outputListing().contains { $0.contains(marker) }, "the build was writing: \(fixture.outputListing())")
        if format == "v2" { usleep(300_000) }
        #expect(process.isRunning, "still running when interrupted")
        process.signal(SIGINT)
        #expect(process.wait().signaled, "\(process.errorOutput)")
        #expect(fixture.outputListing() == [])
    }
}

/// `install OUT.parts.json` on the host engine: the demo stack built with `build
/// --split` from the demo image archives (re-tagged with this run's repository), on
/// its own project, prefix, subnet and loopback port. A set with a damaged part is
/// refused first (exit 1, nothing installed), then the intact set installs.
@Suite("Split media: install from a parts index (real dockerd)", .serialized,
       .enabled(if: Docker.demoImagesPresent, "needs scripts/make-demo-images"), .requiresDocker)
struct SplitMediaInstallTests {
    /// Builds the demo spec with `--split 16M --sign-key --format v1` into `folder`/out; returns the index path.
    private func buildDemo(in folder: String, repository: String, key: String) throws -> String {
        let root = TestRun.repositoryRoot
        var spec = try String(contentsOfFile: root + "/manifests/demo.yaml", encoding: .utf8)
            .replacingOccurrences(of: ": ../", with: ": \(root)/")
            .replacingOccurrences(of: "compose: \(root)/compose/demo.yaml", with: "compose: \(folder)/compose.yaml")
        for name in ["postgres", "redis", "worker", "gateway"] {
            let archive = "\(folder)/\(name).tar"
            try DemoBundle.retag("\(Docker.demoImagesFolder)/\(name).tar", to: "\(repository)/\(name):1.0",
                                 writing: archive, scratch: folder)
            spec = spec.replacingOccurrences(of: "  - ref: frostbyte-demo/\(name):1.0\n",
                                             with: "  - ref: \(repository)/\(name):1.0\n    archive: \(archive)\n")
        }
        #expect(spec.components(separatedBy: "    archive: ").count == 5, "manifests/demo.yaml lists the four images")
        let compose = try String(contentsOfFile: root + "/compose/demo.yaml", encoding: .utf8)
            .replacingOccurrences(of: "image: frostbyte-demo/", with: "image: \(repository)/")
        try compose.write(toFile: folder + "/compose.yaml", atomically: true, encoding: .utf8)
        try spec.write(toFile: folder + "/demo.yaml", atomically: true, encoding: .utf8)
        try FileManager.default.createDirectory(atPath: folder + "/out", withIntermediateDirectories: true)
        // Format v1: the installer loads v1 image archives (v2 is verified, not yet installed).
        try TestCommand.check([FrostbyteBinary.path, "build", folder + "/demo.yaml", "-o", folder + "/out/",
                              "--split", "16M", "--sign-key", key, "--format", "v1"])
        return folder + "/out/demo-1.0.0.tar.zst.parts.json"
    }

    @Test func installFromPartsIndex() throws {
        let folder = try TestRun.scratchFolder("fbinst-split")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let project = InstallHarness.project("split")
        let prefix = InstallHarness.prefix("split")
        defer { InstallHarness.cleanup(project: project, prefix: prefix) }
        let repository = "\(InstallHarness.projectPrefix)\(TestRun.id)-split"
        defer {
            for name in ["postgres", "redis", "worker", "gateway"] {
                _ = try? TestCommand.run(["docker", "image", "rm", "\(repository)/\(name):1.0"])
            }
        }
        try TestCommand.check([FrostbyteBinary.path, "keygen", "--out", folder + "/release"])
        let index = try buildDemo(in: folder, repository: repository, key: folder + "/release.key")
        let set = try SplitPartsSet(indexPath: index)
        #expect(set.index.parts.count >= 3, "the demo bundle spans several 16 MiB parts")
        let verified = try TestCommand.tool(["verify-bundle", index, "--trust", folder + "/release.pub"])
        #expect(verified.status == 0, "\(verified.stdout)\(verified.stderr)")

        let placement = ["--project", project, "--subnet", try DockerTestSupport.freeSubnet(in: "10.218"),
                         "--publish", "\(Int.random(in: 19_000...19_999))"]
        // Negative control first: one flipped byte in the last part (the images) is exit 1,
        // names the part, and installs nothing.
        let last = set.path(ofPart: set.index.parts.count)
        let pristine = try Data(contentsOf: URL(fileURLWithPath: last))
        var damaged = pristine
        damaged[damaged.count / 2] ^= 0x01
        try damaged.write(to: URL(fileURLWithPath: last))
        let refused = try TestCommand.tool(["install", index, "--trust", folder + "/release.pub", "--prefix", prefix] + placement)
        #expect(refused.status == 1, "\(refused.stderr)")
        #expect(refused.stderr.contains("part \(set.index.parts.count) (\(set.index.parts.last!.file))"), "\(refused.stderr)")
        #expect(!FileManager.default.fileExists(atPath: prefix + "/current"))
        #expect(InstallHarness.listing(prefix + "/releases").allSatisfy { !$0.hasPrefix("demo-") }, "no release extracted")
        // A stray part beside the set is refused before anything is read.
        try pristine.write(to: URL(fileURLWithPath: last))
        let stray = set.folder + "/" + SplitPartsIndex.partName(bundle: set.index.bundle, index: set.index.parts.count + 1,
                                                                 count: set.index.parts.count)
        try Data([0]).write(to: URL(fileURLWithPath: stray))
        let extra = try TestCommand.tool(["install", index, "--trust", folder + "/release.pub", "--prefix", prefix] + placement)
        #expect(extra.status == 1 && extra.stderr.contains(URL(fileURLWithPath: stray).lastPathComponent), "\(extra.stderr)")
        try FileManager.default.removeItem(atPath: stray)

        // The intact set installs, streaming across its parts.
        let install = try TestCommand.tool(["install", index, "--trust", folder + "/release.pub", "--prefix", prefix,
                                           "--json"] + placement)
        #expect(install.status == 0, "\(install.stderr)")
        #expect(InstallHarness.json(install)["bundle_id"] as? String == set.index.bundleId)
        let status = InstallHarness.json(try TestCommand.tool(["status", "--prefix", prefix, "--json"]))
        #expect(status["healthy"] as? Bool == true, "\(status)")
        #expect(!FileManager.default.fileExists(atPath: set.folder + "/demo-1.0.0.tar.zst"), "no joined copy was made")
    }
}
