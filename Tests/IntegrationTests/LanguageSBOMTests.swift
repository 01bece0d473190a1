import BundleFormat
import Foundation
import TestSupport
import Testing

/// The language catalogers against independent oracles on a real image: a Debian
/// bookworm root with Python packages from Debian (scripts/make-python-root), then
/// a layer built FROM it that deletes one package's metadata (a whiteout), adds a
/// pip-style dist-info and a Go binary built by the Go toolchain. The SBOM's pypi
/// components equal what `importlib.metadata` lists inside the image (`docker run
/// --network none`); its golang components equal `go version -m` on the binary
/// `umoci unpack` gives from the bundle's own OCI layout.
@Suite("SBOM language catalogers against importlib.metadata and go version -m (real dockerd, umoci, go)",
       .serialized, .requiresDockerAndTestImage)
struct LanguageSBOMTests {
    /// `type` components of an SBOM: purl and layer.
    static func components(_ path: String, type: String) throws -> [(purl: String, layer: String?)] {
        let bom = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as? [String: Any]
        return (bom?["components"] as? [[String: Any]] ?? []).compactMap { component in
            guard let purl = component["purl"] as? String, purl.hasPrefix("pkg:\(type)/") else { return nil }
            let properties = component["properties"] as? [[String: String]] ?? []
            return (purl, properties.first { $0["name"] == "frostbyte-bundle:layer_diff_id" }?["value"])
        }
    }

    /// `pkg:pypi/NAME@VERSION` of each distribution `importlib.metadata` finds in `image`, PEP 503 names.
    static func importlibOracle(_ image: String) throws -> [String] {
        let script = """
            import importlib.metadata as m, re
            for d in m.distributions():
                print("pkg:pypi/%s@%s" % (re.sub(r"[-_.]+", "-", d.metadata["Name"]).lower(), d.version))
            """
        let listed = try TestCommand.check(["docker", "run", "--rm", "--network", "none", image, "python3", "-c", script])
        return Set(listed.split(separator: "\n").map(String.init)).sorted()
    }

    @Test("pypi components = importlib.metadata in the image, golang = go version -m; a whiteout removes a package")
    func languagePackagesMatchOracles() throws {
        let made = try TestCommand.run(["\(TestRun.repositoryRoot)/scripts/make-python-root"], timeout: 900)
        try #require(made.status == 0, "scripts/make-python-root: \(made.stderr)")
        let pythonRoot = made.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let folder = NSTemporaryDirectory() + "fbsbom-lang-\(TestRun.id)-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: folder + "/context", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let repo = "fbtest-sbom-lang-\(TestRun.id)"
        let base = "\(repo)/python:base", image = "\(repo)/python:1"
        defer { _ = try? TestCommand.run(["docker", "rmi", image, base]) }
        try TestCommand.check(["tar", "-C", pythonRoot, "--exclude=./.frostbyte-python", "-cf", folder + "/root.tar", "."])
        try TestCommand.check(["docker", "import", folder + "/root.tar", base])
        let before = try Self.importlibOracle(base)
        #expect(before.contains { $0.hasPrefix("pkg:pypi/six@") } && before.contains { $0.hasPrefix("pkg:pypi/pyyaml@") })

        _ = try GoFixture.binary(in: folder)
        try FileManager.default.moveItem(atPath: folder + "/hello-bin", toPath: folder + "/context/hello")
        let dockerfile = """
            FROM \(base)
            COPY hello /usr/local/bin/hello
            RUN rm -rf /usr/lib/python3/dist-packages/six-* \\
             && mkdir -p /usr/local/lib/python3.11/dist-packages/Demo_Pkg-2.1.dist-info \\
             && printf 'Metadata-Version: 2.1\\nName: Demo_Pkg\\nVersion: 2.1\\n\\n' \\
                  > /usr/local/lib/python3.11/dist-packages/Demo_Pkg-2.1.dist-info/METADATA
            """
        try Data(dockerfile.utf8).write(to: URL(fileURLWithPath: folder + "/context/Dockerfile"))
        let built = try TestCommand.run(["docker", "build", "-q", "-t", image, folder + "/context"],
                                        environment: ["DOCKER_BUILDKIT": "0"], timeout: 600)
        try #require(built.status == 0, "\(built.stderr)")
        let oracle = try Self.importlibOracle(image)
        #expect(oracle.contains("pkg:pypi/demo-pkg@2.1") && !oracle.contains { $0.hasPrefix("pkg:pypi/six@") })

        let fixture = try BuildFixture(image: image)
        defer { fixture.remove() }
        let (bundle, root, listed) = try fixture.buildAndExtract("lang", into: folder)
        let layers = try #require(listed.layers)
        let sbom = "\(root)/\(try #require(listed.sbom))"

        let pypi = try Self.components(sbom, type: "pypi")
        #expect(pypi.map(\.purl).sorted() == oracle)
        #expect(pypi.first { $0.purl.hasPrefix("pkg:pypi/pyyaml@") }?.layer == layers.first)
        #expect(pypi.first { $0.purl == "pkg:pypi/demo-pkg@2.1" }?.layer == layers.last)
        // Negative control: the base image's oracle (six still there) differs from this SBOM.
        #expect(pypi.map(\.purl).sorted() != before)

        try TestCommand.check(["umoci", "unpack", "--image", "\(root)/images:docker.io/\(image)", folder + "/unpacked"])
        let goOracle = try GoFixture.versionOracle(folder + "/unpacked/rootfs/usr/local/bin/hello")
        let golang = try Self.components(sbom, type: "golang")
        #expect(golang.map(\.purl).sorted() == goOracle)
        #expect(goOracle.contains("pkg:golang/example.com/dep@v1.4.0"))
        #expect(golang.allSatisfy { layers.dropFirst().contains($0.layer ?? "") })

        let validated = try TestCommand.run(["\(TestRun.repositoryRoot)/scripts/validate-cyclonedx", sbom])
        #expect(validated.status == 0, "\(validated.stderr)")
        // inspect --sbom lists them; its SPDX form (purls of every type) passes spdx-tools.
        let listing = try TestCommand.tool(["inspect", bundle, "--sbom", image])
        #expect(listing.status == 0 && listing.stdout.contains("example.com/dep") && listing.stdout.contains("Demo_Pkg"),
                "\(listing.stdout)")
        let spdx = try TestCommand.tool(["inspect", bundle, "--sbom", "--format", "spdx"])
        try #require(spdx.status == 0, "\(spdx.stderr)")
        try Data(spdx.stdout.utf8).write(to: URL(fileURLWithPath: folder + "/lang.spdx.json"))
        let spdxChecked = try TestCommand.run(["pyspdxtools", "-i", folder + "/lang.spdx.json"])
        #expect(spdxChecked.status == 0, "\(spdxChecked.stdout) \(spdxChecked.stderr)")
        let rederived = try TestCommand.tool(["verify-bundle", bundle, "--rederive-sbom"])
        #expect(rederived.status == 0, "\(rederived.stdout) \(rederived.stderr)")
    }
}
