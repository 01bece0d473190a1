import BundleFormat
import Foundation
import TestSupport
import Testing

/// The bundle's OCI layout read by independent OCI tools (skopeo, umoci), and its
/// SBOMs checked against an independent oracle: `dpkg-query` on the root filesystem
/// `umoci unpack` makes from the bundle's own layout. Needs dockerd, skopeo, umoci,
/// dpkg-query and the demo images (`FB_DEMO_REPO` names another repository of them,
/// as `scripts/make-demo-images` does).
@Suite("OCI layout and SBOMs with independent tools (real dockerd, skopeo, umoci)", .serialized,
       .requiresDockerAndTestImage)
struct OCIInteropTests {
    static let repository = ProcessInfo.processInfo.environment["FB_DEMO_REPO"] ?? "frostbyte-demo"

    /// Builds the demo spec (images of `repository`) and extracts it; returns the root folder and manifest.
    private func demoBundle(_ folder: String) throws -> (root: String, manifest: Manifest) {
        let spec = try CrossEngine.demoSpec(repository: Self.repository, in: folder)
        let bundle = folder + "/demo.tar.zst"
        let built = try TestCommand.tool(["build", spec, "-o", bundle, "--source-date-epoch", "1767225600"])
        try #require(built.status == 0, "\(built.stderr)")
        try TestCommand.check(["tar", "--zstd", "-xf", bundle, "-C", folder])
        let root = folder + "/demo-1.0.0"
        return (root, try ManifestCoding.decodeManifest(Data(contentsOf: URL(fileURLWithPath: root + "/MANIFEST.json"))))
    }

    private func scratch(_ tag: String) throws -> String {
        let folder = NSTemporaryDirectory() + "fbsbom-\(tag)-\(TestRun.id)-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        return folder
    }

    @Test("skopeo copies each image by its full reference, docker load gives MANIFEST's ID; umoci unpacks its root filesystem")
    func ociToolsAddressEveryImage() throws {
        let folder = try scratch("oci")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let (root, manifest) = try demoBundle(folder)
        let layout = root + "/images"
        for (index, image) in manifest.images.enumerated() {
            let full = "docker.io/" + image.name
            let tag = "fbtest-oci-\(TestRun.id)/image\(index):probe"
            let archive = "\(folder)/image\(index).tar"
            try TestCommand.check(["skopeo", "copy", "--quiet", "oci:\(layout):\(full)", "docker-archive:\(archive):\(tag)"])
            defer { _ = try? TestCommand.run(["docker", "rmi", tag]) }
            try TestCommand.check(["docker", "load", "-q", "-i", archive])
            let id = try TestCommand.check(["docker", "image", "inspect", "--format", "{{.Id}}", tag])
            #expect(id == image.digest || id == image.manifestDigest, "\(image.name): engine ID \(id)")

            let unpacked = "\(folder)/unpack\(index)"
            try TestCommand.check(["umoci", "unpack", "--image", "\(layout):\(full)", unpacked])
            let config = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(
                fileURLWithPath: "\(root)/\(OCILayout.blobPath(image.digest))"))) as? [String: Any]
            let entrypoint = try #require(((config?["config"] as? [String: Any])?["Entrypoint"] as? [String])?.first)
            #expect(access("\(unpacked)/rootfs\(entrypoint)", X_OK) == 0, "\(image.name): \(entrypoint) in the unpacked rootfs")
        }
        // Negative controls: the bare tag, which every image shared before, names nothing
        // now; a reference the layout lacks is refused.
        #expect(try TestCommand.run(["skopeo", "inspect", "oci:\(layout):1.0"]).status != 0)
        #expect(try TestCommand.run(["skopeo", "inspect", "oci:\(layout):docker.io/frostbyte-demo/absent:1.0"]).status != 0)
    }

    /// `name\tversion\tarch` of the packages dpkg-query lists in state `ii` under `rootfs`.
    static func dpkgOracle(_ rootfs: String) throws -> [String] {
        let listed = try TestCommand.check(["dpkg-query", "-W", "--admindir=\(rootfs)/var/lib/dpkg",
                                            "-f", "${db:Status-Abbrev}\t${Package}\t${Version}\t${Architecture}\n"])
        return listed.split(separator: "\n").compactMap { line in
            let fields = line.split(separator: "\t", omittingEmptySubsequences: false)
            return fields.count == 4 && fields[0].hasPrefix("ii") ? fields[1...].joined(separator: "\t") : nil
        }.sorted()
    }

    /// `name\tversion\tarch` of the deb components of an SBOM, and their layers.
    static func sbomDebs(_ path: String) throws -> (packages: [String], layers: [String: String]) {
        let bom = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as? [String: Any]
        var packages: [String] = []
        var layers: [String: String] = [:]
        for component in bom?["components"] as? [[String: Any]] ?? [] {
            guard let purl = component["purl"] as? String, purl.hasPrefix("pkg:deb/"),
                  let name = component["name"] as? String, let version = component["version"] as? String else { continue }
            let arch = purl.components(separatedBy: "arch=").last?.components(separatedBy: "&").first ?? ""
            packages.append("\(name)\t\(version)\t\(arch)")
            let properties = component["properties"] as? [[String: String]] ?? []
            layers[name] = properties.first { $0["name"] == "frostbyte-bundle:layer_diff_id" }?["value"]
        }
        return (packages.sorted(), layers)
    }

    @Test("each demo image's SBOM lists exactly what dpkg-query finds in its umoci-unpacked root filesystem; all validate")
    func demoSBOMsMatchDpkg() throws {
        let folder = try scratch("demo-sbom")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let (root, manifest) = try demoBundle(folder)
        for (index, image) in manifest.images.enumerated() {
            let sbom = try #require(image.sbom, "\(image.name) names its SBOM")
            let unpacked = "\(folder)/unpack\(index)"
            try TestCommand.check(["umoci", "unpack", "--image", "\(root)/images:docker.io/\(image.name)", unpacked])
            let oracle = try Self.dpkgOracle(unpacked + "/rootfs")
            let ours = try Self.sbomDebs("\(root)/\(sbom)")
            #expect(!oracle.isEmpty, "\(image.name) carries dpkg status entries (scripts/make-demo-images)")
            #expect(ours.packages == oracle, "\(image.name)")
            #expect(Set(ours.layers.values).isSubset(of: Set(image.layers ?? [])))
        }
        let validated = try TestCommand.run(["\(TestRun.repositoryRoot)/scripts/validate-cyclonedx"]
                                            + manifest.images.compactMap { "\(root)/\($0.sbom!)" })
        #expect(validated.status == 0, "\(validated.stderr)")
        // Negative control: the oracle sees a package removed from the status file.
        let status = "\(folder)/unpack0/rootfs/var/lib/dpkg/status"
        let text = try String(contentsOfFile: status, encoding: .utf8)
        let stanzas = text.components(separatedBy: "\n\n")
        try stanzas.dropFirst().joined(separator: "\n\n").write(toFile: status, atomically: true, encoding: .utf8)
        #expect(try Self.dpkgOracle("\(folder)/unpack0/rootfs") != Self.sbomDebs("\(root)/\(manifest.images[0].sbom!)").packages)
    }

    @Test("an image FROM a Debian root that purges a package and deletes a folder: SBOM = dpkg-query, reproducible")
    func purgeAndWhiteouts() throws {
        let minbase = "/var/cache/frostbyte/rootfs/bookworm-minbase"
        try #require(FileManager.default.fileExists(atPath: minbase + "/var/lib/dpkg/status"),
                     "needs the cached bookworm root of scripts/make-demo-images")
        let folder = try scratch("purge")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let repo = "fbtest-sbom-\(TestRun.id)"
        let base = "\(repo)/bookworm:minbase", image = "\(repo)/purged:1"
        defer { _ = try? TestCommand.run(["docker", "rmi", image, base]) }
        try TestCommand.check(["tar", "-C", minbase, "--exclude=./.frostbyte-minbase", "-cf", folder + "/root.tar", "."])
        try TestCommand.check(["docker", "import", folder + "/root.tar", base])
        let dockerfile = """
            FROM \(base)
            RUN dpkg --purge --force-depends adduser && rm -rf /usr/share/doc && mkdir -p /usr/share/doc/kept
            """
        let built = try TestCommand.run(["docker", "build", "-q", "-t", image, "-"], environment: ["DOCKER_BUILDKIT": "0"],
                                        stdin: Data(dockerfile.utf8), timeout: 600)
        try #require(built.status == 0, "\(built.stderr)")
        let fixture = try BuildFixture(image: image)
        defer { fixture.remove() }
        let (bundle, root, listed) = try fixture.buildAndExtract("purged", into: folder)
        try TestCommand.check(["umoci", "unpack", "--image", "\(root)/images:docker.io/\(image)", folder + "/unpacked"])
        let oracle = try Self.dpkgOracle(folder + "/unpacked/rootfs")
        let ours = try Self.sbomDebs("\(root)/\(listed.sbom!)")
        #expect(oracle.count > 50 && !oracle.contains { $0.hasPrefix("adduser\t") })
        #expect(ours.packages == oracle)
        // The purge rewrote the status file in the top layer: packages keep the base
        // layer, since their versions did not change.
        let layers = try #require(listed.layers)
        #expect(layers.count == 2 && ours.layers["libc6"] == layers[0])
        // The top layer really holds whiteouts and an opaque folder.
        let top = try TestCommand.check(["tar", "-tf", "\(root)/\(OCILayout.blobPath(layers[1]))"])
        #expect(top.contains(".wh.") && top.contains(".wh..wh..opq"))
        // inspect --sbom counts and lists the same packages, from the archive and the folder.
        let inspected = try TestCommand.tool(["inspect", bundle, "--sbom", "--json"])
        let report = try JSONSerialization.jsonObject(with: Data(inspected.stdout.utf8)) as? [String: Any]
        let counted = (report?["images"] as? [[String: Any]])?.first?["package_count"] as? Int
        #expect(counted == oracle.count, "\(inspected.stderr)")
        let listing = try TestCommand.tool(["inspect", root, "--sbom", image])
        #expect(listing.status == 0 && listing.stdout.contains("\n  libc6 ") && !listing.stdout.contains("adduser"))
        // A changed SBOM: inspect refuses it, verify-bundle names it (sha256).
        let sbomPath = "\(root)/\(listed.sbom!)"
        let changed = try String(contentsOfFile: sbomPath, encoding: .utf8).replacingOccurrences(of: "\"libc6\"", with: "\"libc7\"")
        try changed.write(toFile: sbomPath, atomically: true, encoding: .utf8)
        #expect(try TestCommand.tool(["inspect", root, "--sbom"]).status == 1)
        let verified = try TestCommand.tool(["verify-bundle", root, "--json"])
        #expect(verified.status == 1 && verified.stdout.contains("\"check\" : \"sha256\"") && verified.stdout.contains(listed.sbom!))
        // Same inputs, same SBOM and bundle bytes.
        let again = fixture.out + "/again.tar.zst"
        try #require(try TestCommand.tool(["build", fixture.spec, "-o", again]).status == 0)
        #expect(FileManager.default.contentsEqual(atPath: bundle, andPath: again))
    }
}
