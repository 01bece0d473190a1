import Foundation
import Testing
@testable import Engine
@testable import Installation
import FrostbyteCore
import Stack

/// The parts of `install --swarm` that need no swarm: where services are pinned (a
/// kept pin never moves), the stack name, and a migration job's exit status.
@Suite("install --swarm: pins, stack name, job status")
struct SwarmInstallUnitTests {
    static let compose = """
        services:
          postgres:
            image: p
            volumes: [pgdata:/data]
          redis:
            image: r
            volumes: [redisdata:/data]
          gateway:
            image: g
          worker:
            image: w
        volumes: {pgdata: {}, redisdata: {}}
        """

    func tree() throws -> YAMLNode { try YAMLParser(bytes: Array(Self.compose.utf8), file: "c.yml").parseSingleDocument() }

    @Test func pinsTheGatewayOnTheManagerAndVolumeOwnersRoundRobin() throws {
        let pins = SwarmInstaller.assignPins(tree: try tree(), gateway: "gateway", kept: [:], asked: [:],
                                             prepared: ["n1", "n2", "n3"], manager: "n1")
        #expect(pins == ["gateway": "n1", "postgres": "n2", "redis": "n3"])
        // Control: the worker owns no volume and is not pinned.
        #expect(pins["worker"] == nil)
    }

    @Test func keptPinsWinOverAskedOnesAndTheManagerNotPreparedIsSkipped() throws {
        let pins = SwarmInstaller.assignPins(tree: try tree(), gateway: "gateway", kept: ["postgres": "n3"],
                                             asked: ["postgres": "n1", "redis": "n1"], prepared: ["n2", "n3"], manager: "n1")
        #expect(pins["postgres"] == "n3", "a pinned service never moves")
        #expect(pins["redis"] == "n1", "an asked pin is used on a first install")
        #expect(pins["gateway"] == "n2", "the manager is not prepared: the first prepared node")
    }

    @Test func stackNamesAreWhatSwarmAccepts() throws {
        #expect(try SwarmInstaller.stackName("Frostbyte Demo") == "frostbyte-demo")
        #expect(throws: (any Error).self) { try SwarmInstaller.stackName("-x") }
        #expect(throws: (any Error).self) { try SwarmInstaller.stackName(String(repeating: "a", count: 49)) }
    }

    @Test func jobStatusFromTheTaskState() {
        func task(_ state: String, _ error: String = "") -> SwarmTaskListing {
            SwarmTaskListing(node: "n1", currentState: state, error: error)
        }
        #expect(SwarmMigrationJob.exitStatus(task("Complete 1 second ago")) == 0)
        #expect(SwarmMigrationJob.exitStatus(task("Failed 1 second ago", "\"task: non-zero exit (3)\"")) == 3)
        #expect(SwarmMigrationJob.exitStatus(task("Rejected 1 second ago", "\"No such image: sha256:…\"")) == 125)
        #expect(SwarmMigrationJob.exitStatus(task("Running 2 seconds ago")) == nil)
        #expect(SwarmMigrationJob.exitStatus(task("Starting 1 second ago")) == nil)
    }
}
