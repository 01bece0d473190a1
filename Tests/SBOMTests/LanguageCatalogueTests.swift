import FrostbyteCore
import Foundation
import SBOM
import TestSupport
import Testing

/// The language package catalogers on layers GNU tar wrote: Python core metadata,
/// npm package.json files and Go build info, each hidden by a later layer's
/// whiteout or opaque folder; the Go reader checked against `go version -m` (an
/// independent reader) on binaries the real Go toolchain built.
@Suite("SBOM: Python, npm and Go catalogers")
struct LanguageCatalogueTests {
    static func metadata(_ name: String, _ version: String, body: String = "") -> String {
        "Metadata-Version: 2.1\nName: \(name)\nVersion: \(version)\nSummary: the \(name) package\n"
            + "Requires-Dist: other (>=1)\n\n" + body
    }

    static func listed(_ catalogue: ImageCatalogue, _ type: String) -> [String] {
        catalogue.packages.filter { $0.type == type }
            .map { CycloneDXWriter.purl($0, distribution: catalogue.distribution) + "@" + $0.layer }
    }

    @Test("Python: dist-info METADATA, egg-info PKG-INFO and egg-info files anywhere; PEP 503 purls; whiteouts hide them")
    func python() throws {
        var fixture = try LayerFixture()
        let site = "usr/lib/python3/dist-packages", local = "usr/local/lib/python3.11/dist-packages"
        let base = LayerFixture.scan(try fixture.layer(.init(files: [
            "\(site)/PyYAML-6.0.dist-info/METADATA": Self.metadata("PyYAML", "6.0"),
            "\(site)/PyYAML-6.0.dist-info/RECORD": "yaml/__init__.py,,\n",
            "\(site)/six-1.16.0.egg-info": Self.metadata("six", "1.16.0"),
            "\(local)/Foo__Bar.baz-2.0.egg-info/PKG-INFO": Self.metadata("Foo__Bar.baz", "2.0"),
            // The headers come first: a long description beyond the kept prefix does not matter.
            "opt/app/venv/lib/python3.11/site-packages/Big-1.0.dist-info/METADATA":
                Self.metadata("Big", "1.0", body: String(repeating: "long description\n", count: 40_000)),
            // Not metadata: a METADATA outside a dist-info folder, a dist-info without Version.
            "srv/METADATA": Self.metadata("nope", "1"),
            "\(site)/broken-1.dist-info/METADATA": "Name: broken\n",
        ])))
        // Layer 2 deletes PyYAML's folder and empties the local site-packages.
        let removal = LayerFixture.scan(try fixture.layer(.init(files: [
            "\(site)/.wh.PyYAML-6.0.dist-info": "", "\(local)/.wh..wh..opq": "",
        ])))
        let before = ImageCatalogue(layers: [("sha256:l1", base)])
        #expect(Self.listed(before, "pypi") == ["pkg:pypi/big@1.0@sha256:l1", "pkg:pypi/foo-bar-baz@2.0@sha256:l1",
                                                 "pkg:pypi/pyyaml@6.0@sha256:l1", "pkg:pypi/six@1.16.0@sha256:l1"])
        let after = ImageCatalogue(layers: [("sha256:l1", base), ("sha256:l2", removal)])
        #expect(Self.listed(after, "pypi") == ["pkg:pypi/big@1.0@sha256:l1", "pkg:pypi/six@1.16.0@sha256:l1"])
        // Only the metadata files were kept, the big one cut at the limit.
        let kept = try #require(base).nodes.compactMap { path, node -> Int? in
            if case .file(let data) = node { return data.count } else { return nil }
        }
        #expect(kept.count == 5 && kept.max()! == LayerScan.patternFileLimit)
    }

    @Test("npm: package.json of package folders in node_modules (scoped as %40scope), nested ones; a whiteout hides one")
    func npm() throws {
        var fixture = try LayerFixture()
        func package(_ name: String, _ version: String) -> String {
            #"{"name": "\#(name)", "version": "\#(version)", "dependencies": {"x": "^1"}}"#
        }
        let base = LayerFixture.scan(try fixture.layer(.init(files: [
            "app/node_modules/express/package.json": package("express", "4.18.2"),
            "app/node_modules/express/node_modules/debug/package.json": package("debug", "2.6.9"),
            "app/node_modules/debug/package.json": package("debug", "4.3.4"),
            "app/node_modules/@types/node/package.json": package("@types/node", "20.1.0"),
            // Not package folders: a file inside a package, the app's own package.json.
            "app/node_modules/express/lib/package.json": package("internal", "0.0.1"),
            "app/package.json": package("app", "1.0.0"),
            "app/node_modules/broken/package.json": "{not json",
        ])))
        let catalogue = ImageCatalogue(layers: [("sha256:n1", base)])
        #expect(Self.listed(catalogue, "npm") == [
            "pkg:npm/%40types/node@20.1.0@sha256:n1", "pkg:npm/debug@4.3.4@sha256:n1", "pkg:npm/debug@2.6.9@sha256:n1",
            "pkg:npm/express@4.18.2@sha256:n1"])
        let removal = LayerFixture.scan(try fixture.layer(.init(files: ["app/node_modules/express/.wh.node_modules": ""])))
        #expect(Self.listed(ImageCatalogue(layers: [("sha256:n1", base), ("sha256:n2", removal)]), "npm")
                == ["pkg:npm/%40types/node@20.1.0@sha256:n1", "pkg:npm/debug@4.3.4@sha256:n1",
                    "pkg:npm/express@4.18.2@sha256:n1"])
    }

    @Test("Go: a binary's build info read while its layer streams equals `go version -m`; a whiteout removes it")
    func goBinaries() throws {
        var fixture = try LayerFixture()
        let binary = try GoFixture.binary(in: fixture.scratch.path)
        let oracle = try GoFixture.versionOracle(binary)
        #expect(oracle.contains("pkg:golang/example.com/dep@v1.4.0") && oracle.contains("pkg:golang/example.com/greet@%28devel%29"))
        let bytes = try Data(contentsOf: URL(fileURLWithPath: binary))
        let layer = try fixture.layer(.init(files: ["etc/os-release": LayerFixture.debianRelease],
                                            binaries: ["usr/local/bin/hello": bytes]))
        for chunk in [1 << 20, 4093, 7] where chunk > 7 || bytes.count < 4 << 20 {
            let catalogue = ImageCatalogue(layers: [("sha256:g1", LayerFixture.scan(layer, chunk: chunk))])
            #expect(Self.listed(catalogue, "golang").map { String($0.dropLast("@sha256:g1".count)) }.sorted() == oracle,
                    "chunk \(chunk)")
            #expect(catalogue.packages.allSatisfy { $0.type != "golang" || $0.location == "usr/local/bin/hello" })
        }
        let removal = LayerFixture.scan(try fixture.layer(.init(files: ["usr/local/bin/.wh.hello": ""])))
        let removed = ImageCatalogue(layers: [("sha256:g1", LayerFixture.scan(layer)), ("sha256:g2", removal)])
        #expect(Self.listed(removed, "golang").isEmpty)
        // Negative controls: the same bytes without the ELF magic, or with the build info flags cleared, are no Go binary.
        var notELF = bytes
        notELF[0] = 0
        var oldFormat = bytes
        let magic = Data([0xFF] + Array(" Go buildinf:".utf8))
        let at = try #require(oldFormat.range(of: magic))
        oldFormat[at.upperBound + 1] = 0
        let others = try fixture.layer(.init(binaries: ["a": notELF, "b": oldFormat]))
        #expect(Self.listed(ImageCatalogue(layers: [("sha256:g3", LayerFixture.scan(others))]), "golang").isEmpty)
    }

    @Test("Go: a magic that is no build info (a string constant) before the real one, across chunk boundaries")
    func goDecoy() throws {
        var fixture = try LayerFixture()
        let magic = [UInt8(0xFF)] + Array(" Go buildinf:".utf8)
        func uvarint(_ value: Int) -> [UInt8] {
            var bytes: [UInt8] = [], rest = value
            while rest >= 0x80 { bytes.append(UInt8(rest & 0x7F) | 0x80); rest >>= 7 }
            return bytes + [UInt8(rest)]
        }
        let sentinel = [UInt8](repeating: 0x30, count: 15) + [0x0A]
        let modinfo = Array("path\tx\nmod\texample.com/x\tv0.1.0\t\ndep\tgolang.org/x/text\tv0.14.0\th1:abc=\n".utf8)
        let version = Array("go1.21.6".utf8)
        var blob = [0x7F, 0x45, 0x4C, 0x46] + [UInt8](repeating: 1, count: 100)
        blob += magic + Array("\", \"literal string".utf8) + [UInt8](repeating: 2, count: 61)
        blob += magic + [8, 2] + [UInt8](repeating: 0, count: 16)
        blob += uvarint(version.count) + version + uvarint(modinfo.count + 32) + sentinel + modinfo + sentinel
        blob += [UInt8](repeating: 3, count: 300)
        let layer = try fixture.layer(.init(binaries: ["bin/x": Data(blob)]))
        for chunk in [1, 2, 13, 14, 15, 512, 1 << 20] {
            let catalogue = ImageCatalogue(layers: [("sha256:d", LayerFixture.scan(layer, chunk: chunk))])
            #expect(Self.listed(catalogue, "golang") == ["pkg:golang/example.com/x@v0.1.0@sha256:d",
                                                         "pkg:golang/golang.org/x/text@v0.14.0@sha256:d",
                                                         "pkg:golang/stdlib@1.21.6@sha256:d"], "chunk \(chunk)")
        }
    }

    @Test("CycloneDX with language components still validates against the 1.6 schema")
    func cycloneDXValidates() throws {
        var fixture = try LayerFixture()
        let scan = LayerFixture.scan(try fixture.layer(.init(files: [
            "usr/lib/python3/dist-packages/six-1.16.0.egg-info": Self.metadata("six", "1.16.0"),
            "app/node_modules/@types/node/package.json": #"{"name":"@types/node","version":"20.1.0"}"#,
            "etc/os-release": LayerFixture.debianRelease,
        ])))
        let catalogue = ImageCatalogue(layers: [("sha256:" + String(repeating: "a", count: 64), scan)])
        let data = try CycloneDXWriter.document(
            catalogue, image: .init(reference: "x/y:1", manifestDigest: "sha256:" + String(repeating: "c", count: 64),
                                    configDigest: "sha256:" + String(repeating: "d", count: 64)),
            timestamp: "2026-01-01T00:00:00Z", tool: ("frostbyte-bundle", "test"))
        let path = fixture.scratch.path + "/lang.cdx.json"
        try data.write(to: URL(fileURLWithPath: path))
        let valid = try CommandRunner.run([CatalogueTests.validator, path])
        #expect(valid.status == 0, "\(valid.errorOutput)")
        let summary = try #require(SBOMSummary(data))
        #expect(summary.packages.map(\.type) == ["npm", "pypi"])
    }
}
