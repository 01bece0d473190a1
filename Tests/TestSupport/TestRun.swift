import Foundation
import Synchronization

/// What every test target shares about the run it belongs to: the repository it was
/// built from, a short run ID, the heartbeat that tells other runs this one is alive,
/// and the one error type for a precondition that did not hold.
public enum TestRun {
    /// The repository root (three folders above this file), so a clone in any folder
    /// finds its scripts, manifests and fixtures.
    public static let repositoryRoot: String = {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().path
    }()

    /// Short ID of this test process: FROSTBYTE_TEST_RUN (letters and digits, at most
    /// 8), else random. Projects, prefixes, images and labels of this run carry it.
    public static let id: String = {
        let raw = ProcessInfo.processInfo.environment["FROSTBYTE_TEST_RUN"]
            .flatMap { $0.isEmpty ? nil : $0 } ?? String(UInt32.random(in: 0...UInt32.max), radix: 16)
        return String(raw.lowercased().filter { $0.isLetter || $0.isNumber }.prefix(8))
    }()

    /// The label every container, network and volume the tests create carries
    /// (`io.frostbyte.test.run=<run>`), so `StaleRuns.sweep()` finds what a killed run left.
    public static let label = "io.frostbyte.test.run"

    /// True when the environment says this is CI (`CI=true`): a test that needs
    /// something missing (dockerd, a release binary) fails there instead of skipping.
    public static var isCI: Bool { ProcessInfo.processInfo.environment["CI"] == "true" }

    private static let counter = Mutex(0)

    /// 1, 2, 3, ... unique within this process (project and folder names).
    public static func next() -> Int { counter.withLock { $0 += 1; return $0 } }

    /// `$TMPDIR/fbinst-run-<run>`: touched whenever a run names a project or prefix,
    /// so runs going on at the same time on one machine never sweep each other.
    public static func heartbeat(_ run: String) -> String { NSTemporaryDirectory() + "fbinst-run-\(run)" }

    /// Marks this run as alive (see `heartbeat`).
    public static func touchHeartbeat() {
        let path = heartbeat(id)
        if !FileManager.default.createFile(atPath: path, contents: nil) { utimes(path, nil) }
    }

    /// The modification time of `path`; distant past when it cannot be read.
    public static func modified(_ path: String) -> Date {
        ((try? FileManager.default.attributesOfItem(atPath: path))?[.modificationDate] as? Date) ?? .distantPast
    }

    /// A fresh scratch folder `$TMPDIR/<tag>-XXXXXX` (mkdtemp, 0700); remove it in `defer`.
    public static func scratchFolder(_ tag: String) throws -> String {
        var template = Array((NSTemporaryDirectory() + "\(tag)-XXXXXX").utf8CString)
        guard let made = mkdtemp(&template) else { throw TestFailure("mkdtemp \(tag): \(String(cString: strerror(errno)))") }
        return String(cString: made)
    }
}

/// A test precondition that did not hold (a fixture could not be made, a tool failed).
public struct TestFailure: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
