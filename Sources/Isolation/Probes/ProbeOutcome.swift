import FrostbyteCore
import FoundationEssentials
import Glibc

/// Errors a probe cannot recover from (it could not even be attempted).
public enum ProbeError: UserFacingError, Equatable {
    case namespace(path: String, reason: String)
    case socket(operation: String, reason: String)
    case badAddress(String)

    public var message: String {
        switch self {
        case .namespace(let path, let reason):
            return "cannot enter the network namespace \(path): \(reason) (run as root; is the container running?)"
        case .socket(let operation, let reason):
            return "socket \(operation) failed: \(reason)"
        case .badAddress(let address):
            return "'\(address)' is not an IPv4 address"
        }
    }

    public var exitStatus: ExitStatus { .environment }
}

/// What one network probe observed. Each case says what happened on the wire as far
/// as the prober can tell, so evidence shows the observation, not a verdict.
public enum ProbeOutcome: Sendable, Equatable, CustomStringConvertible {
    /// TCP handshake completed: the path and the listener are open.
    case connected
    /// TCP reset: the path is open, nothing listens on that port.
    case refused
    /// An ICMP error or a local policy stopped it (no route, host unreachable, prohibited).
    case blocked(reason: String)
    /// Nothing came back within the probe's timeout (dropped on the way, typically).
    case timedOut(seconds: Double)
    /// A UDP datagram was handed to the kernel (whether it arrived is the receiver's to say).
    case sent
    /// A DNS reply: response code and IPv4 addresses in the answer section.
    case dns(rcode: Int, addresses: [String])
    /// The engine's DNS passed the query on to 127.0.0.1:53 inside the prober's own
    /// namespace, where the prober's listener caught it: it left no namespace and got
    /// no answer.
    case forwardedToLoopback
    /// An HTTP response status line.
    case http(status: Int)
    /// The probe could not be carried out (namespace, socket or protocol error).
    case failed(reason: String)
    /// The probe did not return within the run's watchdog deadline.
    case hung(seconds: Double)

    /// For reachability probes: true when the target answered (connected or reset),
    /// false when it was blocked or timed out, nil when the probe itself failed.
    public var reachedTarget: Bool? {
        switch self {
        case .connected, .refused, .http: return true
        case .blocked, .timedOut: return false
        case .sent, .dns, .forwardedToLoopback, .failed, .hung: return nil
        }
    }

    /// True when the probe could not produce an observation.
    public var isProbeFailure: Bool {
        switch self {
        case .failed, .hung: return true
        default: return false
        }
    }

    public var description: String {
        switch self {
        case .connected: return "connected"
        case .refused: return "connection refused (path open, port closed)"
        case .blocked(let reason): return "blocked: \(reason)"
        case .timedOut(let seconds): return "no answer within \(Self.format(seconds)) s (timed out)"
        case .sent: return "datagram sent"
        case .dns(let rcode, let addresses):
            let name = DNSMessage.rcodeName(rcode)
            return addresses.isEmpty ? "DNS reply \(name), no address" : "DNS reply \(name): \(addresses.joined(separator: ", "))"
        case .http(let status): return "HTTP \(status)"
        case .forwardedToLoopback:
            return "no answer: the engine's DNS passed the query to 127.0.0.1:53 inside the container's own namespace (caught there by the checker; nothing left the container)"
        case .failed(let reason): return "probe failed: \(reason)"
        case .hung(let seconds): return "probe hung: no result within the \(Self.format(seconds)) s watchdog"
        }
    }

    static func format(_ seconds: Double) -> String {
        seconds == seconds.rounded() ? String(Int(seconds)) : TextFormat.fixed(seconds, digits: 1)
    }
}
