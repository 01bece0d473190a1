import FrostbyteCore
import BundleFormat
import ArgumentParser
import FoundationEssentials
import Glibc

/// Runs a command body and turns every failure into the contract's exit status:
/// `UserFacingError` prints its one-sentence message on stderr and exits with its
/// class; `ExitCode` and argument-parser errors pass through; anything else is an
/// environment problem (3) with its description, never a stack trace.
func runReportingErrors(_ body: () async throws -> Void) async throws {
    do {
        try await body()
    } catch let error as UserFacingError {
        Console.error(error.message)
        throw ExitCode(error.exitStatus.rawValue)
    } catch let error as ExitCode {
        throw error
    } catch let error as ValidationError {
        throw error
    } catch {
        Console.error("\(error)")
        throw ExitCode(ExitStatus.environment.rawValue)
    }
}

/// Writes to the terminal: results on stdout, diagnostics on stderr.
enum Console {
    /// True when stderr is a terminal (progress bars are drawn only then).
    static let stderrIsTTY = isatty(STDERR_FILENO) == 1

    /// Prints one diagnostic line on stderr, prefixed with the tool's name.
    static func error(_ text: String) {
        FileDescriptorIO.writeStandardError(Data("frostbyte-bundle: \(text)\n".utf8))
    }

    /// Prints one progress or note line on stderr.
    static func note(_ text: String) {
        FileDescriptorIO.writeStandardError(Data("\(text)\n".utf8))
    }

    /// Prints a result line on stdout.
    static func out(_ text: String) {
        FileDescriptorIO.writeStandardOutput(Data("\(text)\n".utf8))
    }

    /// Prints one JSON document (sorted keys, 2-space indent) on stdout.
    static func json<T: Encodable>(_ value: T) throws {
        let encoder = DeterministicJSON.encoder()
        encoder.dateEncodingStrategy = .iso8601
        var data = try encoder.encode(value)
        data.append(0x0A)
        FileDescriptorIO.writeStandardOutput(data)
    }
}
