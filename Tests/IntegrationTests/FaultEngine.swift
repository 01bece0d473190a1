import Foundation
import TestSupport
import Testing

/// The second engine that the reboot and engine-death suites kill and start again
/// (never the host's shared dockerd): FROSTBYTE_FAULT_ENGINE names a `scripts/engine`
/// engine (scripts/test-engines sets it). The suites run from the host's namespace
/// and act as that engine's host: the tool runs through `scripts/engine run`,
/// `crash` SIGKILLs its dockerd, `up` sweeps its network namespace (the kernel's
/// firewall state is gone, as after a reboot) and starts it again, running a boot
/// step first when one is given (FB_ENGINE_BOOT). Under CI=true the suites fail
/// rather than skip when the variable is missing.
enum FaultEngine {
    static let name = ProcessInfo.processInfo.environment["FROSTBYTE_FAULT_ENGINE"].flatMap { $0.isEmpty ? nil : $0 }
    static let enabled = (name != nil || TestRun.isCI) && Docker.demoImagesPresent
    static let script = "\(TestRun.repositoryRoot)/scripts/engine"

    /// The engine's name; fails the test when FROSTBYTE_FAULT_ENGINE is not set.
    static func required() throws -> String {
        guard let name else { throw TestFailure("FROSTBYTE_FAULT_ENGINE is not set: run scripts/test-engines (or set it to a scripts/engine name)") }
        return name
    }

    /// The engine's socket (the same path whether it is up or down).
    static func socket(_ engine: String) -> String { "/run/frostbyte-engines/\(engine)/docker.sock" }

    /// Starts the engine (idempotent); `boot` runs in its fresh network namespace before dockerd.
    static func up(_ engine: String, boot: String? = nil) throws {
        let result = try TestCommand.run([script, "up", engine], environment: boot.map { ["FB_ENGINE_BOOT": $0] } ?? [:])
        guard result.status == 0 else { throw TestFailure("scripts/engine up \(engine): \(result.stderr)") }
    }

    /// SIGKILLs the engine's dockerd.
    static func crash(_ engine: String) throws {
        let result = try TestCommand.run([script, "crash", engine])
        guard result.status == 0 else { throw TestFailure("scripts/engine crash \(engine): \(result.stderr)") }
    }

    /// Runs the binary under test as an operator of the engine's host.
    static func tool(_ engine: String, _ arguments: [String]) throws -> CommandOutput {
        try TestCommand.run([script, "run", engine, "--", try FrostbyteBinary.path] + arguments)
    }

    /// Runs a program in the engine's network namespace (iptables, ip).
    static func inNamespace(_ engine: String, _ arguments: [String]) throws -> CommandOutput {
        try TestCommand.run([script, "run", engine, "--"] + arguments)
    }

    /// A docker command against the engine, from the host (no namespace needed).
    static func docker(_ engine: String, _ arguments: [String]) -> CommandOutput? {
        try? TestCommand.run(["docker", "-H", "unix://\(socket(engine))"] + arguments, timeout: 30)
    }

    /// Starts the binary under test in the engine's namespace (stdout and stderr kept
    /// by the `RunningCommand`, read with `errorOutput`); the tool's pid is the
    /// command's own (the script and `nsenter` each exec the next).
    static func start(_ engine: String, _ arguments: [String]) throws -> RunningCommand {
        try RunningCommand([script, "run", engine, "--", try FrostbyteBinary.path] + arguments)
    }

    /// Polls `condition` every 20 ms until it holds (true) or `seconds` pass (false).
    static func wait(seconds: Double, _ condition: () -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if condition() { return true }
            usleep(20_000)
        }
        return condition()
    }

    /// True when a child of `pid` runs `docker ... load`.
    static func dockerLoadChild(of pid: Int32) -> Bool {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        for entry in entries where entry.first?.isNumber == true {
            guard let stat = try? String(contentsOfFile: "/proc/\(entry)/stat", encoding: .utf8),
                  let close = stat.lastIndex(of: ")") else { continue }
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            guard fields.count > 1, Int32(fields[1]) == pid,
                  let cmdline = FileManager.default.contents(atPath: "/proc/\(entry)/cmdline") else { continue }
            let words = cmdline.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
            if words.first?.hasSuffix("docker") == true && words.contains("load") { return true }
        }
        return false
    }

    /// The project's firewall rules in the engine's namespace (`iptables -S` lines).
    static func projectRules(_ engine: String, project: String) throws -> [String] {
        try inNamespace(engine, ["iptables", "-w", "-S"]).stdout.split(separator: "\n").map(String.init)
            .filter { $0.contains("frostbyte-bundle project=\(project) ") }
    }

    /// Uninstalls `prefix` on the engine (started if a test left it down) and removes
    /// what is left of it, the boot unit of `project` included.
    static func cleanup(_ engine: String, project: String, prefix: String) {
        try? up(engine)
        _ = try? tool(engine, ["uninstall", "--prefix", prefix, "--purge-data"])
        try? FileManager.default.removeItem(atPath: prefix)
        let unit = "frostbyte-bundle-\(project).service"
        for path in ["/etc/systemd/system/\(unit)", "/etc/systemd/system/docker.service.wants/\(unit)",
                     "/etc/systemd/system/multi-user.target.wants/\(unit)"] {
            unlink(path)
        }
    }
}
