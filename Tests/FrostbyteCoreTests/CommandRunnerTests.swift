import Foundation
import Testing
@testable import FrostbyteCore

@Suite("CommandRunner and ChildProcess")
struct CommandRunnerTests {
    @Test("stdout, stderr and the exit status come back; stdin is fed")
    func roundTrip() throws {
        let result = try CommandRunner.run(["sh", "-c", "cat; echo err >&2; exit 3"], stdin: Data("hello".utf8))
        #expect(result.status == 3)
        #expect(result.output == "hello")
        #expect(result.errorOutput == "err")
    }

    @Test("a command past its timeout is stopped and reported")
    func timeout() throws {
        let started = Date()
        #expect(throws: CommandError.timedOut(command: "sleep 30", seconds: 0.3)) {
            try CommandRunner.run(["sleep", "30"], timeout: 0.3)
        }
        #expect(Date().timeIntervalSince(started) < 5)
    }

    @Test("a missing program is named")
    func missing() {
        #expect(throws: CommandError.notFound(command: "no-such-program-fb")) {
            try CommandRunner.run(["no-such-program-fb"])
        }
    }

    @Test("check throws with the program's stderr")
    func checkFails() {
        #expect(throws: CommandError.failed(command: "sh -c echo nope >&2; exit 1", status: 1, stderr: "nope")) {
            try CommandRunner.check(["sh", "-c", "echo nope >&2; exit 1"])
        }
    }

    @Test("a signal ending the child is reported as 128 + signal")
    func signalled() throws {
        let scratch = try ScratchFolder(prefix: "fb-core-test")
        let child = try ChildProcess(["sleep", "30"], stderrPath: "\(scratch.path)/err")
        child.signal(SIGKILL)
        #expect(child.wait() == 128 + SIGKILL)
    }
}

@Suite("AtomicFile")
struct AtomicFileTests {
    @Test("write replaces the file with exact permission bits and leaves no temporary file")
    func write() throws {
        let scratch = try ScratchFolder(prefix: "fb-core-test")
        let path = "\(scratch.path)/a/b/file"
        try AtomicFile.makeFolder("\(scratch.path)/a/b")
        try AtomicFile.write(Data("one".utf8), to: path, mode: 0o600)
        try AtomicFile.write(Data("two".utf8), to: path, mode: 0o640)
        #expect(FileManager.default.contents(atPath: path) == Data("two".utf8))
        var info = stat()
        #expect(stat(path, &info) == 0 && info.st_mode & 0o777 == 0o640)
        #expect(try FileManager.default.contentsOfDirectory(atPath: "\(scratch.path)/a/b") == ["file"])
    }

    @Test("a folder that is not writable gives a FileSystemError naming the path")
    func refused() throws {
        #expect(throws: FileSystemError.self) {
            try AtomicFile.write(Data(), to: "/proc/frostbyte-cannot-write-here")
        }
    }
}
