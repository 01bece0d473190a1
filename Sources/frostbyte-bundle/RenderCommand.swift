import ArgumentParser

extension FrostbyteBundle {
    /// Placeholder until the `render` capability lands; refuses to run.
    struct Render: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "render", abstract: "(not yet available)")

        func run() async throws {
            throw ValidationError("'render' is not available in this build yet")
        }
    }
}
