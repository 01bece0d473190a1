import FrostbyteCore
import Engine
import InstallationState
import Installation
import ArgumentParser
import FoundationEssentials
import Glibc

extension FrostbyteBundle {
    /// `status`: the active release and the live state of its services.
    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "status",
            abstract: "Show the installed release, each service's state and health, and the last isolation result.",
            discussion: """
                Exit status 0 when every service is healthy and every firewall rule the installation \
                needs is in place, 1 when a service is not healthy or a rule is missing (run repair), \
                2 when nothing is installed, 3 when the Docker engine does not answer.
                """)

        @OptionGroup(title: "Installation")
        var location: InstallationPrefixOptions

        @Flag(name: .long, help: "Print one JSON document on stdout.")
        var json = false

        func run() async throws {
            try await runReportingErrors {
                if let swarm = try CommandFailure.reporting(json: json, { try SwarmStatus.read(layout: location.layout) }) {
                    return try reportSwarm(swarm, json: json)
                }
                let status = try CommandFailure.reporting(json: json) { try StatusReader.read(layout: location.layout) }
                if json {
                    try Console.json(status)
                } else {
                    printStatus(status)
                }
                if let problem = status.isolationProblem { Console.error(problem) }
                if !status.healthy || !status.missingFirewallRules.isEmpty { throw ExitCode(ExitStatus.checkFailed.rawValue) }
            }
        }

        private func printStatus(_ status: InstallationStatus) {
            let receipt = status.receipt
            Console.out("release: \(receipt.name) \(receipt.version)")
            Console.out("bundle_id: \(receipt.bundleId)")
            if status.current != receipt.bundleId {
                Console.out("warning: current points at \(status.current ?? "nothing"), the receipt at \(receipt.bundleId)")
            }
            Console.out("project: \(receipt.project)  subnet: \(receipt.subnet)  gateway: \(status.gatewayURL ?? "-")")
            Console.out("installed at: \(receipt.installedAt)")
            if let previous = receipt.previousBundleId { Console.out("previous release: \(previous)") }
            Console.out("services:")
            if status.services.isEmpty { Console.out("  (no containers)") }
            for service in status.services {
                let health = service.health.isEmpty ? "no healthcheck" : service.health
                Console.out("  \(service.service): \(service.state), \(health)")
            }
            if let problem = status.isolationProblem {
                Console.out("isolation: FAIL: \(problem)")
            } else if let isolation = status.isolation {
                Console.out("isolation: \(isolation.result) (\(isolation.timestamp ?? "unknown time"); evidence \(isolation.evidencePath)\(isolation.intact ? "" : ", CHANGED since install"))")
            } else {
                Console.out("isolation: no evidence recorded")
            }
            if let last = status.lastInstall {
                let reason = status.lastInstallFailure?.split(separator: "\n").first.map { ": \($0)" } ?? ""
                Console.out("last install: \(last)\(reason)")
            }
            Console.out(status.healthy ? "healthy" : "NOT healthy")
        }
    }
}
