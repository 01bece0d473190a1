import ArgumentParser

extension FrostbyteBundle {
    /// Placeholder until the `status` capability lands; refuses to run.
    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "status", abstract: "(not yet available)")

        func run() async throws {
            throw ValidationError("'status' is not available in this build yet")
        }
    }
}
