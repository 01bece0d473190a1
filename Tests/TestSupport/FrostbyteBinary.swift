import Foundation

/// The `frostbyte-bundle` binary the integration tests run. One rule for every test
/// target:
///
/// 1. `FROSTBYTE_BIN` when it is set and not empty (it must name an executable file,
///    else every use throws an error naming it);
/// 2. else the `frostbyte-bundle` in the folder of the running test bundle: the build
///    made with the same configuration and scratch path as the code under test
///    (`swift build --build-tests` and `swift test` build it there);
/// 3. else every use throws an error saying where it looked and what to set
///    (`swift build`, or `FROSTBYTE_BIN=/path/to/frostbyte-bundle`).
///
/// No other build folder (another `.build*`, the newest by date) is ever guessed.
public enum FrostbyteBinary {
    /// The binary's path, or the one-sentence reason there is none.
    public static let located: Result<String, TestFailure> = locate(
        environment: ProcessInfo.processInfo.environment["FROSTBYTE_BIN"], testBundleFolder: testBundleFolder())

    /// The binary under test (see the rule above).
    /// - Throws: `TestFailure` saying what to set when it is not found.
    public static var path: String {
        get throws { try located.get() }
    }

    /// The rule itself, for a given `FROSTBYTE_BIN` value and test bundle folder.
    public static func locate(environment value: String?, testBundleFolder: String) -> Result<String, TestFailure> {
        if let value, !value.isEmpty {
            return FileManager.default.isExecutableFile(atPath: value) ? .success(value)
                : .failure(TestFailure("FROSTBYTE_BIN=\(value) is not an executable file; set it to a built frostbyte-bundle or unset it"))
        }
        let beside = "\(testBundleFolder)/frostbyte-bundle"
        if FileManager.default.isExecutableFile(atPath: beside) { return .success(beside) }
        return .failure(TestFailure(
            "frostbyte-bundle is not built beside the tests (\(beside)); run `swift build` or set FROSTBYTE_BIN=/path/to/frostbyte-bundle"))
    }

    /// The folder holding the running test bundle (`/proc/self/exe`, or the first
    /// argument, outside any `.xctest` bundle folder).
    static func testBundleFolder() -> String {
        let executable = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"))
            ?? ProcessInfo.processInfo.arguments[0]
        var folder = URL(fileURLWithPath: executable).deletingLastPathComponent()
        while folder.path.contains(".xctest") && folder.path != "/" { folder.deleteLastPathComponent() }
        return folder.path
    }
}
