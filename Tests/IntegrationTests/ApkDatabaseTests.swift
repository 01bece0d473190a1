import BundleFormat
import Foundation
import TestSupport
import Testing

/// apk databases written by the real apk-tools, read right: `Tests/Fixtures/apk/` holds
/// the root apk-tools 3.0.6 wrote (`root.tar`: `apk add --root R --initdb
/// --allow-untrusted --no-network` of three packages made with `apk mkpkg`), the
/// database and world file it wrote after `apk del hello` (`after-del/`), and what
/// that apk listed for each state (`apk list -I --root R`). Debian ships no apk-tools (bookworm to sid), so the tool's
/// output is recorded; when FROSTBYTE_APK names an apk binary, it is also asked live,
/// on the root filesystem `umoci unpack` makes from the bundle's own OCI layout.
/// Two images: the root imported as one layer, and one FROM it whose top layer holds
/// the database after the removal.
@Suite("apk databases of the real apk-tools read right (real dockerd, umoci)", .serialized, .requiresDocker)
struct ApkDatabaseTests {
    static let fixtures = "\(TestRun.repositoryRoot)/Tests/Fixtures/apk"

    /// `name-version arch` of the packages an `apk list -I` output lists.
    static func listed(_ text: String) -> [String] {
        text.split(separator: "\n").map { $0.split(separator: " ").prefix(2).joined(separator: " ") }.sorted()
    }

    /// `name-version arch` of the apk components of an SBOM.
    static func sbomApks(_ path: String) throws -> [String] {
        let bom = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as? [String: Any]
        return (bom?["components"] as? [[String: Any]] ?? []).compactMap { component in
            guard let purl = component["purl"] as? String, purl.hasPrefix("pkg:apk/"),
                  let name = component["name"] as? String, let version = component["version"] as? String else { return nil }
            let arch = purl.components(separatedBy: "arch=").last?.components(separatedBy: "&").first ?? ""
            return "\(name)-\(version) \(arch.removingPercentEncoding ?? arch)"
        }.sorted()
    }

    /// Builds a bundle of `image`, returns the SBOM path and the umoci-unpacked rootfs.
    private func bundleSBOM(_ image: String, folder: String) throws -> (sbom: String, rootfs: String) {
        let fixture = try BuildFixture(image: image)
        defer { fixture.remove() }
        let bundle = fixture.out + "/apk.tar.zst"
        let built = try TestCommand.tool(["build", fixture.spec, "-o", bundle])
        try #require(built.status == 0, "\(built.stderr)")
        let extracted = folder + "/" + image.replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: ":", with: "_")
        try FileManager.default.createDirectory(atPath: extracted, withIntermediateDirectories: true)
        try TestCommand.check(["tar", "--zstd", "-xf", bundle, "-C", extracted])
        let root = extracted + "/fbtest-1.2.3"
        let manifest = try ManifestCoding.decodeManifest(Data(contentsOf: URL(fileURLWithPath: root + "/MANIFEST.json")))
        let sbom = try #require(manifest.images.first?.sbom)
        try TestCommand.check(["umoci", "unpack", "--image", "\(root)/images:docker.io/\(image)", extracted + "/unpacked"])
        return ("\(root)/\(sbom)", extracted + "/unpacked/rootfs")
    }

    @Test("the SBOM's apk components equal what apk lists, before and after a later layer removes a package")
    func apkComponentsEqualApkList() throws {
        let folder = NSTemporaryDirectory() + "fbapk-\(TestRun.id)-\(UUID().uuidString.prefix(8))"
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let manager = FileManager.default
        try manager.createDirectory(atPath: folder + "/context", withIntermediateDirectories: true)
        for file in ["installed", "world"] {
            try manager.copyItem(atPath: "\(Self.fixtures)/after-del/\(file)", toPath: "\(folder)/context/\(file)")
        }
        let repo = "fbtest-apk-\(TestRun.id)"
        let base = "\(repo)/base:1", removed = "\(repo)/removed:1"
        defer { _ = try? TestCommand.run(["docker", "rmi", removed, base]) }
        // The root apk wrote, as one layer; then a layer with the database after `apk del hello`.
        try TestCommand.check(["docker", "import", "\(Self.fixtures)/root.tar", base])
        try Data("FROM \(base)\nCOPY installed /lib/apk/db/installed\nCOPY world /etc/apk/world\n".utf8)
            .write(to: URL(fileURLWithPath: folder + "/context/Dockerfile"))
        let built = try TestCommand.run(["docker", "build", "-q", "-t", removed, folder + "/context"],
                                        environment: ["DOCKER_BUILDKIT": "0"], timeout: 600)
        try #require(built.status == 0, "\(built.stderr)")

        let before = Self.listed(try String(contentsOfFile: "\(Self.fixtures)/apk-list-installed.txt", encoding: .utf8))
        let after = Self.listed(try String(contentsOfFile: "\(Self.fixtures)/apk-list-installed-after-del.txt", encoding: .utf8))
        #expect(before.count == 3 && after.count == 2 && before.contains("hello-2.0_rc1-r4 x86_64"))

        let first = try bundleSBOM(base, folder: folder)
        let second = try bundleSBOM(removed, folder: folder)
        #expect(try Self.sbomApks(first.sbom) == before)
        #expect(try Self.sbomApks(second.sbom) == after)
        // Valid for the official schema and for cyclonedx-python-lib.
        let validated = try TestCommand.run(["\(TestRun.repositoryRoot)/scripts/validate-cyclonedx", first.sbom, second.sbom])
        #expect(validated.status == 0, "\(validated.stderr)")
        // Negative control: the two states differ, so each comparison can fail.
        #expect(try Self.sbomApks(second.sbom) != before)
        // The purl form scanners match on.
        let text = try String(contentsOfFile: first.sbom, encoding: .utf8)
        #expect(text.contains("pkg:apk/alpine/hello@2.0_rc1-r4?arch=x86_64"), "\(text.prefix(400))")

        // The real tool, live, when there is one: on the roots umoci made from the bundles.
        if let apk = ProcessInfo.processInfo.environment["FROSTBYTE_APK"], !apk.isEmpty {
            for (rootfs, sbom) in [(first.rootfs, first.sbom), (second.rootfs, second.sbom)] {
                let live = try TestCommand.check([apk, "list", "-I", "--root", rootfs, "--no-network", "--no-cache"])
                #expect(Self.listed(live) == (try Self.sbomApks(sbom)), "live \(apk) on \(rootfs)")
            }
        }
    }
}
