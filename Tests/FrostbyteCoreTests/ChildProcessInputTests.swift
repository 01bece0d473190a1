import Foundation
import Testing
@testable import FrostbyteCore

/// `ChildProcess` with its stdin on a pipe (what `docker load` of a streamed image
/// reads): bytes arrive in order, a child that stops reading ends the write with
/// `.closed` instead of killing this process with SIGPIPE, and a deadline bounds a
/// write the child never takes.
@Suite("ChildProcess stdin pipe")
struct ChildProcessInputTests {
    @Test("every byte written reaches the child, in order")
    func bytesArrive() throws {
        let scratch = try ScratchFolder(prefix: "fb-input")
        let outPath = "\(scratch.path)/out"
        let out = open(outPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        defer { close(out) }
        let child = try ChildProcess(["cat"], stdin: .pipe, stdout: .descriptor(out), stderrPath: "\(scratch.path)/err")
        var expected = Data()
        for round in 0..<40 {   // 40 x 256 KiB: far more than a pipe holds
            let chunk = Data(repeating: UInt8(round), count: 256 << 10)
            try chunk.withUnsafeBytes { try child.writeInput($0, deadline: Date().addingTimeInterval(30)) }
            expected.append(chunk)
        }
        child.closeInput()
        #expect(child.wait() == 0)
        #expect(FileManager.default.contents(atPath: outPath) == expected)
    }

    @Test("a child that exits without reading: .closed, and this process lives on")
    func childGone() throws {
        let scratch = try ScratchFolder(prefix: "fb-input")
        let child = try ChildProcess(["true"], stdin: .pipe, stdout: .descriptor(STDERR_FILENO), stderrPath: "\(scratch.path)/err")
        #expect(child.wait() == 0)
        let chunk = Data(repeating: 7, count: 1 << 20)
        #expect(throws: ChildProcess.InputError.closed) {
            try chunk.withUnsafeBytes { try child.writeInput($0, deadline: nil) }
        }
        // Negative control: without a pipe there is nothing to write to.
        let plain = try ChildProcess(["true"], stdout: .descriptor(STDERR_FILENO), stderrPath: "\(scratch.path)/err2")
        _ = plain.wait()
        #expect(throws: ChildProcess.InputError.self) {
            try chunk.withUnsafeBytes { try plain.writeInput($0, deadline: nil) }
        }
    }

    @Test("a child that never reads: the write stops at its deadline")
    func deadline() throws {
        let scratch = try ScratchFolder(prefix: "fb-input")
        let child = try ChildProcess(["sleep", "30"], stdin: .pipe, stdout: .descriptor(STDERR_FILENO), stderrPath: "\(scratch.path)/err")
        let started = Date()
        let chunk = Data(repeating: 1, count: 4 << 20)
        #expect(throws: ChildProcess.InputError.timedOut) {
            try chunk.withUnsafeBytes { try child.writeInput($0, deadline: Date().addingTimeInterval(0.3)) }
        }
        #expect(Date().timeIntervalSince(started) < 5)
        child.signal(SIGKILL)
        _ = child.wait()
    }
}
