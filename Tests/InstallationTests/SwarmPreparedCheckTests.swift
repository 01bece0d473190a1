import Foundation
import Testing
@testable import Engine
@testable import Installation
import FrostbyteCore

/// `SwarmPreparedCheck` on a real swarm, from a manager: run it on the test bed with
/// `scripts/swarm up 3` and `scripts/swarm run fbsw1 -- swift test --filter SwarmPreparedCheckTests`
/// (`scripts/swarm run` sets FROSTBYTE_SWARM_NODE; elsewhere the suite does not run).
/// An image made on the manager alone is found there and missing on every other node;
/// the jobs are gone afterwards; an ID no node holds is missing everywhere (the probe
/// can say "missing" for the manager too).
@Suite("Which swarm nodes hold an image, asked of a manager (real swarm)", .serialized,
       .enabled(if: ProcessInfo.processInfo.environment["FROSTBYTE_SWARM_NODE"] != nil,
                "needs a swarm manager: scripts/swarm up 3; scripts/swarm run fbsw1 -- swift test --filter SwarmPreparedCheckTests"))
struct SwarmPreparedCheckTests {
    @Test func tellsTheNodeHoldingTheImageFromTheOthers() throws {
        let engine = DockerEngine(timeout: 120)
        let me = try engine.swarmNode()
        try #require(me.isActive && me.controlAvailable, "run it on a manager of an active swarm")

        // An image only this node holds: one file of random bytes, imported here.
        let folder = NSTemporaryDirectory() + "fbswcheck-\(UInt32.random(in: 0...UInt32.max))"
        let name = "fbswcheck/only-here:\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: "\(folder)/root", withIntermediateDirectories: true)
        defer {
            _ = try? CommandRunner.run(["docker", "rmi", "-f", name], timeout: 60)
            try? FileManager.default.removeItem(atPath: folder)
        }
        try Data((0..<64).map { _ in UInt8.random(in: 0...255) }).write(to: URL(fileURLWithPath: "\(folder)/root/random"))
        try CommandRunner.check(["tar", "-cf", "\(folder)/root.tar", "-C", "\(folder)/root", "."], timeout: 60)
        try CommandRunner.check(["docker", "import", "\(folder)/root.tar", name], timeout: 120)
        let id = try #require(try engine.image(name)?.id)

        let check = SwarmPreparedCheck(engine: engine)
        let reports = try check.check(images: [name: id], timeout: 60)
        let mine = try #require(reports.first { $0.nodeID == me.nodeID })
        #expect(mine.state == "prepared", "\(mine)")
        let others = reports.filter { $0.nodeID != me.nodeID && $0.state != "not-checked" }
        #expect(!others.isEmpty, "the swarm needs another node that takes tasks")
        for other in others { #expect(other.state == "missing" && other.missing == [name], "\(other)") }
        let jobs = try CommandRunner.check(["docker", "service", "ls", "-q", "--filter", "label=io.frostbyte.check"], timeout: 60)
        #expect(jobs.isEmpty, "the check's jobs are removed")

        // Negative control: an ID nobody holds is missing on every node, this one included.
        let nobody = "sha256:" + String(repeating: "0", count: 64)
        let absent = try check.check(images: ["nobody": nobody], timeout: 60).filter { $0.state != "not-checked" }
        #expect(!absent.isEmpty && absent.allSatisfy { $0.state == "missing" }, "\(absent)")
    }
}
