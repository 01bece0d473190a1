import FrostbyteCore
import BundleFormat
import FrostbyteCrypto
import Foundation
import TestSupport
import Testing

/// A small compose project hardened the way the tool installs stacks: one internal
/// network with a pinned subnet, a gateway at a fixed address, ownership labels,
/// busybox `httpd` listeners (gateway 8080 with /healthz, api 9000, db 5432) and a
/// worker with no listener. It also writes an installation prefix as `install`
/// would (`current/MANIFEST.json`, `state/receipt.json`) so `check-isolation
/// --prefix` can run against it. `down()` removes everything it and the tests
/// attached to it created.
final class IsolationTestStack {
    let project: String
    let subnet: String
    let gatewayIP: String
    let folder: String
    let prefix: String
    let bundleId = "fbtest-1-0123456789ab"
    private(set) var extraContainers: [String] = []
    private(set) var extraNetworks: [String] = []

    static let listeners = ["gateway": 8080, "api": 9000, "db": 5432]

    init() throws {
        try Docker.ensureTestImage()
        project = DockerTestSupport.projectName()
        folder = NSTemporaryDirectory() + "fbtest-\(project)"
        prefix = "\(folder)/prefix"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        var lastError: Error = TestFailure("compose up never ran")
        for _ in 0..<4 {
            let candidate = try DockerTestSupport.freeSubnet()
            let base = candidate.dropLast("0/24".count)
            let gateway = "\(base)10"
            try Self.compose(project: project, subnet: candidate, gatewayIP: gateway)
                .write(toFile: "\(folder)/docker-compose.yml", atomically: true, encoding: .utf8)
            let up = try TestCommand.run(Self.composeCommand(project: project, folder: folder) + ["up", "-d", "--quiet-pull"])
            if up.status == 0 {
                subnet = candidate
                gatewayIP = gateway
                try waitForListeners()
                try writeInstallation()
                return
            }
            lastError = TestFailure("compose up failed: \(up.stderr)")
            _ = try? TestCommand.run(Self.composeCommand(project: project, folder: folder) + ["down", "-v", "-t", "1"])
            guard up.stderr.contains("overlap") || up.stderr.contains("Pool") else { break }
        }
        throw lastError
    }

    deinit { down() }

    static func composeCommand(project: String, folder: String) -> [String] {
        ["docker", "compose", "-p", project, "-f", "\(folder)/docker-compose.yml"]
    }

    /// The container of `service`.
    func container(_ service: String) -> String { "\(project)-\(service)-1" }

    /// Labels that make a container count as this project's.
    var projectLabels: [String] {
        ["--label", "com.docker.compose.project=\(project)", "--label", "io.frostbyte.project=\(project)",
         "--label", "\(TestRun.label)=\(TestRun.id)"]
    }

    /// Starts an extra container (removed by `down`).
    @discardableResult
    func runContainer(_ name: String, _ arguments: [String]) throws -> String {
        try TestCommand.check(["docker", "run", "-d", "--name", name] + arguments)
        extraContainers.append(name)
        return name
    }

    /// Creates an extra network (removed by `down`).
    func createNetwork(_ name: String, _ arguments: [String]) throws {
        try TestCommand.check(["docker", "network", "create"] + arguments + [name])
        extraNetworks.append(name)
    }

    /// Runs `check-isolation` and decodes the evidence printed with --json.
    func check(_ arguments: [String]) throws -> IsolationRun {
        let output = try TestCommand.tool(["check-isolation", "--json"] + arguments)
        return IsolationRun(output: output)
    }

    /// Removes the project (containers, network, volumes), the extra containers
    /// and networks, and the installation folder. Idempotent.
    func down() {
        if !extraContainers.isEmpty { _ = try? TestCommand.run(["docker", "rm", "-f", "-v"] + extraContainers) }
        extraContainers = []
        _ = try? TestCommand.run(Self.composeCommand(project: project, folder: folder) + ["down", "-v", "--remove-orphans", "-t", "1"])
        for network in extraNetworks { _ = try? TestCommand.run(["docker", "network", "rm", network]) }
        extraNetworks = []
        try? FileManager.default.removeItem(atPath: folder)
    }

    /// PID of a running container's init.
    func pid(_ container: String) throws -> Int32 {
        guard let pid = Int32(try TestCommand.check(["docker", "inspect", "--format", "{{.State.Pid}}", container])),
              pid > 0 else { throw TestFailure("\(container) is not running") }
        return pid
    }

    private func waitForListeners() throws {
        let deadline = Date().addingTimeInterval(15)
        for (service, port) in Self.listeners {
            let name = container(service)
            let hex = String(format: ":%04X", port)
            while true {
                if let pid = try? pid(name) {
                    let tables = ["tcp", "tcp6"].compactMap { try? String(contentsOfFile: "/proc/\(pid)/net/\($0)", encoding: .utf8) }
                    if tables.contains(where: { $0.split(separator: "\n").contains { $0.contains(hex) && $0.contains(" 0A ") } }) { break }
                }
                guard Date() < deadline else { throw TestFailure("\(name) does not listen on \(port)") }
                usleep(100_000)
            }
        }
    }

    private func writeInstallation() throws {
        let release = "\(prefix)/releases/\(bundleId)"
        try FileManager.default.createDirectory(atPath: release, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: "\(prefix)/state", withIntermediateDirectories: true)
        let composeData = try Data(contentsOf: URL(fileURLWithPath: "\(folder)/docker-compose.yml"))
        try composeData.write(to: URL(fileURLWithPath: "\(release)/docker-compose.yml"))
        let imageID = try DockerTestSupport.imageID()
        let manifest = Manifest(
            name: "fbtest", version: "1", bundleId: bundleId, createdAt: "2026-01-01T00:00:00Z",
            builder: .init(name: "isolation-tests", version: "1"),
            compose: .init(file: "docker-compose.yml", sha256: SHA256Hasher.hash(composeData), project: project,
                           networks: [.init(name: "internal", subnet: subnet, internal: true)]),
            gateway: .init(service: "gateway", ipv4Address: gatewayIP, port: 8080, healthPath: "/healthz"),
            images: [.init(name: Docker.testImage, file: "images/fbtest-busybox.tar",
                           sha256: SHA256Hasher.hash(Data()), digest: imageID, size: 0)],
            files: [])
        try DeterministicJSON.encode(manifest).write(to: URL(fileURLWithPath: "\(release)/MANIFEST.json"))
        try FileManager.default.createSymbolicLink(atPath: "\(prefix)/current", withDestinationPath: "releases/\(bundleId)")
        let receipt: [String: Any] = [
            "bundle_id": bundleId, "name": "fbtest", "version": "1", "project": project, "subnet": subnet,
            "gateway_ip": gatewayIP, "installed_at": "2026-01-01T00:00:00Z",
            "images": [Docker.testImage: imageID],
        ]
        try JSONSerialization.data(withJSONObject: receipt, options: [.sortedKeys])
            .write(to: URL(fileURLWithPath: "\(prefix)/state/receipt.json"))
    }

    static func compose(project: String, subnet: String, gatewayIP: String) -> String {
        let run = TestRun.id
        func service(_ name: String, _ command: String, address: String? = nil) -> String {
            """
              \(name):
                image: \(Docker.testImage)
                pull_policy: never
                command: \(command)
                cap_drop: [NET_RAW]
                stop_grace_period: 1s
                labels:
                  io.frostbyte.project: \(project)
                  io.frostbyte.bundle: fbtest-1
                  \(TestRun.label): \(run)
                networks:
                  internal:\(address.map { " {ipv4_address: \($0)}" } ?? " {}")

            """
        }
        return """
            services:
            \(service("gateway", #"["httpd", "-f", "-p", "8080", "-h", "/www"]"#, address: gatewayIP))\
            \(service("api", #"["httpd", "-f", "-p", "9000", "-h", "/www"]"#))\
            \(service("db", #"["httpd", "-f", "-p", "5432", "-h", "/www"]"#))\
            \(service("worker", #"["sleep", "86400"]"#))\
            networks:
              internal:
                internal: true
                labels:
                  io.frostbyte.project: \(project)
                  \(TestRun.label): \(run)
                ipam:
                  config: [{subnet: \(subnet)}]

            """
    }
}

/// One `check-isolation --json` run: exit status and the decoded evidence.
struct IsolationRun {
    let output: CommandOutput
    let evidence: [String: Any]
    let checks: [[String: Any]]

    init(output: CommandOutput) {
        self.output = output
        evidence = (try? JSONSerialization.jsonObject(with: Data(output.stdout.utf8))) as? [String: Any] ?? [:]
        checks = evidence["checks"] as? [[String: Any]] ?? []
    }

    var status: Int32 { output.status }
    var result: String? { evidence["result"] as? String }

    /// Status of the check with `id`.
    func status(_ id: String) -> String? { check(id)?["status"] as? String }
    func observed(_ id: String) -> String { check(id)?["observed"] as? String ?? "" }
    func check(_ id: String) -> [String: Any]? { checks.first { $0["id"] as? String == id } }

    /// IDs of checks with `status` (optionally starting with a prefix).
    func ids(_ status: String, prefix: String = "") -> [String] {
        checks.filter { $0["status"] as? String == status }.compactMap { $0["id"] as? String }
            .filter { $0.hasPrefix(prefix) }
    }

    /// For failure messages: every failing or warning check with its observation.
    var problems: String {
        checks.filter { ["fail", "warn"].contains($0["status"] as? String) }
            .map { "\($0["status"] ?? "?") \($0["id"] ?? "?"): \($0["observed"] ?? "")" }.joined(separator: "\n")
            + (output.stderr.isEmpty ? "" : "\nstderr: \(output.stderr)")
    }
}

@Suite("Isolation test stack", .requiresDockerAndTestImage, .serialized)
struct IsolationStackTests {
    @Test("The fixture's compose file is accepted by docker compose config")
    func composeFileValidates() throws {
        let folder = NSTemporaryDirectory() + "fbtest-compose-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try IsolationTestStack.compose(project: "fbtest-config", subnet: "10.213.77.0/24", gatewayIP: "10.213.77.10")
            .write(toFile: "\(folder)/docker-compose.yml", atomically: true, encoding: .utf8)
        let result = try TestCommand.run(["docker", "compose", "-p", "fbtest-config", "-f", "\(folder)/docker-compose.yml", "config", "-q"])
        #expect(result.status == 0, "\(result.stderr)")
    }
}
