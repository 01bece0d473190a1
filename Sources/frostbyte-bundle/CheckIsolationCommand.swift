import FrostbyteCore
import FrostbyteCrypto
import Installation
import InstallationState
import Isolation
import ArgumentParser
import FoundationEssentials
import Glibc

extension FrostbyteBundle {
    /// `check-isolation`: prove that an installed project cannot talk to anything
    /// outside itself, and write the evidence.
    struct CheckIsolation: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "check-isolation",
            abstract: "Prove that an installed project is isolated and write evidence (root).",
            discussion: """
                Reads the live Docker state of the project and probes from inside every \
                container's network namespace (entered from the host; the images need no \
                tools): egress to a canary namespace the check sets up itself, name \
                resolution and connections between services (positive controls), the \
                gateway's health at its published address (gateway_url), reachability \
                of host services through the bridges, the ingress network and its \
                firewall rules, other projects' containers, and outside names over \
                DNS. On a Swarm node (a prefix holding the manager's record or only \
                prepare's), this node's tasks of the stack (--project STACK chooses \
                among several), their peers on other nodes by name, and the gateway \
                node's firewall rules (docs/SWARM.md). \
                Evidence goes to PREFIX/evidence/ and to --evidence FILE. \
                Exit status: 0 every check passed (warnings allowed), 1 a check failed, \
                2 bad usage, 3 not root or no Docker.
                """)

        @Option(name: .long, help: "Installation folder to check (default \(InstallationLayout.defaultPrefix)).",
                completion: .directory)
        var prefix: String?

        @Option(name: .long, help: "Check a compose project by name from live Docker state (no manifest comparison).")
        var project: String?

        @Option(name: .long, help: "Also write the evidence JSON to this file.", completion: .file())
        var evidence: String?

        @Flag(name: .long, help: "Add a firewall rule on the project's bridge when the host is reachable from it (recorded for uninstall), then re-check.")
        var fixHostExposure = false

        @Option(name: .long, help: "Probe only this other project in the cross-project checks (repeatable; default: every other frostbyte project).")
        var crossProject: [String] = []

        @Option(name: .long, help: "Seconds a single TCP probe waits before it counts as blocked.")
        var probeTimeout: Double = 0.5

        @Flag(name: .long, help: "Print the evidence document on stdout and nothing else there.")
        var json = false

        func validate() throws {
            if let prefix, project != nil, !SwarmIsolationTarget.isSwarmPrefix(Self.absolute(prefix)) {
                throw ValidationError("give either --prefix or --project, not both (both only on a Swarm node, where --project names the stack)")
            }
            if fixHostExposure && project != nil {
                throw ValidationError("--fix-host-exposure needs --prefix: the rule is recorded under PREFIX/state so uninstall removes it")
            }
            if !(probeTimeout > 0 && probeTimeout <= 30) { throw ValidationError("--probe-timeout must be between 0 and 30 seconds") }
        }

        func run() async throws {
            try await runReportingErrors {
                let target: IsolationTarget
                let folder = Self.absolute(prefix ?? InstallationLayout.defaultPrefix)
                if prefix != nil, SwarmIsolationTarget.isSwarmPrefix(folder) {
                    // A Swarm node: this node's tasks of the stack (docs/SWARM.md).
                    target = try CommandFailure.reporting(json: json) { try SwarmIsolationTarget.load(prefix: folder, stack: project) }
                } else if let project {
                    target = try CommandFailure.reporting(json: json) { try IsolationTarget.discover(project: project) }
                } else {
                    target = try CommandFailure.reporting(json: json) { try IsolationTarget.load(prefix: folder) }
                }
                // A rule the installation needs that is gone (a reboot, a firewall reload)
                // is named at once; the probes then show what its absence opens.
                let missingRules = Self.missingRules(prefix: target.prefix)
                if !missingRules.isEmpty, let prefix = target.prefix {
                    Console.error(HostStateError.rulesMissing(rules: missingRules, prefix: prefix).message)
                }
                var options = IsolationOptions()
                options.toolVersion = FrostbyteBundle.version
                options.fixHostExposure = fixHostExposure
                options.connectTimeout = probeTimeout
                if !crossProject.isEmpty { options.crossProjects = Set(crossProject) }
                let checker = IsolationChecker(target: target, options: options)
                checker.progress = { Console.note($0) }
                let result = try CommandFailure.reporting(json: json) { try checker.run() }

                var written: [(String, SHA256Digest)] = []
                if let prefix = target.prefix {
                    let path = IsolationEvidence.defaultPath(prefix: prefix, evidence: result)
                    written.append((path, try result.write(to: path)))
                }
                if let evidence {
                    let path = Self.absolute(evidence)
                    written.append((path, try result.write(to: path)))
                }
                if json {
                    FileDescriptorIO.writeStandardOutput(try result.encoded())
                } else {
                    Self.printSummary(result, written: written)
                }
                if !result.passed || !missingRules.isEmpty { throw ExitCode(ExitStatus.checkFailed.rawValue) }
            }
        }

        /// Failures and warnings one per line, then the counts and where the evidence is.
        static func printSummary(_ evidence: IsolationEvidence, written: [(String, SHA256Digest)]) {
            for check in evidence.checks where check.status == .fail || check.status == .warn {
                Console.out("\(check.status.rawValue.uppercased()) \(check.id): \(check.title)")
                Console.out("     observed: \(check.observed)")
                if let remedy = check.remedy { Console.out("     remedy:   \(remedy)") }
            }
            let s = evidence.summary
            Console.out("isolation of project \(evidence.project): \(evidence.result.uppercased()) — \(s.pass) pass, \(s.fail) fail, \(s.warn) warn, \(s.info) info in \(TextFormat.fixed(evidence.durationSeconds, digits: 1)) s")
            for (path, digest) in written { Console.out("evidence: \(path) sha256:\(digest.hex)") }
        }

        /// The firewall rules the installation at `prefix` needs that are not in the live firewall.
        static func missingRules(prefix: String?) -> [String] {
            let layout = InstallationLayout(prefix: prefix ?? "")
            guard prefix != nil, let receipt = try? InstallationReceipt.load(layout) else { return [] }
            return HostStateRepair.missingRules(layout, receipt: receipt).map(HostStateRepair.describe)
        }

        static func absolute(_ path: String) -> String {
            let full = path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
            return URL(fileURLWithPath: full).standardized.path
        }
    }
}
