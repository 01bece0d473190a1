@testable import Export
import Foundation
import TestSupport
import Testing

/// The spool folder of one export: beside OUT, private, and gone after `remove()`
/// or when the workspace goes away.
@Suite("Export: workspace")
struct ExportWorkspaceTests {
    @Test("the spool is .<OUT>.spool-XXXXXX beside OUT, mode 0700; remove() deletes its files and itself, twice is harmless")
    func besideOutputAndRemoved() throws {
        let folder = try TestRun.scratchFolder("fbexport-ws")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let workspace = try ExportWorkspace(besides: "\(folder)/audit.tar.zst")
        #expect((workspace.path as NSString).deletingLastPathComponent == folder)
        #expect((workspace.path as NSString).lastPathComponent.hasPrefix(".audit.tar.zst.spool-"))
        var info = stat()
        #expect(stat(workspace.path, &info) == 0 && info.st_mode & 0o777 == 0o700)
        let dump = workspace.file("db.dump")
        #expect((dump as NSString).deletingLastPathComponent == workspace.path)
        try Data("rows".utf8).write(to: URL(fileURLWithPath: dump))
        workspace.remove()
        #expect(!FileManager.default.fileExists(atPath: workspace.path))
        workspace.remove()
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder).isEmpty, "nothing left beside OUT")
    }

    @Test("a workspace that goes away unremoved takes its spool with it")
    func removedOnDeinit() throws {
        let folder = try TestRun.scratchFolder("fbexport-ws")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        var path = ""
        do {
            let workspace = try ExportWorkspace(besides: "\(folder)/out.tar.zst")
            path = workspace.path
            try Data("x".utf8).write(to: URL(fileURLWithPath: workspace.file("a")))
            #expect(FileManager.default.fileExists(atPath: path))
        }
        #expect(!path.isEmpty && !FileManager.default.fileExists(atPath: path))
    }

    @Test("an output folder that does not exist is an ExportError.workspace naming the spool template")
    func missingFolder() throws {
        let folder = try TestRun.scratchFolder("fbexport-ws")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        do {
            _ = try ExportWorkspace(besides: "\(folder)/missing/out.tar.zst")
            Issue.record("a workspace was made in a folder that does not exist")
        } catch ExportError.workspace(let path, let reason) {
            #expect(path == "\(folder)/missing/.out.tar.zst.spool-XXXXXX")
            #expect(reason.contains("No such file"))
        }
    }
}
