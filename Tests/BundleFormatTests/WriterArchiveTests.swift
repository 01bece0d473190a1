import BundleFormat
import FrostbyteArchive
import Foundation
import Testing
import TestSupport

/// Standard tools' views of what the writer wrote (run through TestSupport's `TestCommand`).
enum WriterTools {
    /// Pax extended-header records per entry, as Python's tarfile reads them.
    static func paxRecords(ofTar path: String) throws -> [String: [String]] {
        let script = """
            import json, sys, tarfile
            out = {}
            with tarfile.open(sys.argv[1]) as t:
                for m in t.getmembers():
                    out[m.name] = sorted(m.pax_headers.keys())
                    assert m.uid == 0 and m.gid == 0 and m.uname == '' and m.gname == '', m.name
            print(json.dumps(out))
            """
        let result = try TestCommand.run(["python3", "-c", script, path])
        guard result.status == 0 else { throw WriterTestError("python3 tarfile failed: \(result.stderr)") }
        return try JSONDecoder().decode([String: [String]].self, from: result.data)
    }
}

struct WriterTestError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// An `ArchiveOutput` collecting bytes in memory (tests only; bundles go to files).
final class MemoryOutput: ArchiveOutput {
    var data = Data()
    func write(_ bytes: UnsafeRawBufferPointer) throws { data.append(contentsOf: bytes) }
}

@Suite("ArchiveWriter: deterministic pax tar and zstd through libarchive")
struct WriterArchiveTests {
    /// Writes a small fixed archive and returns its bytes.
    private func sample(_ compression: ArchiveCompression, mtime: Int64 = 1_700_000_000,
                        in folder: TemporaryFolder) throws -> Data {
        let big = folder.file("big.bin")
        if !FileManager.default.fileExists(atPath: big) {
            var bytes = [UInt8](repeating: 0, count: 3 << 20 + 17)
            for index in bytes.indices { bytes[index] = UInt8(truncatingIfNeeded: index &* 2_654_435_761 >> 7) }
            try Data(bytes).write(to: URL(fileURLWithPath: big))
        }
        let output = MemoryOutput()
        let writer = try ArchiveWriter(output: output, compression: compression, mtime: mtime)
        try writer.writeFile("root/a.txt", mode: .file, contents: Data("hello\n".utf8))
        try writer.writeDirectory("root/dir")
        try writer.writeFile("root/dir/run.sh", mode: .executable, contents: Data("#!/bin/sh\n".utf8))
        try writer.writeFile("root/dir/big.bin", mode: .file, size: 3 << 20 + 17, from: big)
        try writer.finish()
        return output.data
    }

    @Test("the same entries give the same bytes; another mtime gives other bytes", arguments: [
        ArchiveCompression.none, .zstd(level: 3), .zstd(level: 9),
    ])
    func deterministic(_ compression: ArchiveCompression) throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let first = try sample(compression, in: folder)
        let second = try sample(compression, in: folder)
        #expect(first == second)
        #expect(!first.isEmpty)
        let otherTime = try sample(compression, mtime: 1_700_000_001, in: folder)
        #expect(otherTime != first, "negative control: the mtime must reach the bytes")
    }

    @Test("GNU tar and Python's tarfile read it: uid/gid 0, no names, fixed mtime and modes, no pax records")
    func interop() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let archive = folder.file("a.tar.zst")
        try sample(.standard, in: folder).write(to: URL(fileURLWithPath: archive))
        #expect(try TestCommand.run(["zstd", "-q", "-d", archive, "-o", folder.file("a.tar")]).status == 0)
        let listing = try TestCommand.run(["tar", "--numeric-owner", "--full-time", "-tvf", folder.file("a.tar")],
                                          environment: ["TZ": "UTC"])
        #expect(listing.status == 0)
        let lines = listing.stdout.split(separator: "\n").map(String.init)
        #expect(lines.count == 4)
        #expect(lines[0].hasPrefix("-rw-r--r-- 0/0") && lines[0].hasSuffix("2023-11-14 22:13:20 root/a.txt"))
        #expect(lines[1].hasPrefix("drwxr-xr-x 0/0") && lines[1].hasSuffix("root/dir/"))
        #expect(lines[2].hasPrefix("-rwxr-xr-x 0/0") && lines[2].hasSuffix("root/dir/run.sh"))
        #expect(lines[3].contains(" \(3 << 20 + 17) ") && lines[3].hasSuffix("root/dir/big.bin"))
        let pax = try WriterTools.paxRecords(ofTar: folder.file("a.tar"))
        #expect(pax.count == 4)
        let withRecords = pax.filter { !$0.value.isEmpty }
        #expect(withRecords.isEmpty, "no pax records for short ASCII names")
        #expect(try TestCommand.run(["tar", "-xf", folder.file("a.tar"), "-C", folder.path]).status == 0)
        let extracted = try Data(contentsOf: URL(fileURLWithPath: folder.file("root/dir/big.bin")))
        #expect(extracted == (try Data(contentsOf: URL(fileURLWithPath: folder.file("big.bin")))))
    }

    @Test("only a 'path' pax record for long and non-ASCII names, under any locale")
    func longAndUnicodeNames() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let long = "root/" + String(repeating: "d", count: 120) + "/" + String(repeating: "f", count: 150) + ".txt"
        let unicode = "root/Grüße-ünïcode.txt"
        func write() throws -> Data {
            let output = MemoryOutput()
            let writer = try ArchiveWriter(output: output, compression: .none, mtime: 0)
            try writer.writeFile(long, mode: .file, contents: Data("x".utf8))
            try writer.writeFile(unicode, mode: .file, contents: Data("y".utf8))
            try writer.writeFile("root/short.txt", mode: .file, contents: Data("z".utf8))
            try writer.finish()
            return output.data
        }
        let bytes = try write()
        #expect(try write() == bytes)
        try bytes.write(to: URL(fileURLWithPath: folder.file("n.tar")))
        let pax = try WriterTools.paxRecords(ofTar: folder.file("n.tar"))
        #expect(pax[long] == ["path"])
        #expect(pax[unicode] == ["path"])
        #expect(pax["root/short.txt"] == [])
        let listing = try TestCommand.run(["tar", "-tf", folder.file("n.tar")], environment: ["LC_ALL": "C.UTF-8"])
        #expect(listing.stdout.contains("Grüße-ünïcode.txt"))
    }

    @Test("a source file whose size changed since hashing is refused, nothing more is written")
    func sourceChanged() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        try Data(count: 1000).write(to: URL(fileURLWithPath: folder.file("f")))
        let writer = try ArchiveWriter(output: MemoryOutput(), compression: .none, mtime: 0)
        #expect(throws: ArchiveWriteError.sourceChanged(path: folder.file("f"), detail: "size was 999 bytes when hashed, now 1000")) {
            try writer.writeFile("r/f", mode: .file, size: 999, from: folder.file("f"))
        }
        let control = try ArchiveWriter(output: MemoryOutput(), compression: .none, mtime: 0)
        try control.writeFile("r/f", mode: .file, size: 1000, from: folder.file("f"))
        try control.finish()
    }

    @Test("unsafe entry paths are refused", arguments: ["", "/abs", "a/../b", "a//b", "./a", "a/", "a\nb"])
    func unsafePaths(_ path: String) throws {
        let writer = try ArchiveWriter(output: MemoryOutput(), compression: .none, mtime: 0)
        #expect(throws: ArchiveWriteError.invalidPath(path)) {
            try writer.writeFile(path, mode: .file, contents: Data())
        }
    }

    @Test("an output error is reported (by a later write or by finish), and the writer is closed after it")
    func outputErrors() throws {
        final class Failing: ArchiveOutput {
            func write(_ bytes: UnsafeRawBufferPointer) throws {
                throw BundleWriteError.writeFailed(path: "x", reason: "No space left on device")
            }
        }
        let writer = try ArchiveWriter(output: Failing(), compression: .none, mtime: 0)
        // The output runs on its own thread, so the error surfaces at the next write
        // that needs a buffer, or at the latest in finish().
        do {
            try writer.writeFile("r/f", mode: .file, contents: Data(count: 9 << 20))
            try writer.finish()
            Issue.record("a failing output was not reported")
        } catch let error as BundleWriteError {
            #expect(error == .writeFailed(path: "x", reason: "No space left on device"))
        }
        #expect(throws: (any Error).self) { try writer.finish() }
    }
}
