import BundleFormat
import Foundation
import TestSupport
import Testing

/// `build`'s provenance (docs/FORMAT.md, "Provenance") and `verify-bundle
/// --rederive-sbom` through the real binary, without Docker: the image is a
/// docker-archive made here whose layer carries a Debian os-release and dpkg status.
/// The bundle is tampered with and re-signed with the trusted key by an independent
/// re-signer (Python: hashlib, cryptography's Ed25519, DSSE PAE written out again), so
/// each refusal is the check under test, not a stale hash.
@Suite("provenance and --rederive-sbom: signed, checked by securesystemslib, refused with reasons", .serialized)
struct ProvenanceCommandTests {
    /// Re-hashes every file MANIFEST.json lists, rewrites SHA256SUMS, bundle_id and
    /// MANIFEST.json.sig (signed with KEY); with PROVENANCE_KEY (or KEY when it is
    /// "same") also the provenance's subject and DSSE signature; "-" leaves it alone.
    static let resigner = #"""
        import base64, hashlib, json, pathlib, sys
        from cryptography.hazmat.primitives import serialization
        root = pathlib.Path(sys.argv[1])
        load = lambda p: serialization.load_pem_private_key(open(p, "rb").read(), None)
        key = load(sys.argv[2])
        manifest = json.loads((root / "MANIFEST.json").read_text())
        def rehash():
            for entry in manifest["files"]:
                path = root / entry["path"]
                if "sha256" in entry and path.is_file():
                    data = path.read_bytes(); entry["sha256"] = hashlib.sha256(data).hexdigest(); entry["size"] = len(data)
        rehash()
        if sys.argv[3] != "-":
            signer = key if sys.argv[3] == "same" else load(sys.argv[3])
            path = root / manifest["provenance"]
            envelope = json.loads(path.read_text())
            statement = json.loads(base64.b64decode(envelope["payload"]))
            digests = {e["path"]: e["sha256"] for e in manifest["files"] if "sha256" in e}
            for subject in statement["subject"]:
                subject["digest"]["sha256"] = digests[subject["name"]]
            payload = (json.dumps(statement, indent=2, sort_keys=True) + "\n").encode()
            kind = envelope["payloadType"]
            pae = b"DSSEv1 %d %s %d %s" % (len(kind), kind.encode(), len(payload), payload)
            envelope["payload"] = base64.b64encode(payload).decode()
            envelope["signatures"][0]["sig"] = base64.b64encode(signer.sign(pae)).decode()
            path.write_text(json.dumps(envelope, indent=2, sort_keys=True) + "\n")
            rehash()
        sums = "".join(f"{e['sha256']}  {e['path']}\n" for e in manifest["files"] if "sha256" in e)
        (root / "SHA256SUMS").write_text(sums)
        manifest["bundle_id"] = f"{manifest['name']}-{manifest['version']}-" + hashlib.sha256(sums.encode()).hexdigest()[:12]
        data = (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode()
        (root / "MANIFEST.json").write_bytes(data)
        (root / "MANIFEST.json.sig").write_bytes(key.sign(data))
        """#

    /// A signed build of the fixture, extracted; the keys beside it.
    struct Built {
        let fixture: BuildFixture
        var bundle: String { fixture.out + "/fbtest-1.2.3.tar.zst" }
        var key: String { fixture.folder + "/k" }
        var other: String { fixture.folder + "/other" }

        init(signed: Bool = true) throws {
            fixture = try BuildFixture(image: "fbtest-prov/app:1", archive: "image.tar")
            try Self.writeDebianArchive(fixture, reference: "fbtest-prov/app:1")
            #expect(try BuildFixture.tool(["keygen", "--out", fixture.folder + "/k"]).status == 0)
            #expect(try BuildFixture.tool(["keygen", "--out", fixture.folder + "/other"]).status == 0)
            var arguments = ["build", fixture.spec, "-o", fixture.out + "/"]
            if signed { arguments += ["--sign-key", fixture.folder + "/k.key"] }
            let built = try BuildFixture.tool(arguments, environment: ["SOURCE_DATE_EPOCH": "1767225600"])
            #expect(built.status == 0, "\(built.stderr)")
        }

        /// A fresh extracted copy of the bundle: its root folder.
        func extract(_ name: String) throws -> String {
            let folder = fixture.folder + "/" + name
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            try TestCommand.check(["tar", "--zstd", "-xf", bundle, "-C", folder])
            return folder + "/fbtest-1.2.3"
        }

        func resign(_ root: String, provenance: String) throws {
            let script = fixture.folder + "/resign.py"
            try Data(ProvenanceCommandTests.resigner.utf8).write(to: URL(fileURLWithPath: script))
            let result = try TestCommand.run(["python3", script, root, key + ".key", provenance])
            #expect(result.status == 0, "re-signer: \(result.stderr)")
        }

        func verify(_ target: String, _ extra: [String] = []) throws -> (status: Int32, report: [String: Any], checks: [String]) {
            let result = try BuildFixture.tool(["verify-bundle", target, "--json", "--trust", key + ".pub"] + extra)
            let report = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any],
                                      "\(result.stderr)")
            let problems = report["problems"] as? [[String: Any]] ?? []
            return (result.status, report, problems.compactMap { $0["check"] as? String })
        }

        /// A docker-archive whose one layer holds a Debian 12 os-release and a dpkg
        /// status with two installed packages and one removed (config-files).
        static func writeDebianArchive(_ fixture: BuildFixture, reference: String) throws {
            let work = fixture.folder + "/.deb-work"
            for sub in ["root/etc", "root/var/lib/dpkg", "layer"] {
                try FileManager.default.createDirectory(atPath: "\(work)/\(sub)", withIntermediateDirectories: true)
            }
            try fixture.write(".deb-work/root/etc/os-release",
                              "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nID=debian\nVERSION_ID=\"12\"\nVERSION_CODENAME=bookworm\n")
            try fixture.write(".deb-work/root/var/lib/dpkg/status", """
                Package: libc6
                Status: install ok installed
                Architecture: amd64
                Version: 2.36-9+deb12u10

                Package: libssl3
                Status: install ok installed
                Architecture: amd64
                Version: 3.0.17-1~deb12u2

                Package: oldpkg
                Status: deinstall ok config-files
                Architecture: amd64
                Version: 1.0-1

                """)
            try TestCommand.check(["tar", "--sort=name", "--mtime=@0", "--owner=0", "--group=0", "--numeric-owner",
                                   "-C", work + "/root", "-cf", work + "/layer/layer.tar", "etc", "var"])
            let layer = try TestCommand.check(["sh", "-c", "sha256sum '\(work)/layer/layer.tar' | cut -c1-64"])
            let config = #"{"architecture":"amd64","os":"linux","config":{},"rootfs":{"type":"layers","diff_ids":["sha256:\#(layer)"]}}"#
            try fixture.write(".deb-work/config.json", config)
            let digest = try TestCommand.check(["sh", "-c", "sha256sum '\(work)/config.json' | cut -c1-64"])
            try FileManager.default.moveItem(atPath: work + "/config.json", toPath: "\(work)/\(digest).json")
            try fixture.write(".deb-work/manifest.json",
                              #"[{"Config":"\#(digest).json","RepoTags":["\#(reference)"],"Layers":["layer/layer.tar"]}]"#)
            try TestCommand.check(["tar", "-C", work, "-cf", fixture.folder + "/image.tar",
                                   "\(digest).json", "layer", "layer/layer.tar", "manifest.json"])
        }
    }

    @Test("a signed v2 build carries provenance/build.intoto.json; ours and securesystemslib verify it; another key does not")
    func signedBuildCarriesProvenance() throws {
        let built = try Built()
        defer { built.fixture.remove() }
        let root = try built.extract("x")
        let manifest = try ManifestCoding.decodeManifest(Data(contentsOf: URL(fileURLWithPath: root + "/MANIFEST.json")))
        #expect(manifest.provenance == BuildProvenance.path)
        #expect(manifest.files.contains { $0.path == BuildProvenance.path }, "a file of files[]: MANIFEST.json.sig covers it")
        let envelope = root + "/" + BuildProvenance.path

        let script = TestRun.repositoryRoot + "/scripts/verify-provenance"
        let independent = try TestCommand.run([script, built.key + ".pub", envelope])
        #expect(independent.status == 0, "securesystemslib: \(independent.stdout)\(independent.stderr)")
        let keyid = try #require((try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: envelope)))
            as? [String: Any])?["signatures"] as? [[String: String]]).first?["keyid"]
        let otherKey = try TestCommand.run([script, built.other + ".pub", envelope, "--keyid", keyid ?? ""])
        #expect(otherKey.status == 1, "negative control (securesystemslib, another key): \(otherKey.stdout)")

        // The statement: the files with their digests, the inputs, the source date.
        let payload = try TestCommand.check(["sh", "-c", "jq -r .payload '\(envelope)' | base64 -d"])
        let statement = try JSONDecoder().decode(BuildProvenance.Statement.self, from: Data(payload.utf8))
        #expect(statement.subject == BuildProvenance.subject(of: manifest.files))
        #expect(statement.subject.contains { $0.name == "models/embed.bin" })
        let dependencies = statement.predicate.buildDefinition.resolvedDependencies
        #expect(dependencies.map(\.name) == ["spec", "compose", "image", "model"])
        #expect(dependencies[2].digest["sha256"] == String(manifest.images[0].digest.dropFirst(7)), "the image config digest")
        #expect(dependencies[3].digest["sha256"] == manifest.models[0].sha256.hex)
        #expect(statement.predicate.buildDefinition.externalParameters["source_date_epoch"] == "1767225600")
        #expect(!payload.contains(built.fixture.folder), "no machine path in the provenance")

        let ok = try built.verify(built.bundle)
        #expect(ok.status == 0 && ok.checks.isEmpty, "\(ok.report)")
        let untrusted = try BuildFixture.tool(["verify-bundle", built.bundle, "--json", "--trust", built.other + ".pub"])
        #expect(untrusted.status == 1)
        #expect(untrusted.stdout.contains("\"check\" : \"provenance\""), "negative control: another --trust key")

        // Same inputs and SOURCE_DATE_EPOCH: the same provenance bytes.
        let again = try BuildFixture.tool(["build", built.fixture.spec, "-o", built.fixture.out + "/again.tar.zst",
                                           "--sign-key", built.key + ".key"], environment: ["SOURCE_DATE_EPOCH": "1767225600"])
        #expect(again.status == 0)
        #expect(try Data(contentsOf: URL(fileURLWithPath: built.bundle))
                == Data(contentsOf: URL(fileURLWithPath: built.fixture.out + "/again.tar.zst")))
    }

    @Test("an unsigned build carries no provenance")
    func unsignedBuildHasNone() throws {
        let built = try Built(signed: false)
        defer { built.fixture.remove() }
        let listing = try TestCommand.check(["sh", "-c", "tar --zstd -tf '\(built.bundle)'"])
        #expect(!listing.contains("provenance"))
        #expect(listing.contains("fbtest-1.2.3/sbom/"))
    }

    @Test("re-signed MANIFEST.json, but the provenance changed, signed by another key or naming other files: refused",
          arguments: ["payload", "other-key", "subject", "not-json"])
    func provenanceTampering(kind: String) throws {
        let built = try Built()
        defer { built.fixture.remove() }
        let root = try built.extract("t")
        let envelope = root + "/" + BuildProvenance.path
        switch kind {
        case "payload":  // one subject digest changed inside the payload, the signature kept
            try TestCommand.check(["python3", "-c", """
                import base64, json, sys
                e = json.load(open(sys.argv[1])); s = json.loads(base64.b64decode(e["payload"]))
                s["subject"][0]["digest"]["sha256"] = "0" * 64
                e["payload"] = base64.b64encode(json.dumps(s).encode()).decode(); json.dump(e, open(sys.argv[1], "w"))
                """, envelope])
            try built.resign(root, provenance: "-")
        case "other-key":
            try built.resign(root, provenance: built.other + ".key")
        case "subject":  // a file changed after the build: MANIFEST.json re-signed, the provenance left
            try built.fixture.write("t/fbtest-1.2.3/.env.example", "APP_SECRET=other\n")
            try built.resign(root, provenance: "-")
        default:
            try Data("not json\n".utf8).write(to: URL(fileURLWithPath: envelope))
            try built.resign(root, provenance: "-")
        }
        let result = try built.verify(root)
        #expect(result.status == 1)
        #expect(result.checks == ["provenance"], "only the provenance check fails: \(result.report["problems"] ?? "")")
        let message = ((result.report["problems"] as? [[String: Any]])?.first?["message"] as? String) ?? ""
        let reason = ["payload": "does not verify against any --trust key", "other-key": "does not verify against any --trust key",
                      "subject": "subject differs from the bundle's files", "not-json": "not a DSSE envelope"][kind]!
        #expect(message.contains(reason), "\(message)")
        // Control: the untouched copy passes.
        #expect(try built.verify(try built.extract("c-\(kind)")).checks.isEmpty)
    }

    @Test("--rederive-sbom: the shipped SBOMs equal their layers'; one changed and re-signed with the trusted key is refused")
    func rederiveSBOM() throws {
        let built = try Built()
        defer { built.fixture.remove() }
        let plain = try BuildFixture.tool(["verify-bundle", built.bundle, "--trust", built.key + ".pub", "--rederive-sbom"])
        #expect(plain.status == 0, "\(plain.stdout)")
        #expect(plain.stdout.contains("sbom: 1 SBOM written again from the layers, byte-identical"))
        #expect(plain.stdout.contains("sbom: the bundle SBOM written again from MANIFEST.json, byte-identical"))

        let root = try built.extract("s")
        let sbom = root + "/sbom/fbtest-prov_app_1.cdx.json"
        let text = try String(contentsOfFile: sbom, encoding: .utf8)
        #expect(text.contains("\"name\" : \"libssl3\""), "the layer's dpkg status was catalogued")
        try Data(text.replacingOccurrences(of: "3.0.17-1~deb12u2", with: "3.0.18-1~deb12u1").utf8)
            .write(to: URL(fileURLWithPath: sbom))
        // Without the referrer made to match, the OCI layout alone gives the change away.
        let unmatched = try built.extract("u")
        try FileManager.default.removeItem(atPath: unmatched + "/sbom/fbtest-prov_app_1.cdx.json")
        try FileManager.default.copyItem(atPath: sbom, toPath: unmatched + "/sbom/fbtest-prov_app_1.cdx.json")
        try built.resign(unmatched, provenance: "same")
        #expect(try built.verify(unmatched).checks.contains("sbom-referrer"))
        // A thorough forger re-points the SBOM referrer at the new bytes too.
        try ReferrerForgery.run(root, in: built.fixture.folder, ["sbom", "0"])
        try built.resign(root, provenance: "same")

        let hashOnly = try built.verify(root)
        #expect(hashOnly.status == 0, "the re-signed SBOM's hash checks out: \(hashOnly.report["problems"] ?? "")")
        let rederived = try built.verify(root, ["--rederive-sbom"])
        #expect(rederived.status == 1)
        // The image's SBOM, and the bundle SBOM, whose hash of it the forger left alone.
        #expect(rederived.checks == ["sbom-rederived", "sbom-rederived"])
        let problem = try #require((rederived.report["problems"] as? [[String: Any]])?.first)
        #expect(problem["path"] as? String == "sbom/fbtest-prov_app_1.cdx.json")
        let message = problem["message"] as? String ?? ""
        #expect(message.contains("not the one its layers give") && message.contains("3.0.17-1~deb12u2"), "\(message)")
    }
}
