import Foundation
import Testing
@testable import Engine
@testable import Installation
import InstallationState
import FrostbyteCore

/// The parts of a Swarm upgrade that need no swarm: the per-release prepared label,
/// which update states mean Swarm gave a service up, a record written before the
/// rollback note existed, and the kept previous release on disk.
@Suite("install --swarm upgrade: labels, update states, kept release")
struct SwarmUpgradeUnitTests {
    func record(_ bundleId: String) -> SwarmInstallRecord {
        SwarmInstallRecord(stack: "s", bundleId: bundleId, name: "demo", version: "1.0.0", phase: .deployed, completed: [:],
                           failure: nil, pins: ["postgres": "n2"], labelledNodes: ["n1", "n2"],
                           labelPrefix: SwarmInstallRecord.labelPrefix(stack: "s"), gatewayService: "gateway",
                           publish: "127.0.0.1:8080", images: [:], stackFile: "/nonexistent/swarm-stack.yml",
                           previousBundleId: nil, startedAt: "t", updatedAt: "t")
    }

    @Test func oneLabelKeyPerRelease() {
        let old = record("demo-1.0.0-aaaa"), new = record("demo-1.1.0-bbbb")
        #expect(old.preparedLabel == "io.frostbyte.s.prepared.demo-1.0.0-aaaa")
        #expect(old.preparedLabel != new.preparedLabel)
        #expect(SwarmInstallRecord.isPreparedLabel(old.preparedLabel, prefix: old.labelPrefix))
        #expect(SwarmInstallRecord.isPreparedLabel("io.frostbyte.s.prepared", prefix: old.labelPrefix))
        // Negative controls: a pin label, and another stack's prepared label.
        #expect(!SwarmInstallRecord.isPreparedLabel("io.frostbyte.s.pin.postgres", prefix: old.labelPrefix))
        #expect(!SwarmInstallRecord.isPreparedLabel("io.frostbyte.s2.prepared.x", prefix: old.labelPrefix))
    }

    @Test func givenUpStates() {
        var update = SwarmServiceUpdate(name: "s_gateway", state: "", startedAt: "", message: "", containerSpec: "")
        for state in ["rollback_started", "rollback_paused", "rollback_completed", "paused"] {
            update.state = state
            #expect(update.givenUp, "\(state)")
        }
        for state in ["", "updating", "completed"] {
            update.state = state
            #expect(!update.givenUp, "\(state)")
        }
    }

    @Test func aRecordWithoutRollbackNoteStillReads() throws {
        var data = try JSONEncoder().encode(record("demo-1.0.0-aaaa"))
        var object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        #expect(object["rollback"] == nil)
        object.removeValue(forKey: "rollback")
        data = try JSONSerialization.data(withJSONObject: object)
        #expect(try JSONDecoder().decode(SwarmInstallRecord.self, from: data).rollback == nil)
    }

    @Test func keepsAndDiscardsThePreviousRelease() throws {
        let folder = NSTemporaryDirectory() + "fbswup-\(UUID().uuidString.prefix(8))"
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let layout = InstallationLayout(prefix: folder)
        try FileManager.default.createDirectory(atPath: layout.state, withIntermediateDirectories: true)
        var previous = record("demo-1.0.0-aaaa")
        previous.stackFile = "\(layout.state)/swarm-stack.yml"
        previous.labelledNodes = []  // no node to ask: keep() then reads no labels
        try Data("services: {}\n".utf8).write(to: URL(fileURLWithPath: previous.stackFile))
        let kept = try SwarmPreviousRelease.keep(previous, layout: layout, engine: DockerEngine(), nodes: [])
        #expect(SwarmPreviousRelease.read(layout) == kept)
        #expect(FileManager.default.contents(atPath: kept.stackFile) == Data("services: {}\n".utf8))
        SwarmPreviousRelease.discard(layout)
        #expect(SwarmPreviousRelease.read(layout) == nil)
        #expect(!FileManager.default.fileExists(atPath: kept.stackFile))
        // Negative control: a record whose stack file is gone cannot be kept.
        previous.stackFile = "\(layout.state)/gone.yml"
        #expect(throws: (any Error).self) { try SwarmPreviousRelease.keep(previous, layout: layout, engine: DockerEngine(), nodes: []) }
    }
}
