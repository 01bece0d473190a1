import ArgumentParser

extension FrostbyteBundle {
    /// Placeholder until the `inspect` capability lands; refuses to run.
    struct Inspect: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "inspect", abstract: "(not yet available)")

        func run() async throws {
            throw ValidationError("'inspect' is not available in this build yet")
        }
    }
}
