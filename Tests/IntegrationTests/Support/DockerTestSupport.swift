import Foundation
import Testing

/// Shared plumbing for integration tests on a real dockerd: whether Docker answers
/// (tests FAIL under CI=true when it does not, else they are skipped), unique
/// project names and free subnets per run, the test image, sweeping what crashed
/// runs left behind, and running programs without a shell.
///
/// Names: every project is `fbtest-<run>-<n>`; every container, network and volume
/// the helpers create carries `io.frostbyte.test.run=<run>`. Subnets come from
/// 10.213.0.0/16, chosen so they overlap no existing docker network or host route.
enum DockerTestSupport {
    /// The repository root.
    static let repoRoot: String = {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent().path
    }()

    /// The binary under test: FROSTBYTE_BIN, else the newest `.build*/debug` build.
    static let binary: String = {
        if let bin = ProcessInfo.processInfo.environment["FROSTBYTE_BIN"], !bin.isEmpty { return bin }
        let folders = ((try? FileManager.default.contentsOfDirectory(atPath: repoRoot)) ?? [])
            .filter { $0.hasPrefix(".build") }
        let candidates = folders.map { "\(repoRoot)/\($0)/debug/frostbyte-bundle" }
            .filter { FileManager.default.isExecutableFile(atPath: $0) }
        return candidates.max { modified($0) < modified($1) } ?? "\(repoRoot)/.build/debug/frostbyte-bundle"
    }()

    /// The binary under test as another user (`nobody`) can run it: a copy in a
    /// world-readable folder, since the checkout may sit under a 0700 folder such as
    /// `/root`, whose path another user cannot traverse to exec the original.
    static let binaryForOtherUsers: String = {
        let folder = "/tmp/fbtest-bin-\(runID)-\(getpid())"
        let copy = "\(folder)/frostbyte-bundle"
        try? FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        chmod(folder, 0o755)
        try? FileManager.default.removeItem(atPath: copy)
        try? FileManager.default.copyItem(atPath: binary, toPath: copy)
        chmod(copy, 0o755)
        return copy
    }()

    /// The modification time of `path`; distant past when it cannot be read.
    static func modified(_ path: String) -> Date {
        ((try? FileManager.default.attributesOfItem(atPath: path))?[.modificationDate] as? Date) ?? .distantPast
    }

    /// Short id of this test process (FROSTBYTE_TEST_RUN, else random).
    static let runID: String = {
        let raw = ProcessInfo.processInfo.environment["FROSTBYTE_TEST_RUN"]
            ?? String(UInt32.random(in: 0...UInt32.max), radix: 16)
        return String(raw.lowercased().filter { $0.isLetter || $0.isNumber }.prefix(8))
    }()

    static let testLabel = "io.frostbyte.test.run"
    static let image = "fbtest/busybox:1"

    /// True when `docker info` answers.
    static let dockerAvailable: Bool = (try? run(["docker", "info", "--format", "{{.ServerVersion}}"]).status) == 0

    /// Use as `.enabled(if: DockerTestSupport.enabled)`: docker tests run when docker
    /// answers, and under CI=true even when it does not (so they fail there).
    static let enabled: Bool = dockerAvailable || ProcessInfo.processInfo.environment["CI"] == "true"

    /// Call first in a docker test: records a failure when docker is missing (only
    /// reachable under CI=true), sweeps stale resources once, builds the test image.
    static func prepare() throws {
        guard dockerAvailable else {
            Issue.record("docker is not available but CI=true: integration tests need a running dockerd (scripts/setup)")
            throw CancellationError()
        }
        _ = sweptOnce
        try ensureTestImage()
    }

    // MARK: - Names and subnets

    private static let counter = DockerTestCounter()

    /// A fresh project name for this run: `fbtest-<run>-<n>`.
    static func projectName() -> String { "fbtest-\(runID)-\(counter.next())" }

    /// A /24 from `block`.0.0/16 (10.213 unless a suite keeps its own range) that no
    /// docker network and no host route uses.
    static func freeSubnet(in block: String = "10.213") throws -> String {
        let used = try usedAddressSpace()
        for _ in 0..<200 {
            let octet = Int.random(in: 1...254)
            let prefix = "\(block).\(octet)."
            if !used.contains(where: { $0.hasPrefix(prefix) }) && !used.contains("\(block).0.0/16") {
                return "\(prefix)0/24"
            }
        }
        throw TestFailure("no free \(block).x.0/24 subnet")
    }

    private static func usedAddressSpace() throws -> [String] {
        let ids = try check(["docker", "network", "ls", "-q"]).split(whereSeparator: \.isNewline).map(String.init)
        var used: [String] = []
        if !ids.isEmpty {
            let out = try check(["docker", "network", "inspect", "--format", "{{range .IPAM.Config}}{{.Subnet}} {{end}}"] + ids)
            used += out.split(whereSeparator: { $0 == " " || $0.isNewline }).map(String.init)
        }
        used += (try check(["ip", "-4", "route"])).split(whereSeparator: \.isNewline)
            .compactMap { $0.split(separator: " ").first.map(String.init) }
        return used
    }

    // MARK: - Image

    private static let imageLock = NSLock()

    /// Builds `fbtest/busybox:1` with scripts/make-test-image unless it exists.
    static func ensureTestImage() throws {
        imageLock.lock(); defer { imageLock.unlock() }
        if (try? run(["docker", "image", "inspect", image]).status) == 0 { return }
        let result = try run(["bash", "\(repoRoot)/scripts/make-test-image"])
        guard result.status == 0 else { throw TestFailure("scripts/make-test-image failed: \(result.stderr)") }
    }

    /// The image ID of the test image.
    static func imageID() throws -> String {
        try check(["docker", "image", "inspect", "--format", "{{.Id}}", image])
    }

    // MARK: - Sweeping

    /// Resources older than this, from other runs, count as left behind by a crash.
    static let staleAge: TimeInterval = 20 * 60

    private static let sweptOnce: Void = { sweepStale() }()

    /// Removes what crashed earlier runs left: containers, networks and volumes with
    /// the test label of another run and older than `staleAge`; canary namespaces
    /// older than that; iptables rules of fbtest projects whose bridge is gone.
    static func sweepStale() {
        let cutoff = Date().addingTimeInterval(-staleAge)
        func stale(_ kind: String, _ ids: [String]) -> [String] {
            ids.filter { id in
                guard let out = try? check(["docker", kind, "inspect", "--format",
                                            "{{index .Labels \"\(testLabel)\"}}|{{.Created}}", id].filter { !$0.isEmpty })
                else { return false }
                let parts = out.split(separator: "|", maxSplits: 1).map(String.init)
                guard parts.count == 2, parts[0] != runID else { return false }
                return (parseDate(parts[1]) ?? .distantFuture) < cutoff
            }
        }
        let containers = (try? check(["docker", "ps", "-aq", "--filter", "label=\(testLabel)"]))?
            .split(whereSeparator: \.isNewline).map(String.init) ?? []
        let oldContainers = containers.filter { id in
            guard let out = try? check(["docker", "inspect", "--format",
                                        "{{index .Config.Labels \"\(testLabel)\"}}|{{.Created}}", id]) else { return false }
            let parts = out.split(separator: "|", maxSplits: 1).map(String.init)
            guard parts.count == 2, parts[0] != runID else { return false }
            return (parseDate(parts[1]) ?? .distantFuture) < cutoff
        }
        if !oldContainers.isEmpty { _ = try? run(["docker", "rm", "-f", "-v"] + oldContainers) }
        let networks = (try? check(["docker", "network", "ls", "-q", "--filter", "label=\(testLabel)"]))?
            .split(whereSeparator: \.isNewline).map(String.init) ?? []
        for id in stale("network", networks) { _ = try? run(["docker", "network", "rm", id]) }
        let volumes = (try? check(["docker", "volume", "ls", "-q", "--filter", "label=\(testLabel)"]))?
            .split(whereSeparator: \.isNewline).map(String.init) ?? []
        for name in volumes {
            guard let out = try? check(["docker", "volume", "inspect", "--format",
                                        "{{index .Labels \"\(testLabel)\"}}|{{.CreatedAt}}", name]) else { continue }
            let parts = out.split(separator: "|", maxSplits: 1).map(String.init)
            if parts.count == 2, parts[0] != runID, (parseDate(parts[1]) ?? .distantFuture) < cutoff {
                _ = try? run(["docker", "volume", "rm", name])
            }
        }
        let namespaces = (try? FileManager.default.contentsOfDirectory(atPath: "/run/netns")) ?? []
        for name in namespaces where name.hasPrefix("fbcanary-") {
            let date = (try? FileManager.default.attributesOfItem(atPath: "/run/netns/\(name)"))?[.modificationDate] as? Date
            if (date ?? .distantFuture) < cutoff {
                _ = try? run(["ip", "netns", "del", name])
                _ = try? run(["ip", "link", "del", "fbc\(name.dropFirst("fbcanary-".count))h"])
            }
        }
        removeOrphanedFirewallRules()
    }

    /// Deletes INPUT rules commented `frostbyte-bundle project=fbtest-...` whose
    /// bridge interface no longer exists.
    static func removeOrphanedFirewallRules() {
        guard let rules = try? check(["iptables", "-w", "-S", "INPUT"]) else { return }
        for line in rules.split(separator: "\n") where line.contains("frostbyte-bundle project=fbtest-") {
            let words = shellWords(String(line))
            guard words.count > 2, let index = words.firstIndex(of: "-i"), index + 1 < words.count else { continue }
            let bridge = words[index + 1]
            if FileManager.default.fileExists(atPath: "/sys/class/net/\(bridge)") { continue }
            _ = try? run(["iptables", "-w", "-D"] + words.dropFirst())  // drop "-A"
        }
    }

    /// Splits an `iptables -S` line into words, honouring double quotes.
    static func shellWords(_ line: String) -> [String] {
        var words: [String] = []
        var current = ""
        var quoted = false
        for character in line {
            if character == "\"" { quoted.toggle(); continue }
            if character == " " && !quoted {
                if !current.isEmpty { words.append(current); current = "" }
            } else {
                current.append(character)
            }
        }
        if !current.isEmpty { words.append(current) }
        return words
    }

    static func parseDate(_ text: String) -> Date? {
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        if let date = formatter.date(from: trimmed) { return date }
        // Docker prints nanoseconds; cut to milliseconds.
        if let dot = trimmed.firstIndex(of: "."), let end = trimmed.firstIndex(where: { $0 == "Z" || $0 == "+" }) {
            let fraction = trimmed[trimmed.index(after: dot)..<end].prefix(3)
            if let date = formatter.date(from: "\(trimmed[..<dot]).\(fraction)\(trimmed[end...])") { return date }
        }
        formatter.formatOptions = [.withInternetDateTime]
        return formatter.date(from: trimmed)
    }

    // MARK: - Checks after cleanup

    /// Canary namespaces and veth pairs of the tool that exist right now.
    static func canaryLeftovers() -> [String] {
        let namespaces = ((try? FileManager.default.contentsOfDirectory(atPath: "/run/netns")) ?? [])
            .filter { $0.hasPrefix("fbcanary-") }
        let links = ((try? FileManager.default.contentsOfDirectory(atPath: "/sys/class/net")) ?? [])
            .filter { $0.hasPrefix("fbc") }
        return namespaces + links
    }

    // MARK: - Processes

    struct Output {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    /// Runs a program (no shell; looked up on PATH) and collects its output through files.
    /// Its stdin is `stdin` (as UTF-8), else the file `stdinFile`, else /dev/null. With a
    /// `timeout` it is killed and the call throws when it runs longer; with `nil` the call
    /// waits for it to exit.
    @discardableResult
    static func run(_ arguments: [String], environment: [String: String] = [:], stdin: String? = nil,
                    stdinFile: String? = nil, timeout: Double? = 180) throws -> Output {
        let scratch = NSTemporaryDirectory() + "fbtest-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        for name in ["out", "err"] {
            guard FileManager.default.createFile(atPath: "\(scratch)/\(name)", contents: nil) else {
                throw TestFailure("cannot create \(scratch)/\(name)")
            }
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: scratch + "/out"))
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: scratch + "/err"))
        if let stdin {
            guard FileManager.default.createFile(atPath: scratch + "/in", contents: Data(stdin.utf8)) else {
                throw TestFailure("cannot create \(scratch)/in")
            }
            process.standardInput = try FileHandle(forReadingFrom: URL(fileURLWithPath: scratch + "/in"))
        } else if let stdinFile {
            process.standardInput = try FileHandle(forReadingFrom: URL(fileURLWithPath: stdinFile))
        } else {
            process.standardInput = FileHandle.nullDevice
        }
        try process.run()
        if let timeout {
            let deadline = Date().addingTimeInterval(timeout)
            while process.isRunning && Date() < deadline { usleep(20_000) }
            if process.isRunning { kill(process.processIdentifier, SIGKILL); process.waitUntilExit(); throw TestFailure("timed out: \(arguments.joined(separator: " "))") }
        }
        process.waitUntilExit()
        return Output(status: process.terminationStatus,
                      stdout: (try? String(contentsOfFile: scratch + "/out", encoding: .utf8)) ?? "",
                      stderr: (try? String(contentsOfFile: scratch + "/err", encoding: .utf8)) ?? "")
    }

    /// Runs a program and returns its trimmed stdout; throws on a non-zero exit.
    /// `timeout` as for `run` (`nil`: wait however long it takes).
    @discardableResult
    static func check(_ arguments: [String], timeout: Double? = 180) throws -> String {
        let result = try run(arguments, timeout: timeout)
        guard result.status == 0 else {
            throw TestFailure("\(arguments.joined(separator: " ")) exited \(result.status): \(result.stderr)")
        }
        return result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Runs the binary under test.
    @discardableResult
    static func tool(_ arguments: [String]) throws -> Output { try run([binary] + arguments) }

    /// A background process (a test listener or resolver) stopped on `stop()` or deinit.
    final class Background: @unchecked Sendable {
        let process = Process()
        let output = Pipe()

        /// Starts `arguments` and waits until it prints a line containing `ready`.
        init(_ arguments: [String], readyWithin seconds: Double = 10) throws {
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = arguments
            process.standardOutput = output
            process.standardError = FileHandle.nullDevice
            process.standardInput = FileHandle.nullDevice
            try process.run()
            let handle = output.fileHandleForReading
            let ready = DispatchSemaphore(value: 0)
            let reader = Thread {
                var seen = Data()
                while true {
                    let chunk = handle.availableData
                    if chunk.isEmpty { break }
                    seen.append(chunk)
                    if String(decoding: seen, as: UTF8.self).contains("ready") { ready.signal(); break }
                }
            }
            reader.start()
            guard ready.wait(timeout: .now() + seconds) == .success else {
                stop()
                throw TestFailure("\(arguments.joined(separator: " ")) did not become ready")
            }
        }

        /// Kills the process. SIGKILL, because a child of the test runner inherits
        /// its blocked signal mask, SIGTERM included (measured: a python3 child kept
        /// SIGTERM pending forever).
        func stop() {
            if process.isRunning {
                kill(process.processIdentifier, SIGKILL)
                process.waitUntilExit()
            }
        }

        deinit { stop() }
    }
}

/// A test precondition that did not hold.
struct TestFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// A thread-safe counter.
final class DockerTestCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var value = 0
    func next() -> Int { lock.lock(); defer { lock.unlock() }; value += 1; return value }
}
