import Foundation
import TestSupport
import Testing

/// The guides in docs/ never go stale: `scripts/check-guides` runs every block
/// marked ```sh {test} against the real binary (and real dockerd: the guides build,
/// install and export the demo stack). The runner itself is checked first with
/// small guides whose outcome is known, so a runner that runs nothing cannot pass.
@Suite("Guides", .serialized)
struct GuideTests {
    static let script = "\(TestRun.repositoryRoot)/scripts/check-guides"

    /// Runs check-guides on `files` (all of docs/ when empty) with `binary` (default:
    /// the binary under test) as frostbyte-bundle.
    static func checkGuides(_ files: [String], binary: String? = nil, timeout: Double = 1800) throws -> CommandOutput {
        try TestCommand.run(["python3", script] + files, environment: ["FROSTBYTE_BIN": try binary ?? FrostbyteBinary.path],
                            timeout: timeout)
    }

    /// Writes a throw-away guide and returns its path.
    static func guide(_ text: String, in folder: String, name: String) throws -> String {
        let path = "\(folder)/\(name).md"
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        return path
    }

    @Test func runnerReportsPassesFailuresAndMalformedGuides() throws {
        let folder = NSTemporaryDirectory() + "fbguide-runner-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let marker = "\(folder)/cleanup-ran"
        let fence = "```"

        // Blocks share one session; unmarked blocks never run; exit=N and cleanup work.
        let good = try Self.guide("""
            \(fence)sh {test}
            VALUE=kept
            echo "$VALUE" > value.txt
            \(fence)

            \(fence)sh
            exit 7
            \(fence)

            <!--
            \(fence)sh {test}
            test "$VALUE" = kept
            test -f value.txt
            command -v frostbyte-bundle
            \(fence)
            -->

            \(fence)sh {test exit=3}
            exit 3
            \(fence)

            \(fence)sh {test cleanup}
            touch '\(marker)'
            \(fence)
            """, in: folder, name: "good")
        let passed = try Self.checkGuides([good], binary: "/bin/true", timeout: 120)
        #expect(passed.status == 0, "\(passed.stderr)")
        #expect(passed.stderr.contains("3 blocks passed"), "\(passed.stderr)")
        #expect(FileManager.default.fileExists(atPath: marker), "the cleanup block did not run")

        // A failing command stops the run and names the block; later blocks do not run.
        try? FileManager.default.removeItem(atPath: marker)
        let failing = try Self.guide("""
            # Title

            \(fence)sh {test}
            true
            false
            touch '\(folder)/after-false'
            \(fence)

            \(fence)sh {test cleanup}
            touch '\(marker)'
            \(fence)
            """, in: folder, name: "failing")
        let failed = try Self.checkGuides([failing], binary: "/bin/true", timeout: 120)
        #expect(failed.status == 1)
        #expect(failed.stderr.contains("FAILED at \(failing):3"), "\(failed.stderr)")
        #expect(!FileManager.default.fileExists(atPath: "\(folder)/after-false"))
        #expect(FileManager.default.fileExists(atPath: marker), "cleanup must run after a failure too")

        // An expected exit status that does not come is a failure.
        let wrongStatus = try Self.guide("\(fence)sh {test exit=1}\ntrue\n\(fence)\n", in: folder, name: "status")
        let wrong = try Self.checkGuides([wrongStatus], binary: "/bin/true", timeout: 120)
        #expect(wrong.status == 1 && wrong.stderr.contains("expected exit status 1, got 0"), "\(wrong.stderr)")

        // Malformed guides are bad input (2): unknown attribute, unclosed fence.
        let unknown = try Self.guide("\(fence)sh {test sometimes}\ntrue\n\(fence)\n", in: folder, name: "unknown")
        #expect(try Self.checkGuides([unknown], binary: "/bin/true", timeout: 120).status == 2)
        let unclosed = try Self.guide("\(fence)sh {test}\ntrue\n", in: folder, name: "unclosed")
        #expect(try Self.checkGuides([unclosed], binary: "/bin/true", timeout: 120).status == 2)

        // Every guide in docs/ that has marked blocks is found (listing needs no binary).
        let listed = try TestCommand.run(["python3", Self.script, "--list"])
        #expect(listed.status == 0)
        #expect(listed.stdout.contains("docs/release-engineer.md:"))
        #expect(listed.stdout.contains("docs/auditor.md:"))
    }

    @Test(.requiresDockerAndTestImage)
    func guidesInDocsRun() throws {
        try #require(ExportStack.demoImagesPresent, "the demo images are missing: run scripts/make-demo-images")
        ExportStack.dockerLock.lock()
        defer { ExportStack.dockerLock.unlock() }
        let result = try Self.checkGuides([])
        #expect(result.status == 0, "check-guides failed:\n\(result.stderr.suffix(6000))")
        for guide in ["docs/release-engineer.md", "docs/auditor.md"] {
            #expect(result.stderr.contains("\(TestRun.repositoryRoot)/\(guide): "), "\(guide) was not run")
        }
        #expect(!result.stderr.contains("FAILED"))
    }
}
