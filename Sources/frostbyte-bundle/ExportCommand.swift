import ArgumentParser

extension FrostbyteBundle {
    /// Placeholder until the `export` capability lands; refuses to run.
    struct Export: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "export", abstract: "(not yet available)")

        func run() async throws {
            throw ValidationError("'export' is not available in this build yet")
        }
    }
}
