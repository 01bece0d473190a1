import FrostbyteCore
import Foundation
import SBOM
import Testing

/// The catalogue from layers GNU tar wrote: what a layer keeps, the squashed view
/// (whiteouts, opaque folders, symlinked os-release), the layer each package came
/// from, and the CycloneDX document.
@Suite("SBOM: layer scans, squashed view, catalogue")
struct CatalogueTests {
    static let base = LayerFixture.Tree(
        files: [
            "var/lib/dpkg/status": LayerFixture.stanza("libc6", "2.36-9+deb12u10")
                + "\n" + LayerFixture.stanza("libssl3", "3.0.17-1~deb12u2")
                + "\n" + LayerFixture.stanza("oldpkg", "1.0-1", status: "deinstall ok config-files")
                + "\n" + LayerFixture.stanza("curl", "7.88.1-10+deb12u12"),
            "usr/lib/os-release": LayerFixture.debianRelease,
            "usr/share/doc/big.txt": String(repeating: "x", count: 300_000),
            "var/lib/dpkg/status.d/tzdata": "Package: tzdata\nVersion: 2025b-0+deb12u1\nArchitecture: all\n",
            "var/lib/dpkg/status.d/tzdata.md5sums": "abc  usr/share/zoneinfo/UTC\n",
            "etc/hostname": "x\n",
        ],
        symlinks: ["etc/os-release": "../usr/lib/os-release"])

    @Test("a layer keeps only the catalogued files, whatever the chunk size; non-tar input gives no scan")
    func scanKeepsOnlyWhatMatters() throws {
        var fixture = try LayerFixture()
        let tar = try fixture.layer(Self.base)
        let scan = try #require(LayerFixture.scan(tar))
        #expect(Set(scan.nodes.keys).isSuperset(of: ["var/lib/dpkg/status", "usr/lib/os-release",
                                                      "var/lib/dpkg/status.d/tzdata", "etc/os-release"]))
        #expect(scan.nodes["etc/os-release"] == .symlink("../usr/lib/os-release"))
        #expect(scan.nodes["usr/share/doc/big.txt"] == nil && scan.nodes["etc/hostname"] == nil)
        for chunk in [1, 7, 511, 512, 513, 4096] {
            #expect(LayerFixture.scan(tar, chunk: chunk) == scan, "chunk \(chunk)")
        }
        // GNU format long names and ustar give the same scan.
        #expect(LayerFixture.scan(try fixture.layer(Self.base, format: "gnu")) == scan)
        // Negative controls: a config JSON, random bytes, an empty input.
        #expect(LayerFixture.scan(Data(#"{"rootfs":{"diff_ids":[]}}"#.utf8)) == nil)
        #expect(LayerFixture.scan(Data((0..<5000).map { UInt8(truncatingIfNeeded: $0 &* 7919) })) == nil)
        #expect(LayerFixture.scan(Data()) == nil)
        // A damaged second header stops the scan but keeps what came before.
        var damaged = tar
        damaged[damaged.count - 2048] ^= 0xFF
        _ = LayerFixture.scan(damaged)
    }

    @Test("one layer: installed dpkg packages (status and status.d), the distribution through a symlink")
    func singleLayer() throws {
        var fixture = try LayerFixture()
        let scan = LayerFixture.scan(try fixture.layer(Self.base))
        let catalogue = ImageCatalogue(layers: [("sha256:base", scan)])
        #expect(catalogue.packages.map(\.name) == ["curl", "libc6", "libssl3", "tzdata"])
        #expect(catalogue.packages.allSatisfy { $0.layer == "sha256:base" && $0.type == "deb" })
        #expect(catalogue.distribution?.id == "debian" && catalogue.distribution?.versionID == "12")
        #expect(catalogue.distributionLayer == "sha256:base")
    }

    @Test("whiteouts and opaque folders of later layers hide packages; upgrades move a package's layer")
    func laterLayers() throws {
        var fixture = try LayerFixture()
        let base = LayerFixture.scan(try fixture.layer(Self.base))
        // Layer 2: apt purges curl and upgrades libssl3 (status rewritten), empties status.d
        // (opaque) and adds a new file there.
        let upgrade = LayerFixture.scan(try fixture.layer(.init(files: [
            "var/lib/dpkg/status": LayerFixture.stanza("libc6", "2.36-9+deb12u10")
                + "\n" + LayerFixture.stanza("libssl3", "3.0.18-1~deb12u1"),
            "var/lib/dpkg/status.d/.wh..wh..opq": "",
            "var/lib/dpkg/status.d/zlib1g": "Package: zlib1g\nVersion: 1:1.2.13.dfsg-1\nArchitecture: amd64\n",
        ])))
        // Layer 3: unrelated files only.
        let unrelated = LayerFixture.scan(try fixture.layer(.init(files: ["srv/app": "app\n"])))
        let catalogue = ImageCatalogue(layers: [("sha256:l1", base), ("sha256:l2", upgrade), ("sha256:l3", unrelated)])
        #expect(catalogue.packages.map { "\($0.name)=\($0.version)@\($0.layer)" }
                == ["libc6=2.36-9+deb12u10@sha256:l1", "libssl3=3.0.18-1~deb12u1@sha256:l2",
                    "zlib1g=1:1.2.13.dfsg-1@sha256:l2"])

        // Layer 4 deletes the whole dpkg database folder and the os-release file.
        let wipe = LayerFixture.scan(try fixture.layer(.init(files: [
            "var/lib/.wh.dpkg": "", "usr/lib/.wh.os-release": "",
        ])))
        let wiped = ImageCatalogue(layers: [("sha256:l1", base), ("sha256:l2", upgrade), ("sha256:l4", wipe)])
        #expect(wiped.packages.isEmpty)
        #expect(wiped.distribution == nil, "etc/os-release is a dangling symlink now")
        // Negative control: the same layers without the wipe keep them.
        #expect(!ImageCatalogue(layers: [("sha256:l1", base), ("sha256:l2", upgrade)]).packages.isEmpty)
    }

    @Test("apk's installed database and Alpine's os-release")
    func apk() throws {
        var fixture = try LayerFixture()
        let scan = LayerFixture.scan(try fixture.layer(.init(files: [
            "lib/apk/db/installed": "C:Q1abc=\nP:musl\nV:1.2.4-r2\nA:x86_64\nS:383152\n\nC:Q1def=\nP:busybox\nV:1.36.1-r15\nA:x86_64\n",
            "etc/os-release": "NAME=\"Alpine Linux\"\nID=alpine\nVERSION_ID=3.19.1\n",
        ])))
        let catalogue = ImageCatalogue(layers: [("sha256:a", scan)])
        #expect(catalogue.packages.map { "\($0.type):\($0.name)=\($0.version)" } == ["apk:busybox=1.36.1-r15", "apk:musl=1.2.4-r2"])
        let purls = catalogue.packages.map { CycloneDXWriter.purl($0, distribution: catalogue.distribution) }
        #expect(purls.contains("pkg:apk/alpine/musl@1.2.4-r2?arch=x86_64&distro=alpine-3.19.1"))
    }

    @Test("CycloneDX: purls as scanners match them, serial from the manifest digest, same input same bytes")
    func cycloneDX() throws {
        var fixture = try LayerFixture()
        let scan = LayerFixture.scan(try fixture.layer(Self.base))
        let catalogue = ImageCatalogue(layers: [("sha256:" + String(repeating: "a", count: 64), scan)])
        let subject = CycloneDXWriter.Subject(reference: "frostbyte-demo/app:1.0",
                                              manifestDigest: "sha256:" + String(repeating: "c", count: 64),
                                              configDigest: "sha256:" + String(repeating: "d", count: 64))
        let data = try CycloneDXWriter.document(catalogue, image: subject, timestamp: "2026-01-01T00:00:00Z",
                                                tool: ("frostbyte-bundle", "test"))
        #expect(try CycloneDXWriter.document(catalogue, image: subject, timestamp: "2026-01-01T00:00:00Z",
                                             tool: ("frostbyte-bundle", "test")) == data)
        let text = String(decoding: data, as: UTF8.self)
        #expect(text.contains(#""purl" : "pkg:deb/debian/libssl3@3.0.17-1~deb12u2?arch=amd64&distro=debian-12""#))
        #expect(text.contains(#""serialNumber" : "urn:uuid:cccccccc-cccc-5ccc-8ccc-cccccccccccc""#))
        #expect(text.contains(#""timestamp" : "2026-01-01T00:00:00Z""#))
        let epoch = CataloguedPackage(type: "deb", name: "libstdc++6", version: "1:12.2.0-14", architecture: "amd64", layer: "")
        #expect(CycloneDXWriter.purl(epoch, distribution: catalogue.distribution)
                == "pkg:deb/debian/libstdc%2B%2B6@1%3A12.2.0-14?arch=amd64&distro=debian-12")

        // What inspect --sbom reads back: the same packages, their layer and type.
        let summary = try #require(SBOMSummary(data))
        #expect(summary.distribution == "debian 12")
        #expect(summary.packages.map(\.name) == catalogue.packages.map(\.name))
        #expect(summary.packages.allSatisfy { $0.type == "deb" && $0.layer == catalogue.packages[0].layer })
        #expect(SBOMSummary(Data(#"{"bomFormat":"SPDX"}"#.utf8)) == nil && SBOMSummary(Data("x".utf8)) == nil)

        let path = fixture.scratch.path + "/app.cdx.json"
        try data.write(to: URL(fileURLWithPath: path))
        let valid = try CommandRunner.run([Self.validator, path])
        #expect(valid.status == 0, "\(valid.errorOutput)")
        // Negative control: the schema refuses a document with a malformed serialNumber.
        try Data(text.replacingOccurrences(of: "urn:uuid:", with: "uuid:").utf8).write(to: URL(fileURLWithPath: path))
        #expect(try CommandRunner.run([Self.validator, path]).status == 1)
    }

    /// scripts/validate-cyclonedx of this checkout.
    static var validator: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("scripts/validate-cyclonedx").path
    }
}

/// `inspect --sbom --format spdx`: SPDX 2.3 JSON that spdx-tools (PyPI, an independent
/// implementation) accepts, the same bytes for the same input.
@Suite("SBOM: SPDX 2.3 output")
struct SPDXTests {
    @Test("the packages as SPDX 2.3: valid for pyspdxtools, deterministic; a broken document is refused")
    func spdx() throws {
        var fixture = try LayerFixture()
        let scan = LayerFixture.scan(try fixture.layer(CatalogueTests.base))
        let catalogue = ImageCatalogue(layers: [("sha256:" + String(repeating: "a", count: 64), scan)])
        let digest = "sha256:" + String(repeating: "c", count: 64)
        let bom = try CycloneDXWriter.document(
            catalogue, image: .init(reference: "frostbyte-demo/app:1.0", manifestDigest: digest,
                                    configDigest: "sha256:" + String(repeating: "d", count: 64)),
            timestamp: "2026-01-01T00:00:00Z", tool: ("frostbyte-bundle", "test"))
        let images = [SPDXWriter.Image(name: "frostbyte-demo/app:1.0", manifestDigest: digest,
                                       summary: try #require(SBOMSummary(bom)))]
        func write() throws -> Data {
            try SPDXWriter.document(bundleId: "demo-1.0.0-0123456789ab", created: "2026-01-01T00:00:00Z",
                                    tool: ("frostbyte-bundle", "test"), images: images)
        }
        let data = try write()
        #expect(try write() == data)
        let text = String(decoding: data, as: UTF8.self)
        #expect(text.contains(#""referenceLocator" : "pkg:deb/debian/libssl3@3.0.17-1~deb12u2?arch=amd64&distro=debian-12""#))
        let path = fixture.scratch.path + "/bundle.spdx.json"
        try data.write(to: URL(fileURLWithPath: path))
        let checked = try CommandRunner.run(["pyspdxtools", "-i", path])
        #expect(checked.status == 0, "\(checked.errorOutput) \(checked.output)")
        // Negative control: a relationship to an element the document lacks.
        try Data(text.replacingOccurrences(of: "\"relatedSpdxElement\" : \"SPDXRef-Package-0-0\"",
                                       with: "\"relatedSpdxElement\" : \"SPDXRef-Package-9-9\"").utf8)
            .write(to: URL(fileURLWithPath: path))
        #expect(try CommandRunner.run(["pyspdxtools", "-i", path]).status != 0)
    }
}
