import ArgumentParser

extension FrostbyteBundle {
    /// Placeholder until the `uninstall` capability lands; refuses to run.
    struct Uninstall: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "uninstall", abstract: "(not yet available)")

        func run() async throws {
            throw ValidationError("'uninstall' is not available in this build yet")
        }
    }
}
