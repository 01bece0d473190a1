import Foundation
import TestSupport

/// The demo bundle (manifests/demo.yaml) built by the release binary, so that
/// it carries the release binary as bin/frostbyte-bundle (`build` embeds the
/// executable that runs it), signed with a key the release binary made, plus
/// the bundle extracted, and a tampered copy of the bundle file. Made once per
/// test process in a scratch folder (`folder`, under the temporary folder),
/// which a chroot test bind-mounts on /mnt, and removed when the process exits.
///
/// Inputs: the demo images as docker-archives in FB_OUT/images/<name>.tar and
/// the model FB_OUT/models/demo-embed.bin (FB_OUT default: <repo>/out), both
/// made by scripts/make-demo-images; no Docker engine is used here.
struct DemoReleaseBundle: Sendable {
    static let images = ["postgres", "redis", "worker", "gateway"]
    static let fileName = "demo-1.0.0.tar.zst"
    /// The one top-level folder of the bundle's tar.
    static let topFolder = "demo-1.0.0"

    let folder: String
    var bundle: String { folder + "/" + Self.fileName }
    var tampered: String { folder + "/tampered-" + Self.fileName }
    var extracted: String { folder + "/" + Self.topFolder }
    var publicKey: String { folder + "/release.pub" }

    /// The scratch folder of this test process.
    static let scratch = NSTemporaryDirectory() + "fbport-\(TestRun.id)-\(UUID().uuidString.prefix(8))"

    /// The one bundle of this test process (built on first use).
    static let shared: Result<DemoReleaseBundle, TestFailure> = {
        atexit { try? FileManager.default.removeItem(atPath: DemoReleaseBundle.scratch) }
        do { return .success(try DemoReleaseBundle(binary: try ReleaseBinarySupport.requireBinary())) }
        catch let failure as TestFailure { return .failure(failure) }
        catch { return .failure(TestFailure("\(error)")) }
    }()

    private init(binary: String) throws {
        let root = TestRun.repositoryRoot
        let out = ProcessInfo.processInfo.environment["FB_OUT"] ?? root + "/out"
        for input in Self.images.map({ "\(out)/images/\($0).tar" }) + ["\(out)/models/demo-embed.bin"]
        where !FileManager.default.fileExists(atPath: input) {
            throw TestFailure("\(input) is missing; run scripts/make-demo-images")
        }
        folder = Self.scratch
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)

        // The demo spec, its relative paths made absolute, each image from its archive.
        var spec = try String(contentsOfFile: root + "/manifests/demo.yaml", encoding: .utf8)
            .replacingOccurrences(of: ": ../", with: ": \(root)/")
        for name in Self.images {
            spec = spec.replacingOccurrences(
                of: "  - ref: frostbyte-demo/\(name):1.0\n",
                with: "  - ref: frostbyte-demo/\(name):1.0\n    archive: \(out)/images/\(name).tar\n")
        }
        guard spec.components(separatedBy: "    archive: ").count == Self.images.count + 1 else {
            throw TestFailure("manifests/demo.yaml no longer lists the images as `  - ref: frostbyte-demo/<name>:1.0`")
        }
        try spec.write(toFile: folder + "/demo.yaml", atomically: true, encoding: .utf8)

        try TestCommand.check([binary, "keygen", "--out", folder + "/release"])
        try TestCommand.check([binary, "build", folder + "/demo.yaml", "-o", folder + "/",
                                     "--sign-key", folder + "/release.key"], timeout: 600)
        try TestCommand.check(["tar", "--zstd", "-xf", bundle, "-C", folder])

        // The tampered copy: the same tar with one byte of the signed tenant
        // config changed ("example-tenant" -> "fxample-tenant"), compressed again.
        let plain = folder + "/plain.tar"
        try TestCommand.check(["zstd", "-q", "-d", bundle, "-o", plain])
        var bytes = try Data(contentsOf: URL(fileURLWithPath: plain))
        guard let at = bytes.firstRange(of: Data("\"example-tenant\"".utf8)) else {
            throw TestFailure("the bundle's tar has no \"example-tenant\" (bundle-template/config/tenant.json changed?)")
        }
        bytes[at.lowerBound + 1] = UInt8(ascii: "f")
        try bytes.write(to: URL(fileURLWithPath: plain))
        try TestCommand.check(["zstd", "-q", "--rm", plain, "-o", tampered])
        try TestCommand.check(["chmod", "-R", "a+rX", folder])
    }
}
