import ArgumentParser

extension FrostbyteBundle {
    /// Placeholder until the `build` capability lands; refuses to run.
    struct Build: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "build", abstract: "(not yet available)")

        func run() async throws {
            throw ValidationError("'build' is not available in this build yet")
        }
    }
}
