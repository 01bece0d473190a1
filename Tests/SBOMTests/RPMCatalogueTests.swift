import FrostbyteCore
import Foundation
import SBOM
import Testing

/// The rpm cataloger on databases the real rpm tools wrote (`rpmbuild` makes the
/// packages, `rpm -i --justdb` installs them into an sqlite rpmdb), checked
/// against `rpm -qa` on the same database (an independent reader).
@Suite("SBOM: rpm sqlite databases")
struct RPMCatalogueTests {
    /// Builds noarch packages alpha 1.2.3-1, beta 2:2.0-3.fc40 and gamma 0.1-1, and an
    /// rpm database at `folder/db/rpmdb.sqlite` with the given ones installed.
    static func database(in folder: String, installing names: [String]) throws -> Data {
        let script = #"""
            set -e
            cd "$1"; shift
            for spec in "alpha 1.2.3 1 0" "beta 2.0 3.fc40 2" "gamma 0.1 1 0"; do
                set -- $spec "$@"
                [ -f "top/RPMS/noarch/$1-$2-$3.noarch.rpm" ] || {
                    { echo "Name: $1"; echo "Version: $2"; echo "Release: $3"; [ "$4" = 0 ] || echo "Epoch: $4"
                      echo "Summary: test $1"; echo "License: MIT"; echo "BuildArch: noarch"
                      printf '%%description\ntest %s\n%%files\n' "$1"; } > "$1.spec"
                    rpmbuild --define "_topdir $PWD/top" --define "_dbpath $PWD/builddb" -bb "$1.spec" >/dev/null 2>&1
                }
                shift 4
            done
            rm -rf db; mkdir db
            rpm --dbpath "$PWD/db" --initdb
            for name in "$@"; do set -- "$@" top/RPMS/noarch/$name-*.rpm; shift; done
            rpm --dbpath "$PWD/db" -i --justdb --nodeps --ignoreos --ignorearch "$@" 2>/dev/null
            """#
        try CommandRunner.check(["sh", "-c", script, "sh", folder] + names)
        return try Data(contentsOf: URL(fileURLWithPath: folder + "/db/rpmdb.sqlite"))
    }

    /// `pkg:rpm/fedora/NAME@[EPOCH:]VERSION-RELEASE?arch=ARCH&distro=fedora-40` of what `rpm -qa` lists.
    static func oracle(_ folder: String) throws -> [String] {
        let listed = try CommandRunner.check(["rpm", "--dbpath", folder + "/db", "-qa", "--qf",
                                              "%{NAME}\t%{EPOCH}\t%{VERSION}\t%{RELEASE}\t%{ARCH}\n"])
        return listed.split(separator: "\n").map { line in
            let f = line.split(separator: "\t").map(String.init)
            let epoch = f[1] == "(none)" ? "" : f[1] + "%3A"
            return "pkg:rpm/fedora/\(f[0])@\(epoch)\(f[2])-\(f[3])?arch=\(f[4])&distro=fedora-40"
        }.sorted()
    }

    static let fedora = "NAME=\"Fedora Linux\"\nVERSION_ID=40\nID=fedora\n"

    static func purls(_ catalogue: ImageCatalogue) -> [String] {
        catalogue.packages.filter { $0.type == "rpm" }.map { CycloneDXWriter.purl($0, distribution: catalogue.distribution) }
    }

    @Test("rpmdb.sqlite in either place = rpm -qa; an erase keeps the others' layer; a whiteout removes them all")
    func rpmDatabase() throws {
        var fixture = try LayerFixture()
        let work = fixture.scratch.path + "/rpm"
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
        let full = try Self.database(in: work, installing: ["alpha", "beta", "gamma"])
        let oracle = try Self.oracle(work)
        #expect(oracle.count == 3 && oracle.contains("pkg:rpm/fedora/beta@2%3A2.0-3.fc40?arch=noarch&distro=fedora-40"))
        for place in ["var/lib/rpm/rpmdb.sqlite", "usr/lib/sysimage/rpm/rpmdb.sqlite"] {
            let scan = LayerFixture.scan(try fixture.layer(.init(files: ["etc/os-release": Self.fedora],
                                                                 binaries: [place: full])))
            #expect(Self.purls(ImageCatalogue(layers: [("sha256:r1", scan)])) == oracle, "\(place)")
        }
        // Layer 2: the database again without beta (as `rpm -e` leaves it).
        let base = LayerFixture.scan(try fixture.layer(.init(files: ["etc/os-release": Self.fedora],
                                                             binaries: ["var/lib/rpm/rpmdb.sqlite": full])))
        let smaller = try Self.database(in: work, installing: ["alpha", "gamma"])
        let erased = LayerFixture.scan(try fixture.layer(.init(binaries: ["var/lib/rpm/rpmdb.sqlite": smaller])))
        let catalogue = ImageCatalogue(layers: [("sha256:r1", base), ("sha256:r2", erased)])
        #expect(Self.purls(catalogue) == (try Self.oracle(work)))
        #expect(catalogue.packages.map(\.layer) == ["sha256:r1", "sha256:r1"])
        // Layer 3 deletes the database.
        let removal = LayerFixture.scan(try fixture.layer(.init(files: ["var/lib/rpm/.wh.rpmdb.sqlite": ""])))
        #expect(ImageCatalogue(layers: [("sha256:r1", base), ("sha256:r3", removal)]).packages.isEmpty)
        // Negative controls: bytes that are no sqlite database, a cut database: no packages, no crash.
        for bad in [Data("not a database".utf8), full.prefix(4096)] {
            let scan = LayerFixture.scan(try fixture.layer(.init(binaries: ["var/lib/rpm/rpmdb.sqlite": Data(bad)])))
            #expect(ImageCatalogue(layers: [("sha256:x", scan)]).packages.isEmpty)
        }
    }
}
