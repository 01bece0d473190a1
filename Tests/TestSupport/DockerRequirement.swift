import Foundation
import FrostbyteCore
import Synchronization
import Testing

/// The docker requirement as a Swift Testing trait: `@Suite(.requiresDocker)` or
/// `@Test(.requiresDocker)`.
///
/// - dockerd answers (`docker info`, through `DOCKER_HOST` when set): the test runs;
///   before the first such test of the process, `StaleRuns.sweep()` removes what
///   crashed earlier runs left.
/// - dockerd does not answer and `CI=true`: the test FAILS with a sentence saying what
///   is missing (a CI run never passes by skipping its docker tests).
/// - dockerd does not answer otherwise: the test is skipped, with that reason.
public struct DockerRequirement: TestTrait, SuiteTrait {
    /// Also builds the integration tests' image `fbtest/busybox:1` when it is missing.
    public var needsTestImage = false

    public var comments: [Comment] { ["needs dockerd (under CI=true a missing dockerd fails the test)"] }

    public func prepare(for test: Test) async throws {
        guard Docker.available else {
            if TestRun.isCI {
                throw TestFailure("dockerd does not answer (`docker info`) but CI=true: this test needs a running dockerd (scripts/setup)")
            }
            try await ConditionTrait.enabled(if: false, "dockerd does not answer (`docker info`); set CI=true to fail instead")
                .prepare(for: test)
            return
        }
        StaleRuns.sweepOnce()
        if needsTestImage { try Docker.ensureTestImage() }
    }
}

extension Trait where Self == DockerRequirement {
    /// Runs when dockerd answers; fails under CI=true, skips otherwise (`DockerRequirement`).
    public static var requiresDocker: Self { DockerRequirement() }
    /// `requiresDocker`, and `fbtest/busybox:1` built when missing.
    public static var requiresDockerAndTestImage: Self { DockerRequirement(needsTestImage: true) }
}

/// Facts about the engine the tests run against.
public enum Docker {
    /// True when `docker info` answers within 20 s (asked once per process).
    public static let available: Bool =
        ((try? CommandRunner.run(["docker", "info", "--format", "{{.ServerVersion}}"], timeout: 20))?.status ?? 1) == 0

    /// The small image the integration tests run (scripts/make-test-image).
    public static let testImage = "fbtest/busybox:1"

    private static let imageLock = Mutex(false)

    /// Builds `testImage` with scripts/make-test-image unless the engine has it.
    /// - Throws: `TestFailure` when the script fails.
    public static func ensureTestImage() throws {
        try imageLock.withLock { built in
            if built { return }
            if (try? TestCommand.run(["docker", "image", "inspect", testImage], timeout: 60))?.status != 0 {
                let result = try TestCommand.run(["bash", "\(TestRun.repositoryRoot)/scripts/make-test-image"], timeout: 600)
                guard result.status == 0 else { throw TestFailure("scripts/make-test-image failed: \(result.stderr)") }
            }
            built = true
        }
    }

    /// The demo images' `docker save` archives from scripts/make-demo-images.
    public static let demoImagesFolder = "\(TestRun.repositoryRoot)/out/images"

    /// True when all four demo image archives exist (scripts/make-demo-images ran).
    public static let demoImagesPresent: Bool = ["postgres", "redis", "worker", "gateway"].allSatisfy {
        FileManager.default.fileExists(atPath: "\(demoImagesFolder)/\($0).tar")
    }
}
