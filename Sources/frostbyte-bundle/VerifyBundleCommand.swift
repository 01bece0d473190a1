import ArgumentParser

extension FrostbyteBundle {
    /// Placeholder until the `verify-bundle` capability lands; refuses to run.
    struct VerifyBundle: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "verify-bundle", abstract: "(not yet available)")

        func run() async throws {
            throw ValidationError("'verify-bundle' is not available in this build yet")
        }
    }
}
