/// Receives byte-level progress of long work (build, verify, install). The CLI
/// renders a bar on a TTY and stays quiet otherwise; libraries only report.
public protocol ProgressReporter: Sendable {
    /// A new phase starts; `totalBytes` is nil when the size is unknown.
    func begin(_ phase: String, totalBytes: Int64?)
    /// `bytes` more bytes of the current phase are done.
    func advance(by bytes: Int64)
    /// The current phase is finished.
    func end()
}

/// A reporter that ignores everything; the default for library callers and tests.
public struct SilentProgress: ProgressReporter {
    public init() {}
    public func begin(_ phase: String, totalBytes: Int64?) {}
    public func advance(by bytes: Int64) {}
    public func end() {}
}
