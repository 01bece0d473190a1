import FrostbyteCore
import FrostbyteCrypto
import ArgumentParser
import FoundationEssentials
import Glibc

/// The `frostbyte-bundle` command: carries a compose stack across an air gap.
@main
struct FrostbyteBundle: AsyncParsableCommand {
    static let version = "0.1.0"

    static let configuration = CommandConfiguration(
        commandName: "frostbyte-bundle",
        abstract: "Build, verify, install and audit air-gapped Docker Compose bundles.",
        version: version,
        subcommands: [
            Init.self, Render.self, Build.self, Keygen.self, VerifyBundle.self, Inspect.self,
            Install.self, Prepare.self, Status.self, CheckIsolation.self, Repair.self, Uninstall.self, Export.self,
            SwarmRender.self, SwarmCheckPrepared.self,
        ])

    /// Parses and runs a subcommand. argument-parser exits 64 on a usage error; the
    /// command contract says bad usage is 2, so usage errors are mapped here, after
    /// argument-parser has printed its own message and usage line.
    static func main() async {
        LibCryptoRuntime.prepare()  // before any thread can hash: no libcrypto cleanup at exit
        do {
            var command = try parseAsRoot()
            if var asyncCommand = command as? AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            let code = exitCode(for: error)
            guard code == .validationFailure else { exit(withError: error) }
            let message = fullMessage(for: error)
            if !message.isEmpty {
                FileDescriptorIO.writeStandardError(Data((message + "\n").utf8))
            }
            Glibc.exit(ExitStatus.badInput.rawValue)
        }
    }
}
