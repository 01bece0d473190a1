/// Exit status classes of the command contract (README.md, "Exit status": 0 ok, 1 check failed,
/// 2 bad usage or bad input, 3 environment problem).
public enum ExitStatus: Int32, Sendable, Codable {
    case success = 0
    case checkFailed = 1
    case badInput = 2
    case environment = 3
}

/// An error a user can act on: one sentence (what, where, what to do) and the exit
/// status class it maps to. Every module's error enum conforms; the CLI prints
/// `message` and exits with `exitStatus`, never a stack trace.
public protocol UserFacingError: Error, CustomStringConvertible, Sendable {
    /// One or two sentences: what went wrong, where (file, line, entry), what to do.
    var message: String { get }
    /// The exit status class this error maps to.
    var exitStatus: ExitStatus { get }
}

extension UserFacingError {
    public var description: String { message }
}
