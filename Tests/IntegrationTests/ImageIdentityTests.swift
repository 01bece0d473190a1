import Foundation
import TestSupport
import Testing

/// Image identity on the engine's own store (graphdriver: config digest; containerd:
/// manifest digest and layers): a different image under the bundle's image name is
/// never taken for the bundle's, it is loaded over and the name then resolves to the
/// bundle's image; a second install of the same bundle finds every image present.
/// Runs against whichever engine DOCKER_HOST names (the engine matrix runs it on each).
@Suite("Image identity on the engine's store (real dockerd)", .serialized,
       .enabled(if: Docker.demoImagesPresent, "needs scripts/make-demo-images"), .requiresDocker)
struct ImageIdentityTests {
    /// `docker image inspect`'s ID and layers of `reference`.
    private func engineImage(_ reference: String) throws -> (id: String, layers: [String]) {
        let text = try TestCommand.check(["docker", "image", "inspect", "--format", "{{.Id}} {{json .RootFS.Layers}}", reference])
        let parts = text.split(separator: " ", maxSplits: 1).map(String.init)
        let layers = (try? JSONDecoder().decode([String].self, from: Data(parts[1].utf8))) ?? []
        return (parts[0], layers)
    }

    /// The config's rootfs.diff_ids of the image archive `file` inside `bundle`.
    private func layers(ofArchive file: String, in bundle: String) throws -> [String] {
        let folder = try TestRun.scratchFolder("fbinst-identity-layers")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let root = URL(fileURLWithPath: bundle).lastPathComponent.replacingOccurrences(of: ".tar.zst", with: "")
        try TestCommand.check(["tar", "--zstd", "-xf", bundle, "-C", folder, "\(root)/\(file)"])
        try TestCommand.check(["tar", "-xf", "\(folder)/\(root)/\(file)", "-C", folder, "manifest.json"])
        let manifest = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: "\(folder)/manifest.json")))
        let config = try #require(((manifest as? [[String: Any]])?.first?["Config"]) as? String)
        try TestCommand.check(["tar", "-xf", "\(folder)/\(root)/\(file)", "-C", folder, config])
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: "\(folder)/\(config)")))
        return ((json as? [String: Any])?["rootfs"] as? [String: Any])?["diff_ids"] as? [String] ?? []
    }

    @Test func impostorUnderTheBundlesNameIsLoadedOver() throws {
        let bundle = try InstallHarness.v1(suite: "identity")
        let project = InstallHarness.project("identity")
        let prefix = InstallHarness.prefix("identity")
        defer { InstallHarness.cleanup(project: project, prefix: prefix) }
        let inspected = try TestCommand.tool(["inspect", bundle, "--json"])
        let images = try #require(InstallHarness.json(inspected)["images"] as? [[String: Any]],
                                  "inspect --json lists the images: \(inspected.stdout)")
        let gateway = try #require(images.first { ($0["name"] as? String ?? "").contains("gateway") })
        let name = try #require(gateway["name"] as? String)
        let file = try #require(gateway["file"] as? String)
        let diffIDs = try gateway["diff_ids"] as? [String] ?? layers(ofArchive: file, in: bundle)
        #expect(!diffIDs.isEmpty)

        // The impostor: another image (redis) tagged with the gateway's name.
        try TestCommand.check(["docker", "tag", "frostbyte-demo/redis:1.0", name])
        #expect(try engineImage(name).layers != diffIDs)

        // Its own project, subnet and published port: another stack (a demo left running) may hold the defaults.
        let placement = ["--project", project, "--subnet", try DockerTestSupport.freeSubnet(in: "10.216"),
                         "--publish", "\(Int.random(in: 19_000...19_999))"]
        let install = try TestCommand.tool(["install", bundle, "--allow-unsigned", "--prefix", prefix, "--json"] + placement)
        #expect(install.status == 0, "\(install.stderr)")
        let loaded = InstallHarness.json(install)["images_loaded"] as? [String] ?? []
        #expect(loaded.contains(name), "the impostor was not taken for the bundle's image: \(loaded)")
        let after = try engineImage(name)
        #expect(after.layers == diffIDs, "the name resolves to the bundle's image after install")
        if let recorded = (InstallHarness.json(install)["images"] as? [String: String])?[name] {
            #expect(recorded == after.id)
        }

        // Control: the same bundle again finds every image present under its identity.
        let again = try TestCommand.tool(["install", bundle, "--allow-unsigned", "--prefix", prefix, "--json"] + placement)
        #expect(again.status == 0, "\(again.stderr)")
        #expect((InstallHarness.json(again)["images_loaded"] as? [String] ?? []).isEmpty)
    }
}
