import FrostbyteCore
import Foundation
import Testing

/// FullDisk recognises ENOSPC/EDQUOT in any module's failure and only there, names
/// the mount point and keeps the original failure in its one sentence.
@Suite("FullDisk: ENOSPC turned into one sentence")
struct FullDiskTests {
    @Test func recognisesNoSpaceAndNothingElse() {
        let full = FileSystemError(operation: "write", path: "/srv/x", reason: String(cString: strerror(ENOSPC)))
        let quota = FileSystemError(operation: "write", path: "/srv/x", reason: String(cString: strerror(EDQUOT)))
        let docker = FileSystemError(operation: "load", path: "img", reason: "write /var/lib/docker/x: no space left on device")
        #expect(FullDisk.isNoSpace(full) && FullDisk.isNoSpace(quota) && FullDisk.isNoSpace(docker))
        // Negative controls: another errno, an error already explained.
        let denied = FileSystemError(operation: "write", path: "/srv/x", reason: String(cString: strerror(EACCES)))
        #expect(!FullDisk.isNoSpace(denied))
        #expect(FullDisk.explain(denied, folders: ["/"], what: "x", neededBytes: 1, option: "-o") as? FileSystemError == denied)
        let explained = FullDisk.explain(full, folders: ["/"], what: "the release r", neededBytes: 23_300_000,
                                         state: "r0 is still current", option: "--prefix")
        let error = try? #require(explained as? FullDiskError)
        #expect(!FullDisk.isNoSpace(error!))
        #expect(error?.exitStatus == .environment)
        #expect(error?.message.hasPrefix("the filesystem mounted at / is full (cannot write /srv/x: No space left on device): the release r needs 23.3 MB there and ") == true)
        #expect(error?.message.hasSuffix("is free; r0 is still current; free space on / (or choose another --prefix) and run the same command again") == true)
    }

    @Test func mountPointAndSizes() throws {
        #expect(FullDisk.mountPoint(of: "/") == "/")
        #expect(FullDisk.mountPoint(of: "/proc/self/status") == "/proc")
        #expect(FullDisk.mountPoint(of: "/proc/no/such/file") == "/proc", "the nearest existing ancestor counts")
        #expect(FullDisk.megabytes(4467) == "4.5 kB")
        #expect(FullDisk.megabytes(23_300_000) == "23.3 MB")
        #expect(FullDisk.freeBytes(at: "/definitely/not/here") != nil)
    }
}
