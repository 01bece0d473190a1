import FrostbyteCore
import FoundationEssentials

/// What `repair`, `status` and an install whose engine died report: the engine
/// that stopped answering (named by its endpoint), and the firewall rules an
/// installation needs that are not in the live firewall.
public enum HostStateError: UserFacingError, Equatable {
    /// The engine stopped answering while `step` ran.
    case engineDied(step: String, endpoint: String, prefix: String)
    /// The engine does not answer, so `what` cannot be read.
    case engineDown(endpoint: String, what: String)
    /// The installation's rules that are missing from the live firewall.
    case rulesMissing(rules: [String], prefix: String)

    public var message: String {
        switch self {
        case .engineDied(let step, let endpoint, let prefix):
            return "the Docker engine at \(endpoint) stopped answering during \(step); start dockerd again and re-run the same install command: it resumes from \(prefix)/state/journal.json, no cleanup needed"
        case .engineDown(let endpoint, let what):
            return "the Docker engine at \(endpoint) does not answer (dockerd is not running or not reachable), so \(what) cannot be read; start dockerd (systemctl start docker) and run the command again"
        case .rulesMissing(let rules, let prefix):
            let list = rules.joined(separator: "; ")
            return "\(rules.count == 1 ? "a firewall rule" : "\(rules.count) firewall rules") the installation needs \(rules.count == 1 ? "is" : "are") missing (\(list)); run 'frostbyte-bundle repair --prefix \(prefix)' to put \(rules.count == 1 ? "it" : "them") back"
        }
    }

    public var exitStatus: ExitStatus {
        switch self {
        case .engineDied, .engineDown: return .environment
        case .rulesMissing: return .checkFailed
        }
    }
}
