import Foundation
import TestSupport
import Testing

/// "Every docker call goes through the engine client": no source file outside
/// Sources/Engine names the docker CLI as a program to run, and nothing but the core's
/// `ChildProcess` starts a process, in Sources and in Tests (where TestSupport's
/// `TestCommand` and `RunningCommand` sit on it). A negative control proves the scan
/// finds a call.
@Suite("Engine boundary")
struct EngineBoundaryTests {
    static let sources = URL(fileURLWithPath: TestRun.repositoryRoot).appendingPathComponent("Sources")
    static let tests = URL(fileURLWithPath: TestRun.repositoryRoot).appendingPathComponent("Tests")

    /// Foundation's process launcher and posix_spawn, as patterns (so this file does
    /// not name them).
    static let foundationProcess = #"\bProcess\(\)"#
    static let posixSpawn = #"\bposix_spawn\("#

    /// Lines of test code that start a process without ChildProcess.
    static func spawns(in text: String) -> [String] {
        text.split(separator: "\n").map(String.init).filter { line in
            [foundationProcess, posixSpawn].contains { line.range(of: $0, options: .regularExpression) != nil }
        }
    }

    /// Lines that start a docker program or a process outside the allowed module.
    static func violations(in text: String) -> [String] {
        let patterns = [#"\[\s*"docker(-compose)?"\s*,"#, foundationProcess, posixSpawn]
        return text.split(separator: "\n").map(String.init).filter { line in
            let code = line.trimmingCharacters(in: .whitespaces)
            guard !code.hasPrefix("//") else { return false }
            return patterns.contains { code.range(of: $0, options: .regularExpression) != nil }
        }
    }

    /// Every `.swift` file below `root` (relative path and text); fails the test when
    /// there are fewer than 50, so a scan that sees nothing cannot pass.
    static func swiftFiles(below root: URL) throws -> [(file: String, text: String)] {
        let files = FileManager.default.enumerator(atPath: root.path)?.compactMap { $0 as? String }
            .filter { $0.hasSuffix(".swift") } ?? []
        #expect(files.count > 50, "the scan must see \(root.path)")
        return try files.map { ($0, try String(contentsOf: root.appendingPathComponent($0), encoding: .utf8)) }
    }

    @Test("no module but Engine runs docker; only ChildProcess spawns")
    func boundary() throws {
        var found: [String] = []
        for (file, text) in try Self.swiftFiles(below: Self.sources) {
            for line in Self.violations(in: text) {
                let spawns = !Self.spawns(in: line).isEmpty
                if file.hasPrefix("Engine/") && !spawns { continue }
                if file == "FrostbyteCore/ChildProcess.swift" && line.range(of: Self.posixSpawn, options: .regularExpression) != nil {
                    continue
                }
                // The engine client's own legacy Compose v1 probe is in Engine too.
                found.append("\(file): \(line.trimmingCharacters(in: .whitespaces))")
            }
        }
        #expect(found.isEmpty, "docker or a process started outside the engine client / core: \(found)")
    }

    @Test("the scan finds a docker call and a Process (negative control)")
    func negativeControl() {
        #expect(Self.violations(in: #"let r = try CommandRunner.run(["docker", "ps"], timeout: 1)"#).count == 1)
        #expect(Self.violations(in: "let p = Process" + "()").count == 1)
        #expect(Self.spawns(in: "let p = Process" + "()\nposix_spawn" + "(&pid, path, nil, nil, argv, envp)\nlet q = 1").count == 2)
        #expect(Self.spawns(in: #"try TestCommand.run(["docker", "ps"])"#).isEmpty)
        #expect(Self.violations(in: #"// try CommandRunner.run(["docker", "ps"])"#).isEmpty)
    }

    @Test("no test starts a process but through ChildProcess (TestSupport's TestCommand, RunningCommand)")
    func testsStartProgramsOnlyThroughChildProcessHelpers() throws {
        let found = try Self.swiftFiles(below: Self.tests).flatMap { file, text in
            Self.spawns(in: text).map { "\(file): \($0.trimmingCharacters(in: .whitespaces))" }
        }
        #expect(found.isEmpty, "a test starts a process without ChildProcess: \(found)")
    }
}
