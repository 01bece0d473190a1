import Foundation
import Testing
import TestSupport

/// `build` into an output folder on a real filesystem that fills up (a 1 MiB tmpfs
/// the test mounts): exit 3 with the full-disk sentence naming the filesystem, nothing
/// left behind, and the same build completes once there is room. Before the fix the
/// build hung for good: the image stager stopped reading `docker save`'s pipe on
/// ENOSPC and waited for docker save, which was blocked writing into that pipe.
@Suite("build: a full output filesystem", .serialized)
struct BuildFullDiskTests {
    @Test("the output folder's filesystem fills while the image is staged: exit 3, nothing left, re-run completes",
          .requiresDockerAndTestImage)
    func fillsWhileStaging() throws {
        let fixture = try BuildFixture(image: Docker.testImage)
        defer { fixture.remove() }
        let small = try SmallFilesystem(at: fixture.out, megabytes: 1)
        defer { small.unmount() }

        let started = Date()
        let full = try TestCommand.run([FrostbyteBinary.path, "build", fixture.spec, "-o", fixture.out],
                                             timeout: 120)
        #expect(Date().timeIntervalSince(started) < 60, "a full disk must end the build promptly")
        #expect(full.status == 3, "stderr: \(full.stderr)")
        let lines = full.stderr.split(separator: "\n")
        #expect(lines.last?.hasPrefix("frostbyte-bundle: ") == true)
        #expect(full.stderr.contains("No space left on device"), "\(full.stderr)")
        #expect(full.stderr.contains(fixture.out), "the message names the path: \(full.stderr)")
        FullDiskSentence.expect(full, mount: fixture.out, option: "-o")
        #expect(fixture.outputListing() == [], "nothing left in the output folder")
        #expect(lines.filter { $0.hasPrefix("frostbyte-bundle: ") }.count == 1)

        // Control: space freed (the small filesystem gone), the same command builds.
        small.unmount()
        let roomy = try TestCommand.run([FrostbyteBinary.path, "build", fixture.spec, "-o", fixture.out])
        #expect(roomy.status == 0, "stderr: \(roomy.stderr)")
        #expect(fixture.outputListing() == ["fbtest-1.2.3.tar.zst", "fbtest-1.2.3.tar.zst.sha256"])
    }
}
