import Foundation
import Synchronization
import TestSupport
import Testing
@testable import Engine
@testable import InstallationState
@testable import Isolation
@testable import Installation
import FrostbyteCore

/// Races with other projects on a real dockerd, made deterministic with the
/// checker's phase hook: another project's container or network vanishes between
/// listing and inspecting, or its container stops between planning and running
/// the probes. The checker must pass this project and record the vanished object
/// as `info`; the same thing happening to this project's own container is a
/// `fail` (negative controls). The checker runs in this process (root), against
/// two small projects the fixture creates and always removes.
@Suite("Isolation races with other projects", .serialized,
       .requiresDockerAndTestImage)
struct IsolationRaceTests {
    @Test("Baseline: both projects up, the check passes and nothing vanished")
    func baseline() throws {
        let projects = try RaceProjects()
        defer { projects.down() }
        let evidence = try projects.check()
        #expect(evidence.result == "pass", "\(evidence.problems)")
        #expect(evidence.checks.filter { $0.id.contains(".vanished/") }.isEmpty)
        let cross = evidence.checks.filter { $0.id.hasPrefix("cross-project.tcp/") }
        #expect(cross.count == 8, "2 x 2 containers, both directions: \(cross.map(\.id))")
        #expect(cross.allSatisfy { $0.status == .pass })
        #expect(evidence.durationSeconds < 30)
        #expect(projects.canaryLeftovers().isEmpty)
    }

    @Test("Another project's container removed between listing and inspecting is info; the check passes")
    func foreignContainerVanishesBeforeInspect() throws {
        let projects = try RaceProjects()
        defer { projects.down() }
        let db = projects.otherContainer("db")
        let evidence = try projects.check(at: .containersListed, ["docker", "rm", "-f", db])
        #expect(projects.hookRan)
        #expect(evidence.result == "pass", "\(evidence.problems)")
        let record = try #require(evidence.check("cross-project.vanished/container/\(db)"), "\(evidence.ids)")
        #expect(record.status == .info)
        #expect(record.observed.contains("gone when inspected"))
        #expect(record.title.contains(projects.other))
        // The other project's remaining container is still probed, both directions.
        let api = projects.otherContainer("api")
        let cross = evidence.checks.filter { $0.id.hasPrefix("cross-project.tcp/") }
        #expect(cross.count == 4 && cross.allSatisfy { $0.status == .pass && $0.id.contains(api) }, "\(cross.map(\.id))")
        #expect(evidence.durationSeconds < 30)
        #expect(projects.canaryLeftovers().isEmpty)
    }

    @Test("Another project's network removed between inspecting containers and networks is info; the check passes")
    func foreignNetworkVanishesBeforeInspect() throws {
        let projects = try RaceProjects()
        defer { projects.down() }
        let extra = "\(projects.other)_extra"
        let evidence = try projects.check(
            at: .containersInspected,
            ["docker", "network", "disconnect", "-f", extra, projects.otherContainer("api")],
            ["docker", "network", "rm", extra])
        #expect(projects.hookRan)
        #expect(evidence.result == "pass", "\(evidence.problems)")
        let record = try #require(evidence.check("cross-project.vanished/network/\(extra)"), "\(evidence.ids)")
        #expect(record.status == .info)
        #expect(record.title.contains(projects.other))
        #expect(evidence.checks.filter { $0.id.hasPrefix("cross-project.tcp/") }.allSatisfy { $0.status == .pass })
        #expect(projects.canaryLeftovers().isEmpty)
    }

    @Test("Another project's container stopped between planning and probing is info; the check passes")
    func foreignContainerStopsBeforeProbes() throws {
        let projects = try RaceProjects()
        defer { projects.down() }
        let api = projects.otherContainer("api")
        let evidence = try projects.check(at: .probesPlanned, ["docker", "kill", api], ["docker", "wait", api])
        #expect(projects.hookRan)
        #expect(evidence.result == "pass", "\(evidence.problems)")
        let record = try #require(evidence.check("cross-project.vanished/container/\(api)"), "\(evidence.ids)")
        #expect(record.status == .info)
        #expect(record.observed.contains("exited"), "\(record.observed)")
        let cross = evidence.checks.filter { $0.id.hasPrefix("cross-project.tcp/") }
        let involving = cross.filter { $0.id.contains(api) }
        #expect(involving.count == 4 && involving.allSatisfy { $0.status == .info && $0.observed.contains("vanished") })
        // Probes from its own namespace could not run at all: that is what used to fail.
        #expect(involving.contains { $0.observed.contains("cannot enter the network namespace") }, "\(involving.map(\.observed))")
        // The project's other container was probed and is counted.
        let others = cross.filter { !$0.id.contains(api) }
        #expect(others.count == 4 && others.allSatisfy { $0.status == .pass })
        #expect(evidence.durationSeconds < 30)
        #expect(projects.canaryLeftovers().isEmpty)
    }

    @Test("Negative control: this project's container stopped between planning and probing fails")
    func ownContainerStopsBeforeProbes() throws {
        let projects = try RaceProjects()
        defer { projects.down() }
        let worker = projects.ownContainer("worker")
        let evidence = try projects.check(at: .probesPlanned, ["docker", "kill", worker], ["docker", "wait", worker])
        #expect(projects.hookRan)
        #expect(evidence.result == "fail")
        let record = try #require(evidence.check("configuration.vanished/container/\(worker)"), "\(evidence.ids)")
        #expect(record.status == .fail)
        #expect(record.title.contains("of project \(projects.own) vanished during the check"))
        #expect(record.remedy?.contains("not healthy") == true)
        #expect(evidence.check("egress.tcp/\(worker)")?.status == .fail, "no probe ran: isolation is not proven")
        #expect(evidence.checks.filter { $0.id.contains(".vanished/") }.count == 1)
        #expect(projects.canaryLeftovers().isEmpty)
    }

    @Test("Negative control: this project's container removed between listing and inspecting fails")
    func ownContainerVanishesBeforeInspect() throws {
        let projects = try RaceProjects()
        defer { projects.down() }
        let api = projects.ownContainer("api")
        let evidence = try projects.check(at: .containersListed, ["docker", "rm", "-f", api])
        #expect(projects.hookRan)
        #expect(evidence.result == "fail")
        let record = try #require(evidence.check("configuration.vanished/container/\(api)"), "\(evidence.ids)")
        #expect(record.status == .fail)
        #expect(record.observed.contains("gone when inspected"))
        #expect(projects.canaryLeftovers().isEmpty)
    }

    @Test("docker inspect of a list with a vanished member: found and vanished, with both CLIs and one by one")
    func inspectorToleratesVanished() throws {
        let projects = try RaceProjects()
        defer { projects.down() }
        let network = "\(projects.own)_internal"
        let missing = "\(projects.own)-no-such-network"
        let wrapper = try projects.silentOnErrorCLI()
        var clis = ["docker", wrapper]
        if FileManager.default.isExecutableFile(atPath: "/usr/bin/docker") { clis.append("/usr/bin/docker") }
        for cli in clis {
            let inspector = DockerEngine(docker: cli, timeout: 20)
            let networks = try inspector.inspectNetworks([network, missing])
            #expect(networks.found.map(\.name) == [network], "\(cli)")
            #expect(networks.vanished == [missing], "\(cli)")
            let api = projects.ownContainer("api")
            let containers = try inspector.inspectContainers([missing, api])
            #expect(containers.found.map(\.name) == [api], "\(cli)")
            #expect(containers.vanished == [missing], "\(cli)")
        }
        // Negative control: an engine that does not answer is an error, not "vanished".
        let broken = DockerEngine(docker: try projects.unreachableEngineCLI(), timeout: 20)
        #expect(throws: CommandError.self) { try broken.inspectNetworks([network, missing]) }
    }
}

/// Two small projects for the race tests: this one (`own`: api with a listener,
/// worker without, on one internal network) and another (`other`: api on an
/// internal and an extra network, db), labelled like installed frostbyte projects
/// plus `io.frostbyte.test.run`, so the integration tests' sweeper removes what a
/// killed run leaves. `down()` removes every container and network, idempotently.
final class RaceProjects: @unchecked Sendable {
    let own: String
    let other: String
    let folder: String
    private var containers: [String] = []
    private var networks: [String] = []
    private let ran = HookRuns()
    private var checkerRunIDs: [String] = []

    init() throws {
        let n = TestRun.next()
        own = "fbtest-\(TestRun.id)-race\(n)a"
        other = "fbtest-\(TestRun.id)-race\(n)b"
        folder = NSTemporaryDirectory() + "fbtest-\(own)"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        do {
            try Docker.ensureTestImage()
            try createNetwork("\(own)_internal", project: own)
            try createNetwork("\(other)_internal", project: other)
            try createNetwork("\(other)_extra", project: other)
            try runContainer(ownContainer("api"), project: own, network: "\(own)_internal", listen: 9000)
            try runContainer(ownContainer("worker"), project: own, network: "\(own)_internal", listen: nil)
            try runContainer(otherContainer("api"), project: other, network: "\(other)_internal", listen: 9000)
            try Self.docker(["network", "connect", "\(other)_extra", otherContainer("api")])
            try runContainer(otherContainer("db"), project: other, network: "\(other)_internal", listen: 5432)
            for name in [ownContainer("api"), otherContainer("api"), otherContainer("db")] { try waitForListener(name) }
        } catch {
            down()
            throw error
        }
    }

    deinit { down() }

    func ownContainer(_ service: String) -> String { "\(own)-\(service)-1" }
    func otherContainer(_ service: String) -> String { "\(other)-\(service)-1" }

    /// True when the last check's hook ran its commands.
    var hookRan: Bool { ran.count.withLock { $0 } > 0 }

    /// Runs the checker on `own` (cross-project probes limited to `other`); at
    /// `phase`, runs `commands` (each must succeed, else the hook records nothing).
    func check(at phase: IsolationPhase? = nil, _ commands: [String]...) throws -> IsolationEvidence {
        var options = IsolationOptions()
        options.crossProjects = [other]
        let runID = String(format: "%06x", UInt32.random(in: 0...0xFF_FFFF))
        options.runID = runID
        checkerRunIDs.append(runID)
        let checker = IsolationChecker(target: try IsolationTarget.discover(project: own), options: options)
        let ran = self.ran
        checker.phaseHook = { current in
            guard current == phase else { return }
            let ok = commands.allSatisfy { ((try? CommandRunner.run($0, timeout: 30))?.status ?? 1) == 0 }
            if ok { ran.count.withLock { $0 += 1 } }
        }
        return try checker.run()
    }

    /// Canary namespaces and veth ends of this fixture's checker runs that still exist.
    func canaryLeftovers() -> [String] {
        let namespaces = (try? FileManager.default.contentsOfDirectory(atPath: "/run/netns")) ?? []
        let links = (try? FileManager.default.contentsOfDirectory(atPath: "/sys/class/net")) ?? []
        return checkerRunIDs.flatMap { id in
            namespaces.filter { $0 == "fbcanary-\(id)" } + links.filter { $0.hasPrefix("fbc\(id)") }
        }
    }

    /// The docker CLI, except that it prints nothing on stdout when it fails, as a
    /// CLI that gives up at the first missing object would.
    func silentOnErrorCLI() throws -> String {
        try script("silent-docker", "out=$(docker \"$@\"); rc=$?; [ $rc -eq 0 ] && printf '%s\\n' \"$out\"; exit $rc")
    }

    /// The docker CLI pointed at a socket nobody listens on.
    func unreachableEngineCLI() throws -> String {
        try script("no-engine-docker", "DOCKER_HOST=unix://\(folder)/no-such.sock exec docker \"$@\"")
    }

    /// Removes the fixture's containers and networks and its folder. Idempotent.
    func down() {
        if !containers.isEmpty { _ = try? CommandRunner.run(["docker", "rm", "-f", "-v"] + containers, timeout: 60) }
        containers = []
        for network in networks.reversed() { _ = try? CommandRunner.run(["docker", "network", "rm", network], timeout: 30) }
        networks = []
        try? FileManager.default.removeItem(atPath: folder)
    }

    private func script(_ name: String, _ body: String) throws -> String {
        let path = "\(folder)/\(name)"
        try "#!/bin/sh\n\(body)\n".write(toFile: path, atomically: true, encoding: .utf8)
        guard chmod(path, 0o755) == 0 else { throw CommandError.failed(command: "chmod \(path)", status: errno, stderr: "") }
        return path
    }

    private func labels(_ project: String) -> [String] {
        ["--label", "com.docker.compose.project=\(project)", "--label", "io.frostbyte.project=\(project)",
         "--label", "\(TestRun.label)=\(TestRun.id)"]
    }

    private func createNetwork(_ name: String, project: String) throws {
        // Docker picks a free subnet itself, so parallel runs never collide.
        try Self.docker(["network", "create", "--internal"] + labels(project) + [name])
        networks.append(name)
    }

    private func runContainer(_ name: String, project: String, network: String, listen port: Int?) throws {
        let service = name.dropFirst(project.count + 1).split(separator: "-").first.map(String.init) ?? name
        let command = port.map { ["httpd", "-f", "-p", "\($0)", "-h", "/www"] } ?? ["sleep", "86400"]
        containers.append(name)
        try Self.docker(["run", "-d", "--name", name, "--network", network, "--network-alias", service,
                         "--cap-drop", "NET_RAW", "--label", "com.docker.compose.service=\(service)"] + labels(project) + [Docker.testImage] + command)
    }

    private func waitForListener(_ name: String) throws {
        let deadline = Date().addingTimeInterval(15)
        while Date() < deadline {
            if let pid = Int32(try Self.docker(["inspect", "--format", "{{.State.Pid}}", name])), pid > 0,
               !HostFacts.listeningTCPPorts(pid: pid).isEmpty { return }
            usleep(100_000)
        }
        throw CommandError.timedOut(command: "wait for a listener in \(name)", seconds: 15)
    }

    @discardableResult
    private static func docker(_ arguments: [String]) throws -> String {
        try CommandRunner.check(["docker"] + arguments, timeout: 60)
    }

    /// How many times a check's phase hook ran its commands (the hook runs on the
    /// checker's thread).
    final class HookRuns: Sendable {
        let count = Mutex(0)
    }
}

extension IsolationEvidence {
    /// The check with `id`.
    func check(_ id: String) -> IsolationCheck? { checks.first { $0.id == id } }
    /// Every check ID, for failure messages.
    var ids: [String] { checks.map(\.id) }
    /// Failing and warning checks with their observations, for failure messages.
    var problems: String {
        checks.filter { $0.status == .fail || $0.status == .warn }
            .map { "\($0.status.rawValue) \($0.id): \($0.observed)" }.joined(separator: "\n")
    }
}
