import ArgumentParser

extension FrostbyteBundle {
    /// Placeholder until the `check-isolation` capability lands; refuses to run.
    struct CheckIsolation: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "check-isolation", abstract: "(not yet available)")

        func run() async throws {
            throw ValidationError("'check-isolation' is not available in this build yet")
        }
    }
}
