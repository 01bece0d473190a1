import Foundation
import Synchronization

/// The one sweep of what crashed or killed test runs left behind on this machine,
/// run once per process before the first docker test (`DockerRequirement`). It never
/// touches this run's objects, nor those of a run still going on:
///
/// - containers, networks and volumes labelled `io.frostbyte.test.run` by another run
///   and created more than `staleAge` ago;
/// - compose projects, images and bundle folders named `fbtest-i<run>-...` /
///   `fbinst-bundles-<run>` of a run whose heartbeat (`TestRun.heartbeat`) is older
///   than `staleAge` or gone;
/// - canary namespaces and veth ends of the tool older than `staleAge`;
/// - INPUT rules of fbtest projects whose bridge is gone.
public enum StaleRuns {
    /// Objects of other runs older than this count as left behind by a crash.
    public static let staleAge: TimeInterval = 20 * 60

    /// The prefix of install-test projects and images: `fbtest-i<run>-<tag>`.
    public static let installPrefix = "fbtest-i"

    private static let swept = Mutex(false)

    /// `sweep()`, the first time it is called in this process only.
    public static func sweepOnce() {
        let first = swept.withLock { done -> Bool in
            defer { done = true }
            return !done
        }
        if first { sweep() }
    }

    /// Removes what other runs left (see the type's documentation).
    public static func sweep() {
        TestRun.touchHeartbeat()
        let cutoff = Date().addingTimeInterval(-staleAge)
        removeLabelled(olderThan: cutoff)
        func stale(_ name: String) -> Bool {
            name.hasPrefix(installPrefix) && isStale(run: run(in: name, after: installPrefix))
        }
        removeComposeObjects(where: stale)
        let images = lines(["docker", "images", "--format", "{{.Repository}}:{{.Tag}}"]).filter(stale)
        if !images.isEmpty { _ = try? TestCommand.run(["docker", "rmi"] + images, timeout: 300) }
        let temporary = NSTemporaryDirectory()
        for name in (try? FileManager.default.contentsOfDirectory(atPath: temporary)) ?? []
        where name.hasPrefix("fbinst-bundles-") && isStale(run: run(in: name, after: "fbinst-bundles-")) {
            try? FileManager.default.removeItem(atPath: temporary + name)
        }
        for name in (try? FileManager.default.contentsOfDirectory(atPath: "/run/netns")) ?? []
        where name.hasPrefix("fbcanary-") && TestRun.modified("/run/netns/\(name)") < cutoff {
            _ = try? TestCommand.run(["ip", "netns", "del", name], timeout: 30)
            _ = try? TestCommand.run(["ip", "link", "del", "fbc\(name.dropFirst("fbcanary-".count))h"], timeout: 30)
        }
        removeOrphanedFirewallRules()
    }

    /// Removes containers, networks and volumes whose compose project label matches.
    public static func removeComposeObjects(where matches: (String) -> Bool) {
        let key = "com.docker.compose.project"
        let listings: [(list: [String], remove: [String])] = [
            (["docker", "ps", "-a", "--filter", "label=\(key)", "--format", "{{.ID}} {{.Label \"\(key)\"}}"], ["docker", "rm", "-f", "-v"]),
            (["docker", "network", "ls", "--filter", "label=\(key)", "--format", "{{.ID}} {{.Label \"\(key)\"}}"], ["docker", "network", "rm"]),
            (["docker", "volume", "ls", "--filter", "label=\(key)", "--format", "{{.Name}} {{.Label \"\(key)\"}}"], ["docker", "volume", "rm", "-f"]),
        ]
        for listing in listings {
            let ids = lines(listing.list).compactMap { line -> String? in
                let parts = line.split(separator: " ", maxSplits: 1).map(String.init)
                return parts.count == 2 && matches(parts[1]) ? parts[0] : nil
            }
            if !ids.isEmpty { _ = try? TestCommand.run(listing.remove + ids, timeout: 300) }
        }
    }

    /// True when run `run` is not this one and its heartbeat is older than `staleAge` or gone.
    public static func isStale(run: String) -> Bool {
        guard run != TestRun.id else { return false }
        return TestRun.modified(TestRun.heartbeat(run)) < Date().addingTimeInterval(-staleAge)
    }

    /// The run ID in `fbtest-i<run>-...`, `fbinst-bundles-<run>`, ...
    static func run(in name: String, after prefix: String) -> String {
        String(name.dropFirst(prefix.count).prefix { $0 != "-" && $0 != "/" && $0 != ":" })
    }

    /// Containers, networks and volumes with another run's test label, older than `cutoff`.
    private static func removeLabelled(olderThan cutoff: Date) {
        let label = TestRun.label
        func old(_ labelAndDate: String?) -> Bool {
            guard let parts = labelAndDate?.split(separator: "|", maxSplits: 1).map(String.init), parts.count == 2,
                  parts[0] != TestRun.id else { return false }
            return (parseDate(parts[1]) ?? .distantFuture) < cutoff
        }
        let containers = lines(["docker", "ps", "-aq", "--filter", "label=\(label)"]).filter {
            old(try? TestCommand.check(["docker", "inspect", "--format", "{{index .Config.Labels \"\(label)\"}}|{{.Created}}", $0]))
        }
        if !containers.isEmpty { _ = try? TestCommand.run(["docker", "rm", "-f", "-v"] + containers, timeout: 300) }
        for id in lines(["docker", "network", "ls", "-q", "--filter", "label=\(label)"]) where
            old(try? TestCommand.check(["docker", "network", "inspect", "--format", "{{index .Labels \"\(label)\"}}|{{.Created}}", id])) {
            _ = try? TestCommand.run(["docker", "network", "rm", id], timeout: 60)
        }
        for name in lines(["docker", "volume", "ls", "-q", "--filter", "label=\(label)"]) where
            old(try? TestCommand.check(["docker", "volume", "inspect", "--format", "{{index .Labels \"\(label)\"}}|{{.CreatedAt}}", name])) {
            _ = try? TestCommand.run(["docker", "volume", "rm", name], timeout: 60)
        }
    }

    /// Deletes INPUT rules commented `frostbyte-bundle project=fbtest-...` whose
    /// bridge interface no longer exists.
    public static func removeOrphanedFirewallRules() {
        for line in lines(["iptables", "-w", "-S", "INPUT"]) where line.contains("frostbyte-bundle project=fbtest-") {
            let words = shellWords(line)
            guard let index = words.firstIndex(of: "-i"), index + 1 < words.count else { continue }
            if FileManager.default.fileExists(atPath: "/sys/class/net/\(words[index + 1])") { continue }
            _ = try? TestCommand.run(["iptables", "-w", "-D"] + words.dropFirst(), timeout: 30)  // drop "-A"
        }
    }

    /// Splits an `iptables -S` line into words, honouring double quotes.
    public static func shellWords(_ line: String) -> [String] {
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

    /// A docker timestamp (RFC 3339, nanoseconds allowed).
    public static func parseDate(_ text: String) -> Date? {
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

    /// The lines a command prints; none when it fails.
    private static func lines(_ arguments: [String]) -> [String] {
        ((try? TestCommand.check(arguments, timeout: 120)) ?? "").split(whereSeparator: \.isNewline).map(String.init)
    }
}
