import FrostbyteCore
import Installation
import ArgumentParser
import FoundationEssentials

extension FrostbyteBundle.Install {
    /// `install --swarm`: `SwarmInstaller` on this manager; the single-host options
    /// that have no meaning on a swarm are refused rather than ignored.
    func runSwarm() throws {
        if ingressSubnet != nil {
            throw ValidationError("--ingress-subnet is a single-host option; with --swarm Swarm gives the gateway's ingress overlay its subnet")
        }
        let pins = try parsePins(pin)
        var request = SwarmInstallRequest(
            prepare: PrepareRequest(bundlePath: bundle, trustKeyPaths: trust, allowUnsigned: allowUnsigned,
                                    layout: location.layout, timeout: timeout),
            stack: project, publish: publish, pins: pins, timeout: timeout, allowDowngrade: allowDowngrade)
        request.encryptOverlay = encryptOverlay
        request.subnet = subnet
        let result = try CommandFailure.reporting(json: json) {
            try SwarmInstaller(request: request, note: { Console.note($0) }).run()
        }
        if json { return try Console.json(result) }
        Console.out("\(result.resumed ? "resumed" : "deployed"): \(result.bundleId) as stack \(result.stack)")
        Console.out("prepared nodes: \(result.preparedNodes.joined(separator: ", "))")
        Console.out("pinned: \(result.pins.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ", "))")
        Console.out("gateway: \(result.gatewayURL) (on the gateway's node only)")
        for service in result.services {
            Console.out("  \(service.service): \(service.running)/\(service.desired) on \(Set(service.tasks.map(\.node)).sorted().joined(separator: ", "))")
        }
        if !result.migrationsApplied.isEmpty { Console.out("migrations applied: \(result.migrationsApplied.joined(separator: ", "))") }
        Console.out("all healthy after \(TextFormat.fixed(result.timings["total"] ?? 0, digits: 1)) s (deploy to healthy \(TextFormat.fixed((result.timings["deploy"] ?? 0) + (result.timings["healthy"] ?? 0), digits: 1)) s)")
    }
}

/// `--pin SERVICE=NODE` options (install --swarm, swarm-render) as service → node.
/// - Throws: `ValidationError` (exit 2) for an entry without both parts.
func parsePins(_ entries: [String]) throws -> [String: String] {
    var pins: [String: String] = [:]
    for entry in entries {
        let parts = entry.split(separator: "=", maxSplits: 1).map(String.init)
        guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else { throw ValidationError("--pin '\(entry)' is not SERVICE=NODE") }
        pins[parts[0]] = parts[1]
    }
    return pins
}
