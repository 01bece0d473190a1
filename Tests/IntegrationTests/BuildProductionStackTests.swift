import Foundation
import TestSupport
import Testing

/// The production spec (manifests/frostbyte-etl.yaml) names upstream images that
/// cannot be pulled here: `render` must work on it, and `build` must refuse it with
/// one sentence that names every missing image, leaving no output behind.
@Suite("build: the production stack fails cleanly without its images", .serialized)
struct BuildProductionStackTests {
    @Test("render works and build names every missing image",
          .requiresDockerAndTestImage)
    func productionStackNamesMissingImages() throws {
        let root = TestRun.repositoryRoot
        let folder = FileManager.default.temporaryDirectory
            .appendingPathComponent("fbtest-etl-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: folder + "/out", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }

        // The same spec, with its relative paths made absolute and a stand-in model
        // file (the real GGUF model is not on this machine), so that only the images
        // are missing.
        let model = folder + "/nomic-embed.gguf"
        #expect(FileManager.default.createFile(atPath: model, contents: Data(repeating: 7, count: 4096)))
        var spec = try String(contentsOfFile: root + "/manifests/frostbyte-etl.yaml", encoding: .utf8)
        spec = spec.replacingOccurrences(of: "../out/models/nomic-embed-text-v1.5.Q8_0.gguf", with: model)
        spec = spec.replacingOccurrences(of: " ../", with: " \(root)/")
        let specPath = folder + "/frostbyte-etl.yaml"
        try spec.write(toFile: specPath, atomically: true, encoding: .utf8)

        let render = try TestCommand.tool(["render", specPath])
        #expect(render.status == 0, "render: \(render.stderr)")
        #expect(render.stdout.contains("internal: true"))

        let build = try TestCommand.tool(["build", specPath, "-o", folder + "/out/etl.tar.zst"])
        #expect(build.status == 2, "build: \(build.stderr)")
        let errors = build.stderr.split(separator: "\n").filter { $0.hasPrefix("frostbyte-bundle: ") }
        #expect(errors.count == 1, "one diagnostic line: \(build.stderr)")
        for image in ["postgres:16.6-bookworm", "redis:8.0.2-bookworm", "qdrant/qdrant:v1.13.6",
                      "clamav/clamav:1.4.2", "ghcr.io/frostbyte-etl/intake-gateway:1.4.0"] {
            #expect(build.stderr.contains(image), "names \(image): \(build.stderr)")
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder + "/out").isEmpty)
    }
}
