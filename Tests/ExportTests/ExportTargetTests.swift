import FrostbyteCore
import BundleFormat
@testable import Export
import Foundation
import InstallationState
import TestSupport
import Testing

/// What an export reads from the installation before any step runs: receipt,
/// active manifest and its `exports` steps, each refused in one sentence.
@Suite("Export: target")
struct ExportTargetTests {
    /// An installation prefix with a receipt for `receiptId` and `current` holding a
    /// manifest `manifestId` with `steps`.
    static func installation(in folder: String, receiptId: String = "demo-1.0.0-0123456789ab",
                             manifestId: String = "demo-1.0.0-0123456789ab",
                             steps: [Manifest.ExportStep]?) throws -> InstallationLayout {
        let layout = InstallationLayout(prefix: "\(folder)/prefix")
        try FileManager.default.createDirectory(atPath: "\(layout.prefix)/releases/\(manifestId)", withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: layout.current, withDestinationPath: "releases/\(manifestId)")
        let manifest = Manifest(name: "demo", version: "1.0.0", bundleId: manifestId, createdAt: "2026-01-01T00:00:00Z",
                                builder: .init(name: "frostbyte-bundle", version: "test"), exports: steps, files: [])
        try DeterministicJSON.encode(manifest).write(to: URL(fileURLWithPath: "\(layout.current)/MANIFEST.json"))
        let receipt = InstallationReceipt(bundleId: receiptId, name: "demo", version: "1.0.0", project: "fbexport",
                                          subnet: "10.216.1.0/24", gatewayIP: nil, installedAt: "2026-01-01T00:00:00Z",
                                          images: [:])
        try FileManager.default.createDirectory(atPath: (layout.receipt as NSString).deletingLastPathComponent,
                                                withIntermediateDirectories: true)
        try JSONEncoder().encode(receipt).write(to: URL(fileURLWithPath: layout.receipt))
        return layout
    }

    static let dump = Manifest.ExportStep(name: "db.dump", service: "postgres", command: ["pg_dump"])
    static let audit = Manifest.ExportStep(name: "audit.csv", service: "postgres", command: ["psql"])

    @Test("an installation with steps loads them in manifest order")
    func loadsSteps() throws {
        let folder = try TestRun.scratchFolder("fbexport-target")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let target = try ExportTarget.load(try Self.installation(in: folder, steps: [Self.dump, Self.audit]))
        #expect(target.steps == [Self.dump, Self.audit])
        #expect(target.receipt.project == "fbexport")
    }

    @Test("nothing installed, receipt and current disagreeing, no steps, unsafe or repeated step names are refused")
    func refusals() throws {
        let folder = try TestRun.scratchFolder("fbexport-target")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let empty = InstallationLayout(prefix: "\(folder)/empty")
        #expect(throws: ExportError.notInstalled(prefix: empty.prefix)) { try ExportTarget.load(empty) }
        func load(_ name: String, receiptId: String = "demo-1.0.0-0123456789ab", _ steps: [Manifest.ExportStep]?) throws {
            try FileManager.default.createDirectory(atPath: "\(folder)/\(name)", withIntermediateDirectories: true)
            _ = try ExportTarget.load(try Self.installation(in: "\(folder)/\(name)", receiptId: receiptId, steps: steps))
        }
        #expect(throws: ExportError.inconsistentInstallation(receipt: "demo-0.9.0-ffffffffffff", current: "demo-1.0.0-0123456789ab")) {
            try load("other", receiptId: "demo-0.9.0-ffffffffffff", [Self.dump])
        }
        #expect(throws: ExportError.noExports(bundleId: "demo-1.0.0-0123456789ab")) { try load("none", nil) }
        #expect(throws: ExportError.noExports(bundleId: "demo-1.0.0-0123456789ab")) { try load("emptylist", []) }
        for bad in ["", ".", "..", "a/b", "tab\there"] {
            #expect(throws: ExportError.invalidStepName(name: bad)) {
                try load("bad\(bad.utf8.count)\(bad.hashValue & 0xFFFF)", [.init(name: bad, service: "postgres", command: ["true"])])
            }
        }
        #expect(throws: ExportError.duplicateStepName(name: "db.dump")) { try load("twice", [Self.dump, Self.dump]) }
    }
}
