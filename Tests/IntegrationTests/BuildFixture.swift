import BundleFormat
import Foundation
import Testing
import TestSupport

/// A complete `build` input in a scratch folder (world-readable, so the binary can
/// also run as `nobody`): a spec, a two-service compose file, a template with a
/// script, a migration and a model. The image is either a reference the engine must
/// have, or a docker-archive on disk.
struct BuildFixture {
    let folder: String
    var spec: String { folder + "/spec.yaml" }
    var out: String { folder + "/out" }

    /// - Parameters:
    ///   - image: the reference the compose file and the spec use.
    ///   - archive: a `docker save` file for `archive:`, or nil to `docker save` the image.
    ///   - model: the model file path (default: a 3 MiB file in the folder).
    init(image: String, archive: String? = nil, model: String? = nil, extraSpec: String = "") throws {
        var template = Array((NSTemporaryDirectory() + "/fbbuild-XXXXXX").utf8CString)
        guard let made = mkdtemp(&template) else { throw TestFailure("mkdtemp failed") }
        folder = String(cString: made)
        chmod(folder, 0o755)
        let manager = FileManager.default
        for sub in ["tpl/scripts", "tpl/config", "mig", "models", "out"] {
            try manager.createDirectory(atPath: folder + "/" + sub, withIntermediateDirectories: true)
        }
        chmod(out, 0o777)
        try write("tpl/scripts/install.sh", "#!/bin/sh\necho install\n", mode: 0o755)
        try write("tpl/config/tenant.json", "{\"tenant\": \"test\"}\n")
        try write("tpl/.env.example", "APP_SECRET=change-me\n")
        try write("mig/001_init.sql", "CREATE TABLE t (id int);\n")
        try write("mig/002_more.sql", "INSERT INTO t VALUES (1);\n")
        var bytes = [UInt8](repeating: 0, count: 3 << 20)
        for index in bytes.indices { bytes[index] = UInt8(truncatingIfNeeded: (index >> 3) &* 31 ^ index) }
        try Data(bytes).write(to: URL(fileURLWithPath: folder + "/models/embed.bin"))
        try write("compose.yaml", """
            services:
              gateway:
                image: \(image)
                command: ["/bin/busybox", "httpd", "-f", "-p", "8080"]
              worker:
                image: \(image)
                command: ["/bin/busybox", "sleep", "3600"]

            """)
        try write("spec.yaml", """
            name: fbtest
            version: 1.2.3
            created_at: 2026-01-01T00:00:00Z
            project: fbtest-build
            compose: compose.yaml
            network:
              name: fbtest-internal
              subnet: 172.31.0.0/16
            gateway:
              service: gateway
              ipv4_address: 172.31.0.10
              port: 8080
            images:
              - ref: \(image)\(archive.map { "\n    archive: \($0)" } ?? "")
            models:
              - name: embed
                path: \(model ?? "models/embed.bin")
            template: tpl
            migrations:
              path: mig
              service: worker
              database: app
              user: app
            \(extraSpec)
            """)
    }

    func write(_ relative: String, _ text: String, mode: mode_t = 0o644) throws {
        let path = folder + "/" + relative
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        chmod(path, mode)
    }

    func remove() { try? FileManager.default.removeItem(atPath: folder) }

    /// Builds the spec into `out/NAME.tar.zst` and extracts it into `folder`; returns
    /// the bundle, its extracted root (`folder/fbtest-1.2.3`) and its first image.
    func buildAndExtract(_ name: String, into folder: String) throws -> (bundle: String, root: String, image: Manifest.Image) {
        let bundle = out + "/\(name).tar.zst"
        let result = try TestCommand.tool(["build", spec, "-o", bundle])
        try #require(result.status == 0, "\(result.stderr)")
        try TestCommand.check(["tar", "--zstd", "-xf", bundle, "-C", folder])
        let root = folder + "/fbtest-1.2.3"
        let manifest = try ManifestCoding.decodeManifest(Data(contentsOf: URL(fileURLWithPath: root + "/MANIFEST.json")))
        return (bundle, root, try #require(manifest.images.first))
    }

    /// Writes a minimal legacy `docker save` archive for `reference` at `relative`
    /// (config, one empty layer, manifest.json) without Docker; returns its image ID.
    @discardableResult
    func writeDockerArchive(_ relative: String, reference: String) throws -> String {
        let work = folder + "/.archive-work"
        try FileManager.default.createDirectory(atPath: work + "/layer", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: work) }
        try TestCommand.check(["tar", "-cf", work + "/layer/layer.tar", "-T", "/dev/null"])
        let layer = try TestCommand.check(["sh", "-c", "sha256sum '\(work)/layer/layer.tar' | cut -c1-64"])
        let config = Data(#"{"architecture":"amd64","os":"linux","config":{},"rootfs":{"type":"layers","diff_ids":["sha256:\#(layer)"]}}"#.utf8)
        let digest = try TestCommand.check(["sh", "-c", "printf '%s' '\(String(decoding: config, as: UTF8.self))' | sha256sum | cut -c1-64"])
        try config.write(to: URL(fileURLWithPath: work + "/\(digest).json"))
        try Data(#"[{"Config":"\#(digest).json","RepoTags":["\#(reference)"],"Layers":["layer/layer.tar"]}]"#.utf8)
            .write(to: URL(fileURLWithPath: work + "/manifest.json"))
        try TestCommand.check(["tar", "-C", work, "-cf", folder + "/" + relative,
                                     "\(digest).json", "layer", "layer/layer.tar", "manifest.json"])
        return "sha256:" + digest
    }

    /// A fixture whose model is a sparse 6 GiB file (hashing and packing it takes
    /// seconds, so a signal lands mid-build) and whose image is a docker-archive.
    static func withBigModel() throws -> BuildFixture {
        let fixture = try BuildFixture(image: "fbtest-none/app:1", archive: "image.tar", model: "models/big.bin")
        try fixture.writeDockerArchive("image.tar", reference: "fbtest-none/app:1")
        let big = open(fixture.folder + "/models/big.bin", O_WRONLY | O_CREAT, 0o644)
        #expect(ftruncate(big, 6 << 30) == 0)
        close(big)
        return fixture
    }

    /// Starts `build SPEC -o OUT/big.tar.zst --level 1 EXTRA` with the binary under test.
    func startBigBuild(_ extra: [String] = []) throws -> RunningCommand {
        try RunningCommand([try FrostbyteBinary.path, "build", spec, "-o", out + "/big.tar.zst", "--level", "1"] + extra)
    }

    /// Everything in the output folder, hidden files included.
    func outputListing() -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: out)) ?? []).sorted()
    }

    /// Runs the binary under test with `arguments`.
    @discardableResult
    static func tool(_ arguments: [String], environment: [String: String] = [:]) throws -> CommandOutput {
        try TestCommand.run([FrostbyteBinary.path] + arguments, environment: environment)
    }
}

/// A tiny image made in the test with `docker import` of a static busybox root
/// filesystem (no registry needed), removed by `remove()`.
struct ImportedImage {
    let reference: String

    init() throws {
        reference = "fbtest-build-\(TestRun.id)-\(UInt16.random(in: 0...UInt16.max)):1"
        var template = Array((NSTemporaryDirectory() + "/fbrootfs-XXXXXX").utf8CString)
        guard let made = mkdtemp(&template) else { throw TestFailure("mkdtemp failed") }
        let root = String(cString: made)
        defer { try? FileManager.default.removeItem(atPath: root) }
        try FileManager.default.createDirectory(atPath: root + "/rootfs/bin", withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: "/bin/busybox", toPath: root + "/rootfs/bin/busybox")
        try TestCommand.check(["tar", "-C", root + "/rootfs", "-cf", root + "/rootfs.tar", "."])
        try TestCommand.check(["docker", "import", root + "/rootfs.tar", reference])
    }

    func remove() { _ = try? TestCommand.run(["docker", "image", "rm", "-f", reference]) }

    var id: String { (try? TestCommand.check(["docker", "image", "inspect", "--format", "{{.Id}}", reference])) ?? "" }
}
