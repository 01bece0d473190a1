import Foundation
import TestSupport

/// Plumbing of the integration tests on a real dockerd beyond TestSupport's (which
/// has the binary, the command runner, the docker trait and the stale-run sweep):
/// unique project names and free subnets per run, the test image's ID, canary
/// leftovers, the binary as another user can run it.
///
/// Names: every project is `fbtest-<run>-<n>`; every container, network and volume
/// the helpers create carries `io.frostbyte.test.run=<run>`. Subnets come from
/// 10.213.0.0/16, chosen so they overlap no existing docker network or host route.
enum DockerTestSupport {
    /// The binary under test as another user (`nobody`) can run it: a copy in a
    /// world-readable folder, since the checkout may sit under a 0700 folder such as
    /// `/root`, whose path another user cannot traverse to exec the original.
    static let binaryForOtherUsers: String = {
        let folder = "/tmp/fbtest-bin-\(TestRun.id)-\(getpid())"
        let copy = "\(folder)/frostbyte-bundle"
        try? FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        chmod(folder, 0o755)
        try? FileManager.default.removeItem(atPath: copy)
        if let binary = try? FrostbyteBinary.path { try? FileManager.default.copyItem(atPath: binary, toPath: copy) }
        chmod(copy, 0o755)
        return copy
    }()

    // MARK: - Names and subnets

    /// A fresh project name for this run: `fbtest-<run>-<n>`.
    static func projectName() -> String { "fbtest-\(TestRun.id)-\(TestRun.next())" }

    /// A /24 from `block`.0.0/16 (10.213 unless a suite keeps its own range) that no
    /// docker network and no host route uses.
    static func freeSubnet(in block: String = "10.213") throws -> String {
        let used = try usedAddressSpace()
        for _ in 0..<200 {
            let octet = Int.random(in: 1...254)
            let prefix = "\(block).\(octet)."
            if !used.contains(where: { $0.hasPrefix(prefix) }) && !used.contains("\(block).0.0/16") {
                return "\(prefix)0/24"
            }
        }
        throw TestFailure("no free \(block).x.0/24 subnet")
    }

    private static func usedAddressSpace() throws -> [String] {
        let ids = try TestCommand.check(["docker", "network", "ls", "-q"]).split(whereSeparator: \.isNewline).map(String.init)
        var used: [String] = []
        if !ids.isEmpty {
            let out = try TestCommand.check(["docker", "network", "inspect", "--format", "{{range .IPAM.Config}}{{.Subnet}} {{end}}"] + ids)
            used += out.split(whereSeparator: { $0 == " " || $0.isNewline }).map(String.init)
        }
        used += (try TestCommand.check(["ip", "-4", "route"])).split(whereSeparator: \.isNewline)
            .compactMap { $0.split(separator: " ").first.map(String.init) }
        return used
    }

    // MARK: - Image

    /// The image ID of the test image.
    static func imageID() throws -> String {
        try TestCommand.check(["docker", "image", "inspect", "--format", "{{.Id}}", Docker.testImage])
    }

    // MARK: - Checks after cleanup

    /// Canary namespaces and veth pairs of the tool that exist right now.
    static func canaryLeftovers() -> [String] {
        let namespaces = ((try? FileManager.default.contentsOfDirectory(atPath: "/run/netns")) ?? [])
            .filter { $0.hasPrefix("fbcanary-") }
        let links = ((try? FileManager.default.contentsOfDirectory(atPath: "/sys/class/net")) ?? [])
            .filter { $0.hasPrefix("fbc") }
        return namespaces + links
    }
}
