import FrostbyteCore
import FoundationEssentials
import Glibc

/// The verdict of one check. `warn` and `info` never fail a run; `fail` always does.
public enum CheckStatus: String, Codable, Sendable, CaseIterable {
    case pass, fail, warn, info
}

/// One check as the evidence records it: what was probed and how, what was
/// expected, what was observed, the verdict, and when. `observed` is the raw
/// observation (probe outcome, inspected value), not a restatement of the verdict.
public struct IsolationCheck: Codable, Sendable, Equatable {
    /// Stable identifier: `<category>.<what>[/<subject>]`, e.g. `egress.tcp/demo-api-1`.
    public var id: String
    /// `configuration`, `egress`, `control`, `host-exposure`, `cross-project`, `dns`,
    /// `route` or `engine`.
    public var category: String
    public var title: String
    /// The command or probe that produced the observation.
    public var probe: String
    public var expected: String
    public var observed: String
    public var status: CheckStatus
    /// ISO 8601 UTC time of the observation.
    public var timestamp: String
    /// What to do about a `fail` or `warn`.
    public var remedy: String?

    public init(
        id: String, category: String, title: String, probe: String, expected: String,
        observed: String, status: CheckStatus, timestamp: String = IsolationClock.now(), remedy: String? = nil
    ) {
        self.id = id; self.category = category; self.title = title; self.probe = probe
        self.expected = expected; self.observed = observed; self.status = status
        self.timestamp = timestamp; self.remedy = remedy
    }
}

/// ISO 8601 UTC timestamps with milliseconds, as the evidence writes them.
public enum IsolationClock {
    /// The current time, e.g. `2026-11-25T12:55:11.032Z`.
    public static func now() -> String { format(Date()) }

    /// `date` in the evidence's format.
    public static func format(_ date: Date) -> String { UTCTime.format(date, .milliseconds) }
}
