import Foundation
import TestSupport
import Testing

/// `install` onto a prefix on a small real filesystem (a tmpfs the test mounts) that
/// fills up in the middle of the install, on the host's dockerd. How each phase is hit
/// for sure: before the run a filler leaves just what the preflight asks for (the
/// release plus 1 MiB) and 2 MiB more, so the preflight passes; then a watcher fills
/// the rest the moment the phase's first file appears (the staging folder of the
/// verification or of the release copy, the journal's `healthy` step before the
/// switch). Each failure: exit 3 and one sentence naming the mount point, the release's
/// size and what is free; the previous release current and healthy; no staging, trash
/// or temporary file left. Each control: the same command after the space is freed completes.
@Suite("install: a full prefix filesystem (real dockerd)", .serialized,
       .enabled(if: Docker.demoImagesPresent, "needs scripts/make-demo-images"), .requiresDocker)
struct InstallFullDiskTests {
    @Test("fills during verification of a first install: exit 3, nothing installed, nothing left; re-run completes")
    func fillsDuringVerification() throws {
        let disk = try SmallPrefix("diskv")
        defer { disk.tearDown() }
        let (small, mount, prefix, project, subnet) = (disk.small, disk.mount, disk.prefix, disk.project, disk.subnet)
        let bundle = try InstallHarness.v1(suite: "disk")

        small.fill(leaving: try Self.preflightNeed(bundle) + (2 << 20))
        small.fill(when: { Self.stagingExists(prefix) })
        let full = try install(bundle, prefix: prefix, project: project, subnet: subnet)
        #expect(small.stopWatching(), "the filesystem was never filled: the verification did not start")
        try Self.expectFullDiskSentence(full, mount: mount)
        #expect(!FileManager.default.fileExists(atPath: prefix + "/current"))
        #expect(InstallHarness.listing(prefix + "/releases") == [], "a partial release was left")
        #expect(Self.leftovers(prefix) == [])
        #expect(try Self.runningContainers(project) == 0, "nothing may run after a failed first install")

        small.freeSpace()
        let again = try install(bundle, prefix: prefix, project: project, subnet: subnet)
        #expect(again.status == 0, "re-run after freeing space: \(again.stderr)")
        #expect(Self.current(prefix)?.hasPrefix("demo-1.0.0") == true)
        #expect(Self.leftovers(prefix) == [])
    }

    @Test("an upgrade that fills during the release copy, then after the new stack is up: 1.0.0 stays current and healthy; re-runs complete")
    func upgradeFillsDuringCopyAndSwitch() throws {
        let disk = try SmallPrefix("disku")
        defer { disk.tearDown() }
        let (small, mount, prefix, project, subnet) = (disk.small, disk.mount, disk.prefix, disk.project, disk.subnet)
        let v1 = try InstallHarness.v1(suite: "disk")
        let v11 = try InstallHarness.bundle("v1.1") { DemoBundle(version: "1.1.0") }
        let v2 = try InstallHarness.v2()
        let gateway = subnet.replacingOccurrences(of: ".0/24", with: ".10")

        // 1.0.0 on the roomy filesystem.
        let first = try install(v1, prefix: prefix, project: project, subnet: subnet)
        try #require(first.status == 0, "\(first.stderr)")
        let v1Id = try #require(Self.current(prefix))

        // (b) The release copy: 1.1.0 from its extracted folder (what scripts/install.sh
        // passes), the filesystem filling while the folder is copied into staging.
        let folder = try TestRun.scratchFolder("fbdisk-v11")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try TestCommand.check(["tar", "--zstd", "-xf", v11, "-C", folder])
        let extracted = folder + "/demo-1.1.0"
        small.fill(leaving: try Self.preflightNeed(v11) + (2 << 20))
        small.fill(when: { Self.stagingExists(prefix) })
        let copy = try install(extracted, prefix: prefix, project: project, subnet: subnet)
        #expect(small.stopWatching(), "the filesystem was never filled: the copy did not start")
        try Self.expectFullDiskSentence(copy, mount: mount)
        #expect(copy.stderr.contains("\(v1Id) is still current"), "\(copy.stderr)")
        try Self.expectCurrentAndHealthy(v1Id, prefix: prefix, gateway: gateway)
        #expect(InstallHarness.listing(prefix + "/releases").filter { !$0.contains("/") } == [v1Id],
                "a partial 1.1.0 release folder was left")
        #expect(Self.leftovers(prefix) == [])

        small.freeSpace()
        let copyAgain = try install(extracted, prefix: prefix, project: project, subnet: subnet)
        #expect(copyAgain.status == 0, "re-run after freeing space: \(copyAgain.stderr)")
        let v11Id = try #require(Self.current(prefix))
        #expect(v11Id.hasPrefix("demo-1.1.0"))

        // (c) After the new stack is up (isolation evidence, journal, switch): 2.0.0
        // runs and is healthy when the filesystem fills; the upgrade is rolled back.
        small.fill(leaving: try Self.preflightNeed(v2) + (2 << 20))
        small.fill(when: { Self.journalRecords("healthy", of: "demo-2.0.0", prefix: prefix) })
        let late = try install(v2, prefix: prefix, project: project, subnet: subnet)
        #expect(small.stopWatching(), "the filesystem was never filled: 2.0.0 never became healthy")
        try Self.expectFullDiskSentence(late, mount: mount)
        #expect(late.stderr.contains("rolled back and \(v11Id) is current and running again"), "\(late.stderr)")
        try Self.expectCurrentAndHealthy(v11Id, prefix: prefix, gateway: gateway)
        #expect(Self.leftovers(prefix) == [])

        small.freeSpace()
        let lateAgain = try install(v2, prefix: prefix, project: project, subnet: subnet)
        #expect(lateAgain.status == 0, "re-run after freeing space: \(lateAgain.stderr)")
        #expect(Self.current(prefix)?.hasPrefix("demo-2.0.0") == true)
        #expect(Self.leftovers(prefix) == [])
    }

    private func install(_ bundle: String, prefix: String, project: String, subnet: String) throws -> CommandOutput {
        try TestCommand.tool(["install", bundle, "--allow-unsigned", "--prefix", prefix, "--project", project,
                              "--subnet", subnet, "--timeout", "180"], timeout: 600)
    }

    /// What the preflight asks for on the prefix: the release's files plus 1 MiB.
    static func preflightNeed(_ bundle: String) throws -> Int64 {
        var isFolder: ObjCBool = false
        let manifest: String
        if FileManager.default.fileExists(atPath: bundle, isDirectory: &isFolder), isFolder.boolValue {
            manifest = try String(contentsOfFile: bundle + "/MANIFEST.json", encoding: .utf8)
        } else {
            manifest = try TestCommand.check(["tar", "--zstd", "-xOf", bundle, "--wildcards", "*/MANIFEST.json"])
        }
        let document = try JSONSerialization.jsonObject(with: Data(manifest.utf8)) as? [String: Any] ?? [:]
        let files = document["files"] as? [[String: Any]] ?? []
        let bytes = files.reduce(Int64(0)) { $0 + ((($1["size"]) as? NSNumber)?.int64Value ?? 0) }
        guard bytes > 0 else { throw TestFailure("\(bundle): no file sizes in its MANIFEST.json") }
        return bytes + (1 << 20)
    }

    static func stagingExists(_ prefix: String) -> Bool {
        ((try? FileManager.default.contentsOfDirectory(atPath: prefix + "/releases")) ?? [])
            .contains { $0.hasPrefix(".staging-") }
    }

    /// True when the journal is `release`'s install and records `step` done.
    static func journalRecords(_ step: String, of release: String, prefix: String) -> Bool {
        guard let data = FileManager.default.contents(atPath: prefix + "/state/journal.json"),
              let journal = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
              (journal["bundle_id"] as? String)?.hasPrefix(release + "-") == true,
              let completed = journal["completed"] as? [String: Any] else { return false }
        return completed[step] != nil
    }

    static func current(_ prefix: String) -> String? {
        (try? FileManager.default.destinationOfSymbolicLink(atPath: prefix + "/current")).map { ($0 as NSString).lastPathComponent }
    }

    /// Staging, trash and temporary files anywhere under the prefix.
    static func leftovers(_ prefix: String) -> [String] {
        InstallHarness.listing(prefix).filter { path in
            let name = (path as NSString).lastPathComponent
            return name.hasPrefix(".staging-") || name.hasPrefix(".trash-") || name.hasPrefix(".current-")
                || name.contains(".tmp-")
        }
    }

    static func runningContainers(_ project: String) throws -> Int {
        try TestCommand.check(["docker", "ps", "-q", "--filter", "label=com.docker.compose.project=\(project)"])
            .split(separator: "\n").count
    }

    /// The full-disk sentence, naming the release, its size and what is free.
    static func expectFullDiskSentence(_ output: CommandOutput, mount: String) throws {
        let sentence = FullDiskSentence.expect(output, mount: mount, option: "--prefix")
        #expect(sentence.range(of: #"the release demo-[0-9.]+-[0-9a-f]+ needs [0-9.]+ [kM]B there and [0-9.]+ [kM]B is free"#,
                                options: .regularExpression) != nil, "\(sentence)")
    }

    /// `current` is `bundleId`, `status` passes, and the gateway answers.
    static func expectCurrentAndHealthy(_ bundleId: String, prefix: String, gateway: String) throws {
        #expect(current(prefix) == bundleId)
        let status = try TestCommand.tool(["status", "--prefix", prefix])
        #expect(status.status == 0, "status: \(status.stdout) \(status.stderr)")
        #expect(status.stdout.contains(bundleId), "\(status.stdout)")
        let health = try TestCommand.run(["curl", "-s", "-m", "5", "http://\(gateway):8080/health"])
        #expect(health.status == 0 && health.stdout.contains("ok"), "gateway: \(health.stdout) \(health.stderr)")
    }
}

/// A prefix (`<mount>/prefix`) on its own 400 MiB tmpfs (the demo release is 285 MB
/// while its images are in it), a project name and a free subnet of this run.
struct SmallPrefix {
    let small: SmallFilesystem
    let mount: String
    var prefix: String { mount + "/prefix" }
    let project: String
    let subnet: String

    init(_ tag: String) throws {
        project = InstallHarness.project(tag)
        mount = InstallHarness.prefix(tag)
        subnet = try DockerTestSupport.freeSubnet(in: "10.214")
        small = try SmallFilesystem(at: mount, megabytes: 400)
    }

    /// Uninstalls the project, then unmounts the filesystem.
    func tearDown() {
        InstallHarness.cleanup(project: project, prefix: prefix)
        small.unmount()
    }
}
