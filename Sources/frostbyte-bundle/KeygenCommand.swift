import ArgumentParser

extension FrostbyteBundle {
    /// Placeholder until the `keygen` capability lands; refuses to run.
    struct Keygen: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "keygen", abstract: "(not yet available)")

        func run() async throws {
            throw ValidationError("'keygen' is not available in this build yet")
        }
    }
}
