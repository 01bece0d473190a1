import Foundation
import TestSupport
import Testing

/// The one rule for which binary the tests run.
@Suite("TestSupport: the binary under test")
struct FrostbyteBinaryTests {
    @Test("FROSTBYTE_BIN when set and not empty, else the build beside the tests, else an error saying what to set")
    func rule() throws {
        let folder = try TestRun.scratchFolder("fbbin")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let beside = "\(folder)/frostbyte-bundle"
        FileManager.default.createFile(atPath: beside, contents: Data("#!/bin/sh\n".utf8), attributes: [.posixPermissions: 0o755])
        let other = "\(folder)/other"
        FileManager.default.createFile(atPath: other, contents: Data("#!/bin/sh\n".utf8), attributes: [.posixPermissions: 0o755])

        #expect(try FrostbyteBinary.locate(environment: other, testBundleFolder: folder).get() == other)
        #expect(try FrostbyteBinary.locate(environment: nil, testBundleFolder: folder).get() == beside)
        #expect(try FrostbyteBinary.locate(environment: "", testBundleFolder: folder).get() == beside, "empty is unset")
        // Negative controls: a FROSTBYTE_BIN that is not executable, and no build beside the tests.
        #expect(throws: TestFailure.self) { try FrostbyteBinary.locate(environment: "\(folder)/missing", testBundleFolder: folder).get() }
        let nothing = FrostbyteBinary.locate(environment: nil, testBundleFolder: "\(folder)/empty")
        #expect(throws: TestFailure.self) { try nothing.get() }
        if case .failure(let failure) = nothing {
            #expect(failure.description.contains("swift build") && failure.description.contains("FROSTBYTE_BIN="))
        }
    }

    @Test("the binary this run uses exists and is the tool")
    func located() throws {
        let path = try FrostbyteBinary.path
        let help = try TestCommand.run([path, "--help"], timeout: 60)
        #expect(help.status == 0 && help.stdout.contains("frostbyte-bundle"), "\(path): \(help.combined)")
    }
}
