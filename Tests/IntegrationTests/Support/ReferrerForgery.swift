import Foundation
import TestSupport

/// A forger of a v2 bundle's OCI 1.1 SBOM referrers (docs/FORMAT.md, "SBOM referrers"),
/// in Python, independent of the project's code: it rewrites blobs and everything that
/// names them (`images/index.json`, MANIFEST.json's `blobs[]`, `files[]` and
/// `images[].sbom_referrer`, the provenance's subject names), so that the bundle stays
/// consistent and, once re-signed (`ProvenanceCommandTests.resigner`), only the check
/// under test can refuse it.
///
///     python3 forge.py ROOT sbom N       image N's referrer carries its SBOM file's current bytes
///     python3 forge.py ROOT subject N M  image N's referrer names image M's manifest as subject
enum ReferrerForgery {
    static let script = #"""
        import base64, hashlib, json, os, pathlib, sys
        root = pathlib.Path(sys.argv[1]); layout = root / "images"
        manifest = json.loads((root / "MANIFEST.json").read_text())
        blob = lambda d: layout / "blobs" / "sha256" / d.split(":")[1]
        bpath = lambda d: "images/blobs/sha256/" + d.split(":")[1]
        index = json.loads((layout / "index.json").read_text())
        renamed = {}
        def replace(old, data):
            new = "sha256:" + hashlib.sha256(data).hexdigest()
            blob(new).write_bytes(data)
            if old != new: os.unlink(blob(old))
            renamed[bpath(old)] = bpath(new)
            for entry in index["manifests"]:
                if entry["digest"] == old: entry["digest"] = new; entry["size"] = len(data)
            for entry in manifest["blobs"]:
                if entry["digest"] == old: entry["digest"] = new; entry["size"] = len(data)
            for entry in manifest["files"]:
                if entry["path"] == bpath(old): entry["path"] = bpath(new)
            for image in manifest["images"]:
                if image.get("sbom_referrer") == old: image["sbom_referrer"] = new
            return new
        image = manifest["images"][int(sys.argv[3])]
        artifact = json.loads(blob(image["sbom_referrer"]).read_bytes())
        if sys.argv[2] == "sbom":
            data = (root / image["sbom"]).read_bytes()
            artifact["layers"][0]["digest"] = replace(artifact["layers"][0]["digest"], data)
            artifact["layers"][0]["size"] = len(data)
        else:
            other = manifest["images"][int(sys.argv[4])]["manifest_digest"]
            artifact["subject"] = {"digest": other, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                                   "size": blob(other).stat().st_size}
        replace(image["sbom_referrer"], json.dumps(artifact, sort_keys=True, separators=(",", ":")).encode())
        (layout / "index.json").write_text(json.dumps(index, sort_keys=True, separators=(",", ":")))
        (root / "MANIFEST.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
        if "provenance" in manifest:
            provenance = root / manifest["provenance"]
            envelope = json.loads(provenance.read_text())
            statement = json.loads(base64.b64decode(envelope["payload"]))
            for subject in statement["subject"]:
                subject["name"] = renamed.get(subject["name"], subject["name"])
            statement["subject"].sort(key=lambda subject: subject["name"].encode())
            envelope["payload"] = base64.b64encode(json.dumps(statement).encode()).decode()
            provenance.write_text(json.dumps(envelope))
        """#

    /// Runs the forger on the extracted bundle at `root`.
    static func run(_ root: String, in folder: String, _ arguments: [String]) throws {
        let path = folder + "/forge-referrer.py"
        try script.write(toFile: path, atomically: true, encoding: .utf8)
        try TestCommand.check(["python3", path, root] + arguments)
    }
}
