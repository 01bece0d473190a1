import ArgumentParser

extension FrostbyteBundle {
    /// Placeholder until the `install` capability lands; refuses to run.
    struct Install: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "install", abstract: "(not yet available)")

        func run() async throws {
            throw ValidationError("'install' is not available in this build yet")
        }
    }
}
