import Foundation
import Testing
import FrostbyteCore
import TestSupport

/// A swarm whose nodes differ: `scripts/swarm join --suite trixie` adds a node of Engine
/// 26.1 and `--store containerd` one of 28.5 on the containerd image store to the bed's 3
/// nodes (`scripts/swarm up 3`, then `scripts/swarm run <bed>1 -- swift test --filter
/// SwarmMixedNodesTests`). The demo bundle is prepared on all five (exit 0 on each), and
/// `install --swarm` on the manager must refuse before anything changes: first for the
/// engine versions, then (the 26.1 node drained) naming the containerd node, whose store
/// gives the images other IDs. Both extra nodes are removed at the end.
@Suite("install --swarm refuses nodes with another engine version or image store (real mixed swarm)", .serialized,
       .enabled(if: SwarmBed.onFirstManager,
                "needs the test bed's manager: scripts/swarm up 3; scripts/swarm run fbsw1 -- swift test --filter SwarmMixedNodesTests"),
       .enabled(if: Docker.demoImagesPresent, "needs scripts/make-demo-images"))
struct SwarmMixedNodesTests {
    static let repository = "\(InstallHarness.projectPrefix)\(TestRun.id)-mix"
    static let stack = "fbtest-\(TestRun.id)-mix"

    /// What the stack left on the swarm: its services and the node labels under its name.
    func traces(_ nodes: [String]) throws -> String {
        let services = try TestCommand.check(["docker", "service", "ls", "-q", "--filter", "label=com.docker.stack.namespace=\(Self.stack)"])
        let labels = try nodes.map {
            try TestCommand.check(["docker", "node", "inspect", "--format", "{{json .Spec.Labels}}", $0])
        }.filter { $0.contains("io.frostbyte.\(Self.stack)") }
        return services + labels.joined()
    }

    @Test func versionsAndStoresThatDifferAreRefusedBeforeAnyChange() throws {
        let nodes = try TestCommand.check(["docker", "node", "ls", "--format", "{{.Hostname}}"])
            .split(separator: "\n").map(String.init).sorted()
        let base = [SwarmBed.node(1), SwarmBed.node(2), SwarmBed.node(3)]
        try #require(nodes == base, "needs exactly the 3 nodes of scripts/swarm up 3, not \(nodes)")
        let (older, containerd) = (SwarmBed.node(4), SwarmBed.node(5))
        let all = base + [older, containerd]
        let folder = try TestRun.scratchFolder("fbmix-swarm")
        let prefixes = Dictionary(uniqueKeysWithValues: all.map { ($0, InstallHarness.prefix("mix-\($0)")) })
        var joined: [String] = []
        defer {
            for node in joined.reversed() { try? SwarmBedControl.run(["down", node]) }
            for node in base {
                for name in ["gateway", "postgres", "redis", "worker"] {
                    _ = try? TestCommand.run(["docker", "rmi", "\(Self.repository)/\(name):1.0"], environment: SwarmBed.host(node))
                }
            }
            for prefix in prefixes.values { try? FileManager.default.removeItem(atPath: prefix) }
            try? FileManager.default.removeItem(atPath: folder)
        }
        try SwarmBedControl.run(["join", "--suite", "trixie"]); joined.append(older)
        try SwarmBedControl.run(["join", "--store", "containerd"]); joined.append(containerd)
        let versions = try TestCommand.check(["docker", "node", "ls", "--format", "{{.Hostname}} {{.EngineVersion}}"])
        try #require(versions.contains("\(older) 26."), "the trixie node runs Engine 26: \(versions)")

        let (bundle, trust) = try DemoBundle.signed(repository: Self.repository, in: folder)
        for node in all {
            let prepared = try TestCommand.tool(["prepare", bundle, "--trust", trust, "--prefix", prefixes[node]!],
                                                environment: SwarmBed.host(node))
            try #require(prepared.status == 0, "prepare on \(node): \(prepared.combined)")
        }
        let install = ["install", bundle, "--trust", trust, "--swarm", "--project", Self.stack,
                       "--prefix", prefixes[SwarmBed.node(1)]!, "--timeout", "120"]

        let mixedVersions = try TestCommand.tool(install)
        #expect(mixedVersions.status == 2, "\(mixedVersions.combined)")
        #expect(mixedVersions.stderr.contains("different engine versions"), "\(mixedVersions.combined)")
        #expect(try traces(all).isEmpty, "a refused install changed the swarm")

        try TestCommand.check(["docker", "node", "update", "--availability", "drain", older])
        let otherStore = try TestCommand.tool(install)
        #expect(otherStore.status == 2, "\(otherStore.combined)")
        #expect(otherStore.stderr.contains("not prepared") && otherStore.stderr.contains(containerd)
                && !otherStore.stderr.contains("\(older) ("), "names the containerd node only: \(otherStore.combined)")
        #expect(otherStore.stderr.contains("another image store"), "\(otherStore.combined)")
        #expect(try traces(all).isEmpty, "a refused install changed the swarm")
    }
}
