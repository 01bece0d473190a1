import ArgumentParser
import BundleFormat

/// The `frostbyte-bundle` command: carries a compose stack across an air gap.
@main
struct FrostbyteBundle: AsyncParsableCommand {
    static let version = "0.1.0"

    static let configuration = CommandConfiguration(
        commandName: "frostbyte-bundle",
        abstract: "Build, verify, install and audit air-gapped Docker Compose bundles.",
        version: version,
        subcommands: [
            Render.self, Build.self, Keygen.self, VerifyBundle.self, Inspect.self,
            Install.self, Status.self, CheckIsolation.self, Uninstall.self, Export.self,
        ])
}
