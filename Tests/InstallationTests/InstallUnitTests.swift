import BundleFormat
import FrostbyteCrypto
import Foundation
@testable import Engine
@testable import InstallationState
@testable import Isolation
@testable import Installation
import FrostbyteCore
import Testing

/// A scratch prefix removed at the end of each test.
private struct ScratchPrefix {
    let path: String
    init() throws {
        var template = Array((NSTemporaryDirectory() + "fbinstunit-XXXXXX").utf8CString)
        guard let made = mkdtemp(&template) else { throw CocoaError(.fileWriteUnknown) }
        path = String(cString: made)
    }
    var layout: InstallationLayout { InstallationLayout(prefix: path) }
    func remove() { try? FileManager.default.removeItem(atPath: path) }
}

private func mode(_ path: String) -> Int {
    ((try? FileManager.default.attributesOfItem(atPath: path))?[.posixPermissions] as? Int) ?? -1
}

@Suite("Install: secrets")
struct InstallSecretsTests {
    @Test func generatedOnceNeverOverwrittenNewKeysAppended() throws {
        let scratch = try ScratchPrefix()
        defer { scratch.remove() }
        let example = "\(scratch.path)/.env.example"
        try "# a comment with __GENERATE__ stays\nUSER=frostbyte\nPASSWORD=__GENERATE__\nTOKEN=__GENERATE__\n"
            .write(toFile: example, atomically: true, encoding: .utf8)
        let first = try Secrets.ensure(layout: scratch.layout, examplePath: example)
        #expect(first.created)
        let text = try String(contentsOfFile: scratch.layout.secretsEnv, encoding: .utf8)
        let values = Dictionary(uniqueKeysWithValues: try Secrets.parse(text, origin: "x").map { ($0.key, $0.value) })
        #expect(values["USER"] == "frostbyte")
        #expect(values["PASSWORD"]?.count == 64 && values["TOKEN"]?.count == 64)
        #expect(values["PASSWORD"] != values["TOKEN"])
        #expect(text.contains("# a comment with __GENERATE__ stays"))
        #expect(mode(scratch.layout.secretsEnv) == 0o600)
        #expect(mode(scratch.layout.secrets) == 0o700)

        // Second run: unchanged byte for byte.
        let second = try Secrets.ensure(layout: scratch.layout, examplePath: example)
        #expect(!second.created && second.addedKeys.isEmpty)
        #expect(try String(contentsOfFile: scratch.layout.secretsEnv, encoding: .utf8) == text)

        // Upgrade with a new key: appended, the old values kept.
        try "USER=other\nPASSWORD=__GENERATE__\nTOKEN=__GENERATE__\nNEW_KEY=__GENERATE__\n"
            .write(toFile: example, atomically: true, encoding: .utf8)
        let third = try Secrets.ensure(layout: scratch.layout, examplePath: example)
        #expect(third.addedKeys == ["NEW_KEY"])
        let upgraded = try String(contentsOfFile: scratch.layout.secretsEnv, encoding: .utf8)
        #expect(upgraded.hasPrefix(text))
        #expect(try Secrets.keys(layout: scratch.layout) == ["USER", "PASSWORD", "TOKEN", "NEW_KEY"])
    }

    @Test func malformedLineIsRefusedWithItsNumber() throws {
        #expect(throws: InstallError.secretsUnreadable(path: "f", line: 2)) {
            try Secrets.parse("A=1\nnot a pair\n", origin: "f")
        }
        #expect(throws: InstallError.secretsUnreadable(path: "f", line: 1)) {
            try Secrets.parse("1BAD=x\n", origin: "f")
        }
    }
}

@Suite("Install: network plan")
struct InstallNetworkPlanTests {
    static func manifest(subnet: String = "172.29.0.0/16", gateway: String? = "172.29.0.10") -> Manifest {
        Manifest(
            name: "demo", version: "1.0.0", bundleId: "demo-1.0.0-abc", createdAt: "2026-01-01T00:00:00Z",
            builder: .init(name: "t", version: "1"),
            compose: .init(file: "docker-compose.yml", sha256: SHA256Hasher.hash(Data()), project: "frostbyte-demo",
                           networks: [.init(name: "demo-internal", subnet: subnet, internal: true)]),
            gateway: gateway.map { .init(service: "gateway", ipv4Address: $0, port: 8080, healthPath: "/health") },
            files: [])
    }

    @Test func defaultsComeFromTheBundle() throws {
        let plan = try NetworkPlan.make(manifest: Self.manifest(), project: nil, subnet: nil, receipt: nil, layout: .init(prefix: "/p"))
        #expect(plan.project == "frostbyte-demo" && plan.subnet == "172.29.0.0/16" && plan.gatewayIP == "172.29.0.10")
    }

    @Test func subnetOverrideKeepsTheGatewayOffset() throws {
        let plan = try NetworkPlan.make(manifest: Self.manifest(), project: "t1", subnet: "10.214.5.0/24", receipt: nil, layout: .init(prefix: "/p"))
        #expect(plan.gatewayIP == "10.214.5.10")
        #expect(plan.networks.first?.subnet == "10.214.5.0/24")
    }

    @Test func upgradeKeepsTheInstalledProjectAndSubnet() throws {
        let receipt = InstallationReceipt(bundleId: "demo-0.9.0-x", name: "demo", version: "0.9.0", project: "tenant-a",
                                          subnet: "10.214.6.0/24", gatewayIP: "10.214.6.10", installedAt: "", images: [:])
        let plan = try NetworkPlan.make(manifest: Self.manifest(), project: nil, subnet: nil, receipt: receipt, layout: .init(prefix: "/p"))
        #expect(plan.project == "tenant-a" && plan.subnet == "10.214.6.0/24")
        #expect(throws: InstallError.prefixHoldsOtherProject(prefix: "/p", project: "tenant-a")) {
            try NetworkPlan.make(manifest: Self.manifest(), project: "tenant-b", subnet: nil, receipt: receipt, layout: .init(prefix: "/p"))
        }
    }

    @Test(arguments: [
        ("8.8.8.0/24", InstallError.subnetNotPrivate(subnet: "8.8.8.0/24")),
        ("10.214.5.0/29", InstallError.gatewayDoesNotFit(gateway: "172.29.0.10", subnet: "10.214.5.0/29")),
    ])
    func badSubnets(subnet: String, error: InstallError) {
        #expect(throws: error) {
            try NetworkPlan.make(manifest: Self.manifest(), project: nil, subnet: subnet, receipt: nil, layout: .init(prefix: "/p"))
        }
    }

    @Test(arguments: [("frostbyte-demo", true), ("a_b-1", true), ("0x", true), ("Bad", false), ("-x", false), ("", false), ("a.b", false)])
    func projectNames(name: String, valid: Bool) {
        #expect(NetworkPlan.isValidProject(name) == valid)
    }
}

@Suite("Install: journal, lock, switch")
struct InstallStateTests {
    @Test func journalRoundTripAndResumeRules() throws {
        let scratch = try ScratchPrefix()
        defer { scratch.remove() }
        try FileManager.default.createDirectory(atPath: scratch.layout.state, withIntermediateDirectories: true)
        var journal = InstallJournal(bundleId: "b1", project: "p", subnet: "10.0.0.0/24", gatewayIP: nil, previousBundleId: nil)
        try journal.complete(.extracted, in: scratch.layout)
        let loaded = try #require(InstallJournal.load(scratch.layout))
        #expect(loaded.isDone(.extracted) && !loaded.isDone(.imagesLoaded))
        #expect(loaded.canResume(bundleId: "b1", project: "p", subnet: "10.0.0.0/24"))
        #expect(!loaded.canResume(bundleId: "b2", project: "p", subnet: "10.0.0.0/24"))
        #expect(!loaded.canResume(bundleId: "b1", project: "p", subnet: "10.0.1.0/24"))
        try journal.finish(.complete, in: scratch.layout)
        #expect(!(InstallJournal.load(scratch.layout)?.canResume(bundleId: "b1", project: "p", subnet: "10.0.0.0/24") ?? true))
        #expect(mode(scratch.layout.journal) == 0o600)
        // A torn or foreign journal is ignored, never trusted.
        try "{not json".write(toFile: scratch.layout.journal, atomically: false, encoding: .utf8)
        #expect(InstallJournal.load(scratch.layout) == nil)
    }

    @Test func secondLockIsRefusedUntilReleased() throws {
        let scratch = try ScratchPrefix()
        defer { scratch.remove() }
        let first = try InstallLock(layout: scratch.layout)
        // flock locks belong to the open file description: a second open in the same
        // process conflicts exactly like another process would.
        #expect(throws: InstallError.self) { try InstallLock(layout: scratch.layout) }
        first.release()
        let again = try InstallLock(layout: scratch.layout)
        again.release()
    }

    @Test func switchIsAtomicAndRelative() throws {
        let scratch = try ScratchPrefix()
        defer { scratch.remove() }
        for id in ["r1", "r2"] {
            try FileManager.default.createDirectory(atPath: scratch.layout.release(id), withIntermediateDirectories: true)
        }
        try ReleaseSwitcher.activate("r1", in: scratch.layout)
        #expect(ReleaseSwitcher.currentBundleId(scratch.layout) == "r1")
        try ReleaseSwitcher.activate("r2", in: scratch.layout)
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: scratch.layout.current) == "releases/r2")
        #expect(throws: InstallError.self) { try ReleaseSwitcher.activate("missing", in: scratch.layout) }
        #expect(ReleaseSwitcher.currentBundleId(scratch.layout) == "r2")
        // No temporary links left behind.
        #expect(try FileManager.default.contentsOfDirectory(atPath: scratch.path).sorted() == ["current", "releases"])
    }
}

@Suite("Install: compose parsing and health verdicts")
struct InstallHealthTests {
    static func state(_ service: String, _ state: String, _ health: String = "", exit: Int = 0) -> ServiceState {
        ServiceState(service: service, container: "c-\(service)", state: state, health: health, exitCode: exit, status: "")
    }

    @Test func parsesBothPSFormats() {
        let lines = Data(#"""
            {"Service":"web","Name":"p-web-1","State":"running","Health":"healthy","ExitCode":0,"Status":"Up"}
            {"Service":"db","Name":"p-db-1","State":"exited","Health":"","ExitCode":3,"Status":"Exited (3)"}
            """#.utf8)
        let array = Data(#"[{"Service":"web","Name":"p-web-1","State":"running","Health":"starting","ExitCode":0}]"#.utf8)
        let parsed = ComposeDriver.parsePS(lines)
        #expect(parsed.map(\.service) == ["db", "web"])
        #expect(parsed[0].exitCode == 3 && parsed[1].isHealthy)
        #expect(ComposeDriver.parsePS(array).first?.health == "starting")
    }

    @Test func verdicts() {
        let expected = ["db", "web"]
        #expect(HealthWaiter.judge(expected: expected, states: [Self.state("db", "running"), Self.state("web", "running", "healthy")]) == (nil, []))
        #expect(HealthWaiter.judge(expected: expected, states: [Self.state("db", "running"), Self.state("web", "running", "starting")]).pending == ["web"])
        #expect(HealthWaiter.judge(expected: expected, states: [Self.state("db", "running")]).pending == ["web"])
        #expect(HealthWaiter.judge(expected: expected, states: [Self.state("db", "running"), Self.state("web", "running", "unhealthy")]).failed?.service == "web")
        #expect(HealthWaiter.judge(expected: expected, states: [Self.state("db", "exited", exit: 1), Self.state("web", "running")]).failed?.service == "db")
        #expect(HealthWaiter.judge(expected: expected, states: [Self.state("db", "exited", exit: 0), Self.state("web", "running")]) == (nil, []))
    }

    @Test(arguments: [("2.40.3", true), ("2.29.0", true), ("2.29.0-desktop.1", true), ("2.28.9", false), ("1.29.2", false), ("10.0", true)])
    func composeVersions(version: String, ok: Bool) {
        #expect(Preflight.isVersion(version, atLeast: Preflight.minimumCompose) == ok)
    }

    @Test func migrationNames() {
        #expect(MigrationRunner.isSafeName("001_init.sql"))
        #expect(!MigrationRunner.isSafeName("x';DROP TABLE y;--.sql"))
        #expect(!MigrationRunner.isSafeName(""))
    }

    @Test func migrationErrorsNameLinesOfTheFailingFile() {
        // The file's line 1 is line 7 of the batch psql read.
        let message = "psql:<stdin>:8: ERROR:  function no_such_function() does not exist\npsql:<stdin>:3: NOTICE:  x"
        #expect(MigrationRunner.fileLines(message, firstLine: 7)
            == "psql:<stdin>:2: ERROR:  function no_such_function() does not exist\npsql:<stdin>:3: NOTICE:  x")
        #expect(MigrationRunner.fileLines("no position here", firstLine: 7) == "no position here")
    }

    @Test func recordedMigrationsAreParsedFromTheBatchOutput() {
        let parsed = MigrationRunner.parseRecorded("a row a migration printed\n001_a.sql abc\n002_b.sql def\n")
        #expect(parsed == ["001_a.sql": "abc", "002_b.sql": "def"])
    }
}

@Suite("Install: signature policy")
struct InstallPolicyTests {
    static func report(_ state: SignatureStatus.State, problems: [VerificationProblem] = []) -> VerificationReport {
        var report = VerificationReport(source: "b", sourceKind: .archive)
        report.signature = SignatureStatus(state: state)
        report.problems = problems
        report.manifest = InstallNetworkPlanTests.manifest()
        return report
    }

    @Test func policy() throws {
        try SignaturePolicy.accept(Self.report(.trusted), trustGiven: true, allowUnsigned: false)
        try SignaturePolicy.accept(Self.report(.unsigned), trustGiven: false, allowUnsigned: true)
        #expect(throws: InstallError.self) { try SignaturePolicy.accept(Self.report(.unsigned), trustGiven: true, allowUnsigned: false) }
        #expect(throws: InstallError.self) { try SignaturePolicy.accept(Self.report(.untrusted), trustGiven: true, allowUnsigned: false) }
        #expect(throws: InstallError.trustRequired) { try SignaturePolicy.accept(Self.report(.unsigned), trustGiven: false, allowUnsigned: false) }
        let bad = Self.report(.trusted, problems: [VerificationProblem(.sha256, path: "images/a.tar", "digest differs")])
        #expect(throws: InstallError.self) { try SignaturePolicy.accept(bad, trustGiven: true, allowUnsigned: false) }
    }

    /// An image announced before the end of the bundle is loaded early only under the
    /// rule `accept` applies at the end.
    @Test func earlyLoadingFollowsThePolicy() {
        for state in [SignatureStatus.State.unsigned, .signedUnchecked, .trusted, .untrusted] {
            #expect(SignaturePolicy.wouldAccept(state, trustGiven: true, allowUnsigned: false) == (state == .trusted))
            #expect(SignaturePolicy.wouldAccept(state, trustGiven: false, allowUnsigned: true))
            #expect(!SignaturePolicy.wouldAccept(state, trustGiven: false, allowUnsigned: false))
        }
    }
}
