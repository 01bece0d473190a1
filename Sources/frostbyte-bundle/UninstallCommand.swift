import Installation
import ArgumentParser
import FoundationEssentials
import Glibc

extension FrostbyteBundle {
    /// `uninstall`: remove an installation and only what it owns.
    struct Uninstall: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "uninstall",
            abstract: "Stop the stack and remove its containers, networks and images (root).",
            discussion: """
                Only objects labelled with this installation's project are removed; images still \
                used by another container are kept. Data volumes, PREFIX/secrets and PREFIX/evidence \
                are kept unless --purge-data, which removes them and the whole prefix.
                """)

        @OptionGroup(title: "Installation")
        var location: InstallationPrefixOptions

        @Flag(name: .long, help: "Also remove the data volumes, the secrets and the whole prefix.")
        var purgeData = false

        @Flag(name: .long, help: "Print one JSON document on stdout.")
        var json = false

        func run() async throws {
            try await runReportingErrors {
                if let record = try CommandFailure.reporting(json: json, { try SwarmInstallRecord.read(location.layout) }) {
                    return try uninstallSwarm(record, json: json)
                }
                if try uninstallSwarmNode(json: json) { return }
                let uninstaller = Uninstaller(layout: location.layout, purgeData: purgeData, note: { Console.note($0) })
                let result = try CommandFailure.reporting(json: json) { try uninstaller.run() }
                if json {
                    try Console.json(result)
                    return
                }
                Console.out("uninstalled project \(result.project)")
                Console.out("containers removed: \(listed(result.containersRemoved))")
                Console.out("networks removed: \(listed(result.networksRemoved))")
                Console.out("images removed: \(listed(result.imagesRemoved))")
                for kept in result.imagesKept { Console.out("image kept: \(kept)") }
                if purgeData {
                    Console.out("volumes removed: \(listed(result.volumesRemoved))")
                } else if !result.volumesKept.isEmpty {
                    Console.out("volumes kept (remove with --purge-data): \(result.volumesKept.joined(separator: ", "))")
                }
                if result.firewallRulesRemoved > 0 { Console.out("firewall rules removed: \(result.firewallRulesRemoved)") }
                for path in result.prefixKept { Console.out("kept: \(path)") }
            }
        }
    }
}

/// A comma-separated list for the human report, or "none".
private func listed(_ items: [String]) -> String {
    items.isEmpty ? "none" : items.joined(separator: ", ")
}
