import BundleFormat
import Foundation
import FrostbyteCore
@testable import InstallationState
@testable import Isolation
@testable import Installation
import Testing

/// The boot unit `install` writes (text, enabling links, idempotent rewrite, removal,
/// accepted by `systemd-analyze verify` while a broken one is refused) and the rules
/// `repair`, `status` and `check-isolation` expect of an installation. Files only, in
/// a scratch folder: no systemd, no firewall.
@Suite("Boot unit and the rules an installation needs")
struct BootUnitTests {
    static func scratch() throws -> String {
        var template = Array((NSTemporaryDirectory() + "fbboot-XXXXXX").utf8CString)
        guard let made = mkdtemp(&template) else { throw CocoaError(.fileWriteUnknown) }
        return String(cString: made)
    }

    @Test func unitTextOrdersBeforeDockerAndRunsRepair() {
        let unit = BootUnit(project: "tenant-a", prefix: "/opt/tenant a", folder: "/x")
        let text = unit.text(executable: "/opt/tenant a/current/bin/frostbyte-bundle")
        #expect(unit.name == "frostbyte-bundle-tenant-a.service")
        #expect(text.contains("\nBefore=docker.service\n"))
        #expect(text.contains("\nType=oneshot\n") && text.contains("\nRemainAfterExit=yes\n"))
        #expect(text.contains("\nWantedBy=docker.service multi-user.target\n"))
        #expect(text.contains("\nExecStart=\"/opt/tenant a/current/bin/frostbyte-bundle\" repair --prefix \"/opt/tenant a\"\n"), "\(text)")
        #expect(BootUnit.quoted("/a\"b") == "\"/a\\\"b\"")
        #expect(BootUnit.quoted("/plain") == "/plain")
    }

    @Test func writeEnablesOnceAndRemoveUndoes() throws {
        let folder = try Self.scratch()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let unit = BootUnit(project: "p1", prefix: "/opt/p1", folder: folder)
        let first = try #require(try unit.write(executable: "/bin/true"))
        #expect(first.written && first.linked == 2)
        for link in unit.links {
            #expect(try FileManager.default.destinationOfSymbolicLink(atPath: link) == unit.path)
        }
        #expect(unit.execStart() == "/bin/true repair --prefix /opt/p1")
        let again = try #require(try unit.write(executable: "/bin/true"))
        #expect(!again.written && again.linked == 0, "a second write changes nothing")
        let moved = try #require(try unit.write(executable: "/usr/bin/true"))
        #expect(moved.written && moved.linked == 0, "another program rewrites the unit")
        #expect(unit.remove())
        #expect(!FileManager.default.fileExists(atPath: unit.path))
        #expect(unit.links.allSatisfy { !FileManager.default.fileExists(atPath: $0) })
        #expect(!unit.remove(), "nothing left to remove")
        // No unit folder: no systemd host, nothing written.
        #expect(try BootUnit(project: "p1", prefix: "/opt/p1", folder: "\(folder)/absent").write(executable: "/bin/true") == nil)
    }

    /// `systemd-analyze verify` accepts the unit; the same unit pointing at a program
    /// that does not exist is refused (negative control).
    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/systemd-analyze"), "needs systemd-analyze"))
    func systemdAcceptsTheUnit() throws {
        let folder = try Self.scratch()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let unit = BootUnit(project: "p2", prefix: folder, folder: folder)
        _ = try unit.write(executable: "/bin/true")
        let good = try CommandRunner.run(["systemd-analyze", "verify", unit.path], timeout: 120)
        #expect(good.status == 0, "\(good.errorOutput)")
        _ = try unit.write(executable: "\(folder)/no-such-program")
        let bad = try CommandRunner.run(["systemd-analyze", "verify", unit.path], timeout: 120)
        #expect(bad.status != 0, "a unit whose program is missing must be refused: \(bad.errorOutput)")
    }

    /// The rules an installation that publishes its gateway needs: the three of its
    /// release, plus recorded ones not among them; none for a release without publish.
    @Test func expectedRulesComeFromTheReleaseAndTheRecord() throws {
        let prefix = try Self.scratch()
        defer { try? FileManager.default.removeItem(atPath: prefix) }
        let layout = InstallationLayout(prefix: prefix)
        let manifest = IngressUnitTests.manifest()
        try FileManager.default.createDirectory(atPath: layout.release(manifest.bundleId), withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: layout.state, withIntermediateDirectories: true)
        try DeterministicJSON.encode(manifest).write(to: URL(fileURLWithPath: "\(layout.release(manifest.bundleId))/MANIFEST.json"))
        var receipt = InstallationReceipt(bundleId: manifest.bundleId, name: "demo", version: "1.0.0", project: "tenant-a",
                                          subnet: "10.214.1.0/24", gatewayIP: "10.214.1.10", installedAt: "t", images: [:],
                                          publish: "127.0.0.1:8080", ingressSubnet: "172.31.255.0/29")
        let planned = HostFirewall.projectRules(project: "tenant-a", internalNetwork: "demo-internal")
        #expect(HostStateRepair.expectedRules(layout, receipt: receipt).map(\.args) == planned.map(\.args))
        let extra = HostFirewall.rejectRule(project: "tenant-a", network: "other", bridge: "br-other")
        let record = FirewallRecord(rules: [planned[0], extra])
        try DeterministicJSON.encode(record).write(to: URL(fileURLWithPath: HostFirewall.recordPath(prefix: prefix)))
        #expect(HostStateRepair.expectedRules(layout, receipt: receipt).map(\.args) == (planned + [extra]).map(\.args),
                "a recorded rule joins the release's, a recorded duplicate does not")
        receipt.publish = nil
        #expect(HostStateRepair.expectedRules(layout, receipt: receipt).map(\.args) == [planned[0], extra].map(\.args),
                "without publish only the recorded rules")
        #expect(HostStateRepair.describe(planned[2]).contains("DOCKER-USER rule rejecting new connections from"))
        #expect(HostStateError.rulesMissing(rules: ["r1"], prefix: "/opt/x").message
            .contains("run 'frostbyte-bundle repair --prefix /opt/x'"))
    }
}
