import BundleFormat
import Foundation
import TestSupport
import Testing

/// `build` and `keygen` through the real binary, checked with the standard tools:
/// zstd, GNU tar, sha256sum, openssl, docker compose and docker load.
@Suite("build: reproducible bundles that standard tools accept", .serialized)
struct BuildCommandTests {
    @Test("keygen writes PREFIX.key (0600) and PREFIX.pub, prints openssl's fingerprint, never overwrites")
    func keygen() throws {
        let fixture = try BuildFixture(image: "unused:1")
        defer { fixture.remove() }
        let prefix = fixture.folder + "/signing"
        let result = try BuildFixture.tool(["keygen", "--out", prefix])
        #expect(result.status == 0)
        var info = stat()
        #expect(stat(prefix + ".key", &info) == 0 && info.st_mode & 0o777 == 0o600)
        let der = try TestCommand.run(["sh", "-c", "openssl pkey -pubin -in '\(prefix).pub' -outform DER | sha256sum"])
        let expected = String(der.stdout.prefix(64))
        #expect(result.stdout.contains("sha256:\(expected)"))
        let keyBefore = try Data(contentsOf: URL(fileURLWithPath: prefix + ".key"))
        let again = try BuildFixture.tool(["keygen", "--out", prefix])
        #expect(again.status == 2)
        #expect(again.stderr.contains("already exists"))
        #expect(try Data(contentsOf: URL(fileURLWithPath: prefix + ".key")) == keyBefore)
        // openssl signs with our private key.
        #expect(try TestCommand.run(["openssl", "pkey", "-in", prefix + ".key", "-noout"]).status == 0)
    }

    @Test("two builds with the same SOURCE_DATE_EPOCH are byte-identical; another epoch differs",
          .requiresDockerAndTestImage)
    func reproducible() throws {
        let image = try ImportedImage()
        defer { image.remove() }
        let fixture = try BuildFixture(image: image.reference)
        defer { fixture.remove() }
        let env = ["SOURCE_DATE_EPOCH": "1767225600"]
        let first = try BuildFixture.tool(["build", fixture.spec, "-o", fixture.out + "/a.tar.zst"], environment: env)
        #expect(first.status == 0, "\(first.stderr)")
        let second = try BuildFixture.tool(["build", fixture.spec, "-o", fixture.out + "/b.tar.zst"], environment: env)
        #expect(second.status == 0, "\(second.stderr)")
        let a = try Data(contentsOf: URL(fileURLWithPath: fixture.out + "/a.tar.zst"))
        let b = try Data(contentsOf: URL(fileURLWithPath: fixture.out + "/b.tar.zst"))
        #expect(a == b)
        let other = try BuildFixture.tool(["build", fixture.spec, "-o", fixture.out + "/c.tar.zst",
                                           "--source-date-epoch", "1767225601"], environment: env)
        #expect(other.status == 0)
        let c = try Data(contentsOf: URL(fileURLWithPath: fixture.out + "/c.tar.zst"))
        #expect(c != a, "negative control: --source-date-epoch wins over SOURCE_DATE_EPOCH and reaches the bytes")
    }

    @Test("a signed build passes tar, sha256sum -c, openssl, docker compose config and docker load",
          .requiresDockerAndTestImage,
          arguments: ["v2", "v1"])
    func interop(format: String) throws {
        let image = try ImportedImage()
        defer { image.remove() }
        let fixture = try BuildFixture(image: image.reference)
        defer { fixture.remove() }
        let key = fixture.folder + "/k"
        #expect(try BuildFixture.tool(["keygen", "--out", key]).status == 0)
        let result = try BuildFixture.tool(["build", fixture.spec, "-o", fixture.out + "/", "--sign-key", key + ".key", "--json",
                                            "--format", format])
        #expect(result.status == 0, "\(result.stderr)")
        let summary = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        let bundle = fixture.out + "/fbtest-1.2.3.tar.zst"
        #expect(summary["path"] as? String == bundle)
        #expect(summary["signed"] as? Bool == true)
        for key in ["bundle_id", "sha256", "size", "uncompressed_size", "files", "images", "models"] {
            #expect(summary[key] != nil, "--json lacks \(key)")
        }
        #expect(fixture.outputListing() == ["fbtest-1.2.3.tar.zst", "fbtest-1.2.3.tar.zst.sha256"])

        // sha256sum -c OUT.sha256 (and its negative control on a copy with one byte changed).
        #expect(try TestCommand.run(["sh", "-c", "cd '\(fixture.out)' && sha256sum -c fbtest-1.2.3.tar.zst.sha256"]).status == 0)
        // zstd -d | GNU tar -t: MANIFEST.json first, then the signature and SHA256SUMS.
        let listing = try TestCommand.run(["sh", "-c", "zstd -dc '\(bundle)' | tar -tf -"])
        #expect(listing.status == 0)
        let names = listing.stdout.split(separator: "\n").map(String.init)
        #expect(Array(names.prefix(3)) == ["fbtest-1.2.3/MANIFEST.json", "fbtest-1.2.3/MANIFEST.json.sig", "fbtest-1.2.3/SHA256SUMS"])
        #expect(names.contains("fbtest-1.2.3/bin/frostbyte-bundle"))
        // v2: the images, then the SBOMs build wrote from their layers, then (signed) the
        // provenance naming them all; v1: the images last.
        #expect(names.last?.hasPrefix(format == "v2" ? "fbtest-1.2.3/provenance/" : "fbtest-1.2.3/images/") == true)
        #expect(names.last { !$0.hasPrefix("fbtest-1.2.3/provenance") }?.hasPrefix(
            format == "v2" ? "fbtest-1.2.3/sbom/" : "fbtest-1.2.3/images/") == true)
        #expect(names.last { !$0.hasPrefix("fbtest-1.2.3/sbom") && !$0.hasPrefix("fbtest-1.2.3/provenance") }?
            .hasPrefix("fbtest-1.2.3/images/") == true)

        let extract = fixture.folder + "/x"
        try FileManager.default.createDirectory(atPath: extract, withIntermediateDirectories: true)
        #expect(try TestCommand.run(["tar", "--zstd", "-xf", bundle, "-C", extract]).status == 0)
        let root = extract + "/fbtest-1.2.3"
        func inRoot(_ command: String) throws -> CommandOutput {
            try TestCommand.run(["sh", "-c", "cd '\(root)' && \(command)"])
        }
        #expect(try inRoot("sha256sum --strict -c SHA256SUMS").status == 0)
        #expect(try inRoot("openssl pkeyutl -verify -pubin -inkey '\(key).pub' -rawin -in MANIFEST.json -sigfile MANIFEST.json.sig").status == 0)
        #expect(try inRoot("docker compose -f docker-compose.yml config -q").status == 0)
        #expect(try inRoot("test -x bin/frostbyte-bundle && bin/frostbyte-bundle --version").status == 0)

        let manifest = try ManifestCoding.decodeManifest(Data(contentsOf: URL(fileURLWithPath: root + "/MANIFEST.json")))
        #expect(manifest.bundleId == summary["bundle_id"] as? String)
        #expect(manifest.createdAt == "2026-01-01T00:00:00Z", "the spec's created_at is the default epoch")
        #expect(manifest.migrations?.files == ["migrations/001_init.sql", "migrations/002_more.sql"])
        #expect(manifest.scripts == ["scripts/install.sh"])
        #expect(manifest.models.map(\.path) == ["models/embed.bin"])
        let entry = try #require(manifest.images.first)
        #expect(entry.digest == image.id)
        #expect(manifest.format == "frostbyte-bundle/\(format.dropFirst())")

        // docker load of the bundled image gives the image ID the manifest records: v1
        // stores the docker save archive; v2's blobs load through a manifest.json that
        // jq writes from MANIFEST.json (docs/FORMAT.md shows the recipe).
        image.remove()
        #expect(try TestCommand.run(["docker", "image", "inspect", image.reference]).status != 0)
        if format == "v1" {
            let load = try TestCommand.run(["docker", "load", "-i", root + "/" + (entry.file ?? "")])
            #expect(load.status == 0, "\(load.stderr)")
        } else {
            #expect(try inRoot("cd images/blobs/sha256 && for f in *; do [ \"$(sha256sum < $f | cut -c1-64)\" = $f ] || exit 1; done").status == 0,
                    "every blob is named by its SHA-256")
            let load = try inRoot(#"cd images && jq '[.images[] | {Config: ("blobs/sha256/" + (.digest | ltrimstr("sha256:"))), RepoTags: [.name], Layers: [.layers[] | "blobs/sha256/" + ltrimstr("sha256:")]}]' ../MANIFEST.json > manifest.json && tar -cf - manifest.json blobs | docker load"#)
            #expect(load.status == 0, "\(load.stderr)")
            #expect(try inRoot("cd images/blobs/sha256 && echo x >> \"$(ls -S | head -1)\" && cd ../../.. && cd images/blobs/sha256 && for f in *; do [ \"$(sha256sum < $f | cut -c1-64)\" = $f ] || exit 1; done").status != 0,
                    "a changed blob no longer matches its name")
        }
        #expect(image.id == entry.digest)

        // Negative controls: a changed file fails sha256sum, a changed manifest fails openssl.
        try Data("{}\n".utf8).write(to: URL(fileURLWithPath: root + "/config/tenant.json"))
        #expect(try inRoot("sha256sum --quiet -c SHA256SUMS").status != 0)
        try Data(" ".utf8).write(to: URL(fileURLWithPath: root + "/MANIFEST.json.sig.extra"))
        #expect(try inRoot("cat MANIFEST.json MANIFEST.json.sig.extra > m2 && openssl pkeyutl -verify -pubin -inkey '\(key).pub' -rawin -in m2 -sigfile MANIFEST.json.sig").status != 0)
    }

    @Test("--compression none writes a plain tar; a docker-archive on disk needs no docker at all",
          .requiresDockerAndTestImage,
          arguments: ["v2", "v1"])
    func plainTarFromArchive(format: String) throws {
        let image = try ImportedImage()
        defer { image.remove() }
        let archiveFixture = try BuildFixture(image: image.reference)
        defer { archiveFixture.remove() }
        let archive = archiveFixture.folder + "/image.tar"
        try TestCommand.check(["docker", "save", "-o", archive, image.reference])
        let fixture = try BuildFixture(image: image.reference, archive: archive)
        defer { fixture.remove() }
        // No docker on PATH: the archive is read in place.
        let result = try BuildFixture.tool(["build", fixture.spec, "-o", fixture.out, "--compression", "none", "--json",
                                            "--format", format],
                                           environment: ["PATH": "/nonexistent", "DOCKER": ""])
        #expect(result.status == 0, "\(result.stderr)")
        let bundle = fixture.out + "/fbtest-1.2.3.tar"
        #expect(try TestCommand.run(["tar", "-tf", bundle]).status == 0)
        let magic = try FileHandle(forReadingFrom: URL(fileURLWithPath: bundle))
        defer { try? magic.close() }
        try magic.seek(toOffset: 257)
        #expect(String(decoding: magic.readData(ofLength: 5), as: UTF8.self) == "ustar")
        let summary = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        let images = try #require(summary["images"] as? [[String: Any]])
        #expect(images.first?["digest"] as? String == image.id)
        if format == "v1" {
            let archiveDigest = try TestCommand.check(["sh", "-c", "sha256sum '\(archive)' | cut -c1-64"])
            #expect(images.first?["sha256"] as? String == archiveDigest, "the archive is stored unchanged")
        } else {
            let layers = try TestCommand.check(["docker", "image", "inspect", "--format", "{{json .RootFS.Layers}}", image.reference])
            #expect(images.first?["layers"] as? [String] == (try JSONSerialization.jsonObject(with: Data(layers.utf8)) as? [String]),
                    "the layer blobs are the image's diff IDs")
        }
    }
}
