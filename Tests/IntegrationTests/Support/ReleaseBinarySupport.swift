import Foundation
import Testing
import TestSupport

/// Where the portability tests find their inputs, and what they do when one is
/// missing: the release binary (FROSTBYTE_RELEASE_BIN, set by scripts/test after
/// scripts/release-binary) and the bare Debian roots of scripts/make-minimal-roots.
///
/// Guarantee: under CI=true a missing input makes the test FAIL (`require`
/// throws); elsewhere the tests are skipped (`enabled` is false) unless the input
/// is there.
enum ReleaseBinarySupport {
    /// FROSTBYTE_RELEASE_BIN when it names an executable file, else nil.
    static let binary: String? = {
        guard let path = ProcessInfo.processInfo.environment["FROSTBYTE_RELEASE_BIN"], !path.isEmpty,
              FileManager.default.isExecutableFile(atPath: path) else { return nil }
        return path
    }()

    /// The cache folder of scripts/lib.sh (FB_CACHE, default /var/cache/frostbyte).
    static let cache = ProcessInfo.processInfo.environment["FB_CACHE"] ?? "/var/cache/frostbyte"

    /// The suites the roots are made of; each test runs once per suite.
    static let suites = ["bookworm", "trixie"]

    /// The root of `suite` when scripts/make-minimal-roots completed it, else nil.
    static func root(_ suite: String) -> String? {
        let root = "\(cache)/minimal-roots/\(suite)"
        return FileManager.default.fileExists(atPath: root + "/.frostbyte-minimal") ? root : nil
    }

    /// True when the ELF tests can run or must fail (CI).
    static var binaryEnabled: Bool { binary != nil || TestRun.isCI }

    /// True when the chroot tests can run or must fail (CI): they also need root.
    static var rootsEnabled: Bool {
        TestRun.isCI || (binary != nil && getuid() == 0 && suites.allSatisfy { root($0) != nil })
    }

    /// The release binary, or a thrown failure naming how to make it.
    static func requireBinary() throws -> String {
        guard let binary else {
            throw TestFailure("FROSTBYTE_RELEASE_BIN is not set to an executable; "
                + "run `export FROSTBYTE_RELEASE_BIN=$(scripts/release-binary)` (scripts/test does)")
        }
        return binary
    }

    /// The root of `suite`, or a thrown failure naming how to make it.
    static func requireRoot(_ suite: String) throws -> String {
        guard getuid() == 0 else { throw TestFailure("the chroot tests need root") }
        guard let root = root(suite) else {
            throw TestFailure("no minimal \(suite) root in \(cache)/minimal-roots; run scripts/make-minimal-roots")
        }
        return root
    }

    /// Runs `command` (argv inside the root) in a chroot of `root` with `/proc`
    /// mounted and the host folder `share` bind-mounted on `/mnt`, in a private
    /// mount namespace (both mounts vanish with the process; the cached root is
    /// not changed). The environment is a bare login's: PATH, HOME, LANG=C.
    static func inRoot(_ root: String, share: String, _ command: [String]) throws -> CommandOutput {
        let script = #"mount -t proc proc "$1/proc" && mount --bind "$2" "$1/mnt" && root=$1 && shift 2 && exec chroot "$root" "$@""#
        return try TestCommand.run(
            ["unshare", "--mount", "--propagation", "private", "--", "sh", "-c", script, "sh", root, share,
             "env", "-i", "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
             "HOME=/root", "LANG=C"] + command)
    }
}
