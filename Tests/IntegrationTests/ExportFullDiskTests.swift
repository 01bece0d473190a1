import Foundation
import TestSupport
import Testing

/// `export` into an output folder on a small real filesystem (a tmpfs the test mounts)
/// that is full, on the demo installed on the host's dockerd: full from the start (the
/// steps' spools cannot be written), and with room for the spools but not for the
/// bundle written from them (the room measured from a run into the same folder once it
/// had space). Each: exit 3, one sentence naming the mount point and the free space,
/// nothing left in the folder (no OUT, no sidecar, no spool); the control: the same
/// command after the space is freed writes the export.
@Suite("export: a full output filesystem (real dockerd)", .serialized, .requiresDockerAndTestImage)
struct ExportFullDiskTests {
    @Test("full while spooling, then while writing the bundle: exit 3, nothing left; re-run completes")
    func fillsWhileSpoolingAndWriting() throws {
        try #require(ExportStack.demoImagesPresent, "the demo images are missing: run scripts/make-demo-images")
        ExportStack.dockerLock.lock()
        defer { ExportStack.dockerLock.unlock() }
        let stack = try ExportStack(tag: "diskexp")
        defer { stack.tearDown() }
        let out = stack.folder + "/out"
        let small = try SmallFilesystem(at: out, megabytes: 64)
        defer { small.unmount() }
        let bundle = out + "/export.tar.zst"
        func export() throws -> CommandOutput {
            try TestCommand.tool(["export", "--prefix", stack.prefix, "-o", bundle, "--json"], timeout: 300)
        }

        // Full from the start: the first step's spool hits ENOSPC.
        small.fill()
        let spooling = try export()
        FullDiskSentence.expect(spooling, mount: out, option: "-o")
        #expect(small.listing() == [], "nothing may be left in the output folder")

        // Control: space freed, the same command writes the export.
        small.freeSpace()
        let roomy = try export()
        try #require(roomy.status == 0, "export after freeing space: \(roomy.stderr)")
        #expect(small.listing() == ["export.tar.zst", "export.tar.zst.sha256"])
        let summary = try JSONSerialization.jsonObject(with: Data(roomy.stdout.utf8)) as? [String: Any] ?? [:]
        let bundleBytes = (summary["size"] as? NSNumber)?.int64Value ?? 0
        let spools = (summary["files"] as? [[String: Any]] ?? []).map { (($0["size"]) as? NSNumber)?.int64Value ?? 0 }
        try #require(bundleBytes > 4096, "the export fits one page: the disk cannot fill between spool and bundle (\(bundleBytes) bytes)")
        for name in small.listing() { unlink("\(out)/\(name)") }

        // Room for the spools (tmpfs counts whole 4 KiB pages) and one page of the
        // bundle (the demo's export is two pages: 4.4 kB).
        let spoolPages = spools.reduce(Int64(0)) { $0 + ($1 + 4095) / 4096 * 4096 }
        small.fill(leaving: spoolPages + 4096)
        let writing = try export()
        FullDiskSentence.expect(writing, mount: out, option: "-o")
        #expect(writing.stderr.contains("the export needs"), "\(writing.stderr)")
        #expect(small.listing() == [], "nothing may be left in the output folder")

        small.freeSpace()
        let again = try export()
        #expect(again.status == 0, "export after freeing space: \(again.stderr)")
        #expect(small.listing() == ["export.tar.zst", "export.tar.zst.sha256"])
    }
}
