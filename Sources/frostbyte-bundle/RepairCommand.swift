import FrostbyteCore
import InstallationState
import Installation
import ArgumentParser
import FoundationEssentials

extension FrostbyteBundle {
    /// `repair`: put back the host state an installation owns outside Docker.
    struct Repair: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "repair",
            abstract: "Put back the host firewall rules and the boot unit an installation owns (root).",
            discussion: """
                Re-inserts every firewall rule the installation needs that is missing from the \
                live firewall (INPUT and DOCKER-USER rejects for the project's bridges, and the \
                rules recorded in PREFIX/state/firewall-rules.json) and rewrites its systemd boot \
                unit when it differs. Runs no docker command and touches no container, so it \
                runs at boot before dockerd (the boot unit does exactly that); running it again \
                changes nothing. On a Swarm node (no receipt under the prefix): the firewall \
                rules of the gateway tasks running here (asked of the local engine when it \
                answers) and those recorded (docs/SWARM.md). \
                Exit status 0 done, 2 nothing installed under the prefix, \
                3 not root or iptables refused.
                """)

        @OptionGroup(title: "Installation")
        var location: InstallationPrefixOptions

        @Flag(name: .long, help: "Print one JSON document on stdout.")
        var json = false

        func run() async throws {
            try await runReportingErrors {
                let result = try CommandFailure.reporting(json: json) { try HostStateRepair.run(layout: location.layout) }
                if json {
                    try Console.json(result)
                    return
                }
                for rule in result.rules {
                    Console.out("\(rule.restored ? "restored" : "present ") \(rule.rule)")
                }
                if let unit = result.bootUnit {
                    Console.out("boot unit: \(unit.path) (\(unit.written || unit.linked > 0 ? "written and enabled now" : "in place"))")
                } else {
                    Console.out("boot unit: none (no systemd unit folder on this host; run repair at boot before dockerd)")
                }
                Console.out("project \(result.project): \(result.restored) of \(result.rules.count) firewall rules restored")
            }
        }
    }
}
