import Foundation
import Testing
import TestSupport

/// Drives `scripts/swarm` of the bed a suite runs on (nodes stopped, started, joined,
/// removed) from inside a node's network namespace.
enum SwarmBedControl {
    /// `scripts/swarm ARGS` of this bed, run in the host's network namespace (the
    /// suite runs in the manager's, where the bed's LAN device is not).
    static func run(_ arguments: [String]) throws {
        let result = try TestCommand.run(["nsenter", "--net=\(try outerNetworkNamespace())", "env", "FB_SWARM_BED=\(SwarmBed.prefix)",
                                          "\(TestRun.repositoryRoot)/scripts/swarm"] + arguments, timeout: 120)
        try #require(result.status == 0, "scripts/swarm \(arguments.joined(separator: " ")): \(result.combined)")
    }

    /// The host's network namespace, where `scripts/swarm` finds the bed's LAN device
    /// (`<bed>l0`): the first namespace of a process (ancestors first) that holds it.
    /// The suite runs in the manager's namespace, and pid 1's cannot be opened here.
    static func outerNetworkNamespace() throws -> String {
        let files = FileManager.default
        var pids: [Int32] = []
        var pid = getppid()
        while pid > 1 {
            pids.append(pid)
            let stat = (try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)) ?? ""
            // pid (comm) state ppid ...: the second field after the last ')'.
            guard let close = stat.lastIndex(of: ")"),
                  let parent = stat[stat.index(after: close)...].split(separator: " ").dropFirst().first.flatMap({ Int32($0) }) else { break }
            pid = parent
        }
        pids += ((try? files.contentsOfDirectory(atPath: "/proc")) ?? []).compactMap { Int32($0) }.sorted()
        var tried: Set<String> = [(try? files.destinationOfSymbolicLink(atPath: "/proc/self/ns/net")) ?? ""]
        for pid in pids {
            guard let namespace = try? files.destinationOfSymbolicLink(atPath: "/proc/\(pid)/ns/net"),
                  tried.insert(namespace).inserted else { continue }
            let probe = try? TestCommand.run(["nsenter", "--net=/proc/\(pid)/ns/net", "ip", "link", "show", "\(SwarmBed.prefix)l0"])
            if probe?.status == 0 { return "/proc/\(pid)/ns/net" }
        }
        throw TestFailure("no process runs in the network namespace holding \(SwarmBed.prefix)l0: is the test bed up (scripts/swarm up 3)?")
    }
}
