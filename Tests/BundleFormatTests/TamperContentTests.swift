import BundleFormat
import FrostbyteCrypto
import Foundation
import Testing

/// Hostile bundles that keep a valid archive but change content, manifest,
/// checksums or signature. Each asserts that verification fails for exactly
/// the reason planted, at the planted path.
@Suite("Tamper: content, manifest, checksums, signature")
struct TamperContentTests {
    let root = "demo-1.0.0"

    @Test("a flipped byte in a file fails its SHA-256")
    func flippedByte() throws {
        let report = try Tamper.verify(transform: Tamper.flipByte(in: "\(root)/config/tenant.json"))
        #expect(report.failedChecks == [.sha256])
        #expect(report.has(.sha256, path: "config/tenant.json"))
    }

    @Test("a flipped byte inside a large (multi-chunk) model fails its SHA-256")
    func flippedByteInModel() throws {
        let report = try Tamper.verify(transform: Tamper.flipByte(in: "\(root)/models/embed.bin", at: 1_200_000))
        #expect(report.failedChecks == [.sha256])
        #expect(report.has(.sha256, path: "models/embed.bin"))
    }

    @Test("an extra file the manifest does not list")
    func extraFile() throws {
        let report = try Tamper.verify(transform: Tamper.adding(.file("\(root)/scripts/backdoor.sh", Data("x".utf8))))
        #expect(report.failedChecks == [.unlistedFile])
        #expect(report.has(.unlistedFile, path: "scripts/backdoor.sh"))
    }

    @Test("a listed file that is missing")
    func missingFile() throws {
        let report = try Tamper.verify(transform: Tamper.removing("\(root)/migrations/001_init.sql"))
        #expect(report.failedChecks == [.missingFile])
        #expect(report.has(.missingFile, path: "migrations/001_init.sql"))
    }

    @Test("a size that differs from the manifest")
    func wrongSize() throws {
        let report = try Tamper.verify(configure: { bundle, _ in
            bundle.editManifest = { manifest in
                let index = manifest.files.firstIndex { $0.path == "config/tenant.json" }!
                manifest.files[index].size += 1
            }
        })
        #expect(report.failedChecks == [.size])
        #expect(report.problems.first { $0.check == .size }?.expected == "18 bytes")
    }

    @Test("SHA256SUMS that disagrees with the manifest")
    func sumsMismatch() throws {
        let report = try Tamper.verify(configure: { bundle, _ in
            var files = bundle.listedFiles()
            let index = files.firstIndex { $0.path == "docker-compose.yml" }!
            files[index].sha256 = SHA256Hasher.hash(Data("other".utf8))
            bundle.sumsOverride = SHA256Sums.render(files)
        })
        #expect(report.failedChecks == [.sumsMismatch])
        #expect(report.has(.sumsMismatch, path: "docker-compose.yml"))
    }

    @Test("SHA256SUMS that is not in sha256sum format")
    func sumsMalformed() throws {
        let report = try Tamper.verify(configure: { bundle, _ in bundle.sumsOverride = Data("garbage\n".utf8) })
        #expect(report.failedChecks == [.sumsMalformed])
    }

    @Test("SHA256SUMS missing")
    func sumsMissing() throws {
        let report = try Tamper.verify(transform: Tamper.removing("\(root)/SHA256SUMS"))
        #expect(report.failedChecks == [.sumsMissing])
    }

    @Test("bundle_id that does not match SHA256SUMS")
    func badBundleId() throws {
        let report = try Tamper.verify(configure: { bundle, _ in bundle.keepBundleId = "demo-1.0.0-000000000000" })
        #expect(report.failedChecks == [.bundleId])
        #expect(report.problems.first?.actual == "demo-1.0.0-000000000000")
    }

    @Test("manifest with an unknown format")
    func unknownFormat() throws {
        let report = try Tamper.verify(configure: { bundle, _ in
            bundle.editManifest = { $0.format = "frostbyte-bundle/9" }
        })
        #expect(report.failedChecks == [.manifestFormat])
        #expect(report.problems.first?.actual == "frostbyte-bundle/9")
    }

    @Test("manifest missing a required field")
    func missingField() throws {
        let report = try Tamper.verify(configure: { bundle, _ in
            var object = try JSONSerialization.jsonObject(with: try bundle.metadata().manifest) as! [String: Any]
            object.removeValue(forKey: "created_at")
            bundle.manifestOverride = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
        })
        #expect(report.failedChecks == [.manifestField])
        #expect(report.problems.first?.expected == "created_at")
    }

    @Test("manifest that is not JSON")
    func manifestNotJSON() throws {
        let report = try Tamper.verify(configure: { bundle, _ in bundle.manifestOverride = Data("{not json".utf8) })
        #expect(report.failedChecks == [.manifestInvalid])
    }

    @Test("manifest that does not come first")
    func manifestNotFirst() throws {
        let report = try Tamper.verify(transform: { entries in
            let manifest = entries.first { $0.pathString.hasSuffix("/MANIFEST.json") }!
            return entries.filter { !$0.pathString.hasSuffix("/MANIFEST.json") } + [manifest]
        })
        #expect(report.has(.manifestNotFirst, path: "MANIFEST.json"))
        #expect(!report.verified)
    }

    @Test("a manifest reference (model digest) that disagrees with files[]")
    func manifestReference() throws {
        let report = try Tamper.verify(configure: { bundle, _ in
            bundle.editManifest = { $0.models[0].sha256 = SHA256Hasher.hash(Data("x".utf8)) }
        })
        #expect(report.failedChecks == [.manifestReference])
        #expect(report.has(.manifestReference, path: "models/embed.bin"))
    }

    @Test("signature by another key than the trusted one")
    func otherKey() throws {
        let trusted = try TrustedKey(key: try SigningKey.generate().verifyingKey())
        let report = try Tamper.verify(trust: [trusted], configure: { bundle, _ in
            bundle.signingKey = try SigningKey.generate()
        })
        #expect(report.failedChecks == [.signature])
        #expect(report.signature.state == .untrusted)
    }

    @Test("manifest changed after signing")
    func manifestChangedAfterSigning() throws {
        let key = try SigningKey.generate()
        let trusted = try TrustedKey(key: try key.verifyingKey())
        let report = try Tamper.verify(trust: [trusted], configure: { bundle, _ in bundle.signingKey = key },
                                       transform: { entries in
            let original = entries.first { $0.pathString.hasSuffix("/MANIFEST.json") }!.data
            let signature = try key.sign(original)
            return entries.map { entry in
                var entry = entry
                if entry.pathString.hasSuffix("/MANIFEST.json") {
                    entry.data = Data(String(decoding: original, as: UTF8.self)
                        .replacingOccurrences(of: "172.29.0.0/16", with: "10.0.0.0/8").utf8)
                }
                if entry.pathString.hasSuffix("/MANIFEST.json.sig") { entry.data = signature }
                return entry
            }
        })
        #expect(report.failedChecks == [.signature])
    }

    @Test("unsigned bundle when --trust is given")
    func unsignedWithTrust() throws {
        let trusted = try TrustedKey(key: try SigningKey.generate().verifyingKey())
        let report = try Tamper.verify(trust: [trusted])
        #expect(report.failedChecks == [.unsigned])
    }

    @Test("image archive whose config does not hash to images[].digest")
    func imageWrongDigest() throws {
        let report = try Tamper.verify(configure: { bundle, _ in
            bundle.imageDigest = "sha256:" + String(repeating: "a", count: 64)
        })
        #expect(report.failedChecks == [.imageDigest])
        #expect(report.problems.first?.expected == "sha256:" + String(repeating: "a", count: 64))
    }

    @Test("images[].diff_ids that differ from the config's rootfs.diff_ids; the matching list passes")
    func imageWrongDiffIDs() throws {
        let wrong = "sha256:" + String(repeating: "1", count: 64)
        let report = try Tamper.verify(configure: { bundle, _ in
            bundle.editManifest = { $0.images[0].diffIDs = [wrong] }
        })
        #expect(report.failedChecks == [.imageDigest])
        #expect(report.problems.first?.expected == wrong)
        // Control: the fixture config's own diff_ids verify.
        let right = try Tamper.verify(configure: { bundle, _ in
            bundle.editManifest = { $0.images[0].diffIDs = ["sha256:" + String(repeating: "0", count: 64)] }
        })
        #expect(right.problems == [])
    }

    @Test("images[].manifest_digest that the archive's index.json does not name")
    func imageWrongManifestDigest() throws {
        let report = try Tamper.verify(configure: { bundle, _ in
            bundle.editManifest = { $0.images[0].manifestDigest = "sha256:" + String(repeating: "2", count: 64) }
        })
        #expect(report.failedChecks == [.imageDigest])
        #expect(report.problems.first?.message.contains("manifest_digest") == true)
    }

    @Test("image archive that is not a tar")
    func imageNotTar() throws {
        let report = try Tamper.verify(configure: { bundle, _ in
            Tamper.replace("images/app.tar", with: Tamper.bytes(70_000), in: &bundle)
        })
        #expect(report.failedChecks == [.imageArchive])
        #expect(report.problems.first?.message.contains("not a tar") == true)
    }

    @Test("image archive whose manifest names a missing layer")
    func imageMissingLayer() throws {
        let report = try Tamper.verify(configure: { bundle, folder in
            let image = try FixtureImage.legacy(in: folder, omitLayer: true)
            Tamper.replace("images/app.tar", with: image.archive, in: &bundle)
            bundle.imageDigest = image.digest
        })
        #expect(report.failedChecks == [.imageArchive])
        #expect(report.problems.first?.message.contains("layer") == true)
    }

    @Test("a .sha256 sidecar that does not match")
    func sidecarMismatch() throws {
        let report = try Tamper.verify(afterWrite: { path in
            let wrong = SHA256Hasher.hash(Data("other".utf8)).hex
            try Data("\(wrong)  demo-1.0.0.tar.zst\n".utf8).write(to: URL(fileURLWithPath: path + ".sha256"))
        })
        #expect(report.failedChecks == [.sidecar])
        #expect(report.sidecar == "mismatch")
    }
}
