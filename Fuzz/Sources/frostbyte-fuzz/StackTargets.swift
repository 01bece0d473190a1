import FrostbyteCore
import Stack
import FoundationEssentials
import Glibc

/// YAML in: the bundle spec loader and the compose hardener.
enum StackTargets {
    /// A scratch tree shaped like the repository, so the committed specs (which
    /// name `../compose/demo.yaml`, `../out/models/...`, `../bundle-template`,
    /// `../migrations/demo`) resolve: specs are parsed as `<tree>/manifests/spec.yaml`.
    nonisolated(unsafe) static var tree = ""
    /// The spec the compose target hardens against: manifests/demo.yaml, whose
    /// path scripts/fuzz passes in FROSTBYTE_FUZZ_SPEC.
    nonisolated(unsafe) static var demoSpec: BundleSpec?

    static var specPath: String { tree + "/manifests/spec.yaml" }

    static let demoCompose = """
        services:
          postgres:
            image: frostbyte-demo/postgres:1.0
            volumes: [pgdata:/var/lib/postgresql/data]
          gateway:
            image: frostbyte-demo/gateway:1.0
            ports: ["8080:8080"]
        volumes:
          pgdata:

        """

    static func makeTree() throws {
        guard tree.isEmpty else { return }
        var template = Array("/tmp/frostbyte-fuzz-stack-XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else { throw FuzzSetUpError("mkdtemp failed") }
        tree = String(cString: made)
        for folder in ["manifests", "compose", "out/models", "bundle-template", "migrations/demo", "images"] {
            try FileManager.default.createDirectory(atPath: tree + "/" + folder, withIntermediateDirectories: true)
        }
        for (file, text) in [("compose/demo.yaml", demoCompose), ("compose/demo-1.1.0.yaml", demoCompose),
                             ("compose/frostbyte-etl.yaml", demoCompose), ("out/models/demo-embed.bin", "model\n")] {
            guard FileManager.default.createFile(atPath: tree + "/" + file, contents: Data(text.utf8)) else {
                throw FuzzSetUpError("cannot write \(tree)/\(file)")
            }
        }
        guard let demo = ProcessInfo.processInfo.environment["FROSTBYTE_FUZZ_SPEC"],
              let text = FileManager.default.contents(atPath: demo) else {
            throw FuzzSetUpError("set FROSTBYTE_FUZZ_SPEC to the repository's manifests/demo.yaml")
        }
        demoSpec = try BundleSpec.parse([UInt8](text), specPath: specPath)
    }

    /// A hardened document must be YAML the parser reads back.
    static func checkRendered(_ rendered: RenderedStack) {
        do {
            _ = try YAMLNode.parse(rendered.composeYAML, file: "<rendered>")
        } catch {
            fatalError("the hardened compose file does not parse again: \(error)")
        }
    }

    static let spec = FuzzTarget(
        name: "spec", summary: "bundle spec YAML: BundleSpec.parse, then the hardener on the spec's compose file",
        setUp: makeTree,
        run: { bytes in
            guard let spec = try? BundleSpec.parse(bytes, specPath: specPath) else { return }
            if let rendered = try? ComposeHardener(spec: spec).render() { checkRendered(rendered) }
        })

    static let compose = FuzzTarget(
        name: "compose", summary: "compose YAML: ComposeHardener.render(composeBytes:) against the demo spec",
        setUp: makeTree,
        run: { bytes in
            guard let spec = demoSpec,
                  let rendered = try? ComposeHardener(spec: spec).render(composeBytes: bytes) else { return }
            checkRendered(rendered)
        })
}

/// A target that cannot start (printed, exit 2).
struct FuzzSetUpError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
