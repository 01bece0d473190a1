import FrostbyteCrypto
import FrostbyteArchive
import FoundationEssentials
import Glibc

extension VerificationSession {
    /// After the last entry: compares everything seen with the manifest,
    /// SHA256SUMS, the bundle id, the image archives and the signature.
    /// - Throws: `BundleInputError.notABundle` when nothing about the input looks
    ///   like a bundle (no MANIFEST.json and no SHA256SUMS).
    func conclude() throws -> VerificationReport {
        report.rootFolder = rootFolder
        guard let manifestData else {
            if sumsData == nil && !report.has(.manifestNotFirst) && !report.has(.archive) && !report.has(.part) {
                throw BundleInputError.notABundle(
                    path: report.source, reason: "it has no MANIFEST.json\(isArchive ? " in a root folder" : "")")
            }
            problem(VerificationProblem(.manifestMissing, path: "MANIFEST.json", "the bundle has no MANIFEST.json"))
            return report
        }
        checkSignature(manifestData)
        let sums = checkSums()
        guard let manifest else { return report }
        if isArchive, let rootFolder, rootFolder != "\(manifest.name)-\(manifest.version)" {
            problem(VerificationProblem(.rootFolder, path: rootFolder, expected: "\(manifest.name)-\(manifest.version)",
                                        actual: rootFolder, "root folder does not match the manifest's name and version"))
        }
        checkFiles(manifest)
        if let sums, let sumsData { checkSumsAgainstManifest(manifest, sums: sums, sumsData: sumsData) }
        checkReferences(manifest)
        checkImages(manifest)
        if let layout { checkLayout(manifest, layout: layout) }
        if let layout { checkProvenance(manifest, layout: layout) }
        checkDelta(manifest)
        if imagesLeftToEngine > 0 {
            report.warnings.append("installed release: \(imagesLeftToEngine) entries under images/ are not in the folder; "
                + "the engine holds the images (install checked their IDs against the manifest, status shows them)")
        }
        return report
    }

    private func checkSignature(_ manifestData: Data) {
        let fingerprints = trust.map(\.fingerprint.hex)
        guard let signature = signatureData else {
            report.signature = SignatureStatus(state: .unsigned, trustedKeys: fingerprints)
            if trust.isEmpty {
                report.warnings.append("unsigned: the bundle has no MANIFEST.json.sig")
            } else {
                problem(VerificationProblem(.unsigned, path: "MANIFEST.json.sig", expected: "a signature by a trusted key",
                                            actual: "absent", "the bundle is unsigned but --trust was given"))
            }
            return
        }
        guard !trust.isEmpty else {
            report.signature = SignatureStatus(state: .signedUnchecked)
            report.warnings.append("signed, key not checked: pass --trust PUB to check MANIFEST.json.sig")
            return
        }
        if let key = trust.first(where: { $0.key.isValidSignature(signature, for: manifestData) }) {
            report.signature = SignatureStatus(state: .trusted, matchedKey: key.fingerprint.hex, trustedKeys: fingerprints)
            return
        }
        report.signature = SignatureStatus(state: .untrusted, trustedKeys: fingerprints)
        let actual = signature.count == 64 ? "a signature by another key" : "\(signature.count) bytes, not an Ed25519 signature"
        problem(VerificationProblem(.signature, path: "MANIFEST.json.sig",
                                    expected: "a signature by \(fingerprints.joined(separator: " or "))",
                                    actual: actual, "MANIFEST.json.sig does not verify against any --trust key"))
    }

    /// Parses SHA256SUMS; returns nil (with a problem) when absent or malformed.
    private func checkSums() -> [String: SHA256Digest]? {
        guard let sumsData else {
            problem(VerificationProblem(.sumsMissing, path: "SHA256SUMS", "the bundle has no SHA256SUMS"))
            return nil
        }
        guard let sums = SHA256Sums.parse(sumsData) else {
            problem(VerificationProblem(.sumsMalformed, path: "SHA256SUMS",
                                        "SHA256SUMS is not in 'sha256sum' format (<64 hex>  <path> per line, no duplicates)"))
            return nil
        }
        return sums
    }

    private func checkFiles(_ manifest: Manifest) {
        var listed: [String: Manifest.File] = [:]
        for file in manifest.files {
            if listed[file.path] != nil || Self.metaFiles.contains(file.path) {
                problem(VerificationProblem(.manifestInvalid, path: file.path, "MANIFEST.json lists this path twice or lists a metadata file"))
            }
            listed[file.path] = file
        }
        var parents = Set<String>()
        for path in listed.keys {
            var parts = path.split(separator: "/").dropLast()
            while !parts.isEmpty {
                parents.insert(parts.joined(separator: "/"))
                parts = parts.dropLast()
            }
        }
        for file in manifest.files.sorted(by: { $0.path < $1.path }) {
            checkListed(file)
        }
        for (path, entry) in observed.sorted(by: { $0.key < $1.key })
        where listed[path] == nil && !Self.metaFiles.contains(path) {
            if entry.isDirectory && parents.contains(path) { continue }
            problem(VerificationProblem(.unlistedFile, path: path, expected: "listed in MANIFEST.json",
                                        actual: entry.isDirectory ? "directory" : "\(entry.size) bytes",
                                        "the bundle holds a file the manifest does not list"))
        }
    }

    private func checkListed(_ file: Manifest.File) {
        // Refused at its header (already reported), or never reached after a refusal.
        if refusedPaths.contains(file.path) || (refusedAtHeader && observed[file.path] == nil) { return }
        // Left to a delta's base and absent: `checkDelta` judges it.
        if !file.isCarried && observed[file.path] == nil { return }
        // An installed release keeps its images in the engine, not in the folder.
        if imagesInEngine && observed[file.path] == nil && BundleLayout.isImagesEntry(file.path) {
            imagesLeftToEngine += 1
            return
        }
        guard let entry = observed[file.path] else {
            problem(VerificationProblem(.missingFile, path: file.path, expected: "present", actual: "absent",
                                        "a file listed in MANIFEST.json is missing"))
            return
        }
        report.filesChecked += 1
        if entry.isDirectory != file.isDirectory {
            problem(VerificationProblem(.entryKind, path: file.path,
                                        expected: file.isDirectory ? "directory" : "regular file",
                                        actual: entry.isDirectory ? "directory" : "regular file",
                                        "entry kind differs from the manifest"))
            return
        }
        let mode = EntryRules.octal(entry.permissions)
        if mode != file.mode {
            let found = VerificationProblem(.mode, path: file.path, expected: file.mode, actual: mode,
                                            "mode differs from the manifest")
            if isArchive { problem(found) } else { report.warnings.append(found.description) }
        }
        guard !file.isDirectory else { return }
        if entry.size != file.size {
            problem(VerificationProblem(.size, path: file.path, expected: "\(file.size) bytes",
                                        actual: "\(entry.size) bytes", "size differs from the manifest"))
        }
        if let expected = file.sha256, entry.digest != expected {
            problem(VerificationProblem(.sha256, path: file.path, expected: expected.hex,
                                        actual: entry.digest?.hex ?? "none", "SHA-256 differs from the manifest"))
        }
    }

    private func checkSumsAgainstManifest(_ manifest: Manifest, sums: [String: SHA256Digest], sumsData: Data) {
        let regular = manifest.files.filter { !$0.isDirectory }
        var listed = Set<String>()
        for file in regular {
            listed.insert(file.path)
            if sums[file.path] != file.sha256 {
                problem(VerificationProblem(.sumsMismatch, path: file.path, expected: file.sha256?.hex ?? "none",
                                            actual: sums[file.path]?.hex ?? "absent",
                                            "SHA256SUMS disagrees with MANIFEST.json"))
            }
        }
        for path in sums.keys.sorted() where !listed.contains(path) {
            problem(VerificationProblem(.sumsMismatch, path: path, expected: "absent", actual: sums[path]!.hex,
                                        "SHA256SUMS lists a file MANIFEST.json does not"))
        }
        let expectedId = SHA256Sums.bundleId(name: manifest.name, version: manifest.version, sums: sumsData)
        if manifest.bundleId != expectedId {
            problem(VerificationProblem(.bundleId, path: "MANIFEST.json", expected: expectedId, actual: manifest.bundleId,
                                        "bundle_id must be <name>-<version>-<first 12 hex of sha256(SHA256SUMS)>"))
        }
    }

    /// Images (and their SBOMs), models, the compose file, scripts and migrations must point at
    /// listed files with the same digest and size.
    private func checkReferences(_ manifest: Manifest) {
        var byPath: [String: Manifest.File] = [:]
        for file in manifest.files { byPath[file.path] = file }
        func require(_ path: String, sha256: SHA256Digest?, size: Int64?, what: String) {
            guard let file = byPath[path], !file.isDirectory else {
                problem(VerificationProblem(.manifestReference, path: path, expected: "listed in files",
                                            actual: "not listed", "\(what) is not among the manifest's files"))
                return
            }
            if let sha256, file.sha256 != sha256 {
                problem(VerificationProblem(.manifestReference, path: path, expected: sha256.hex,
                                            actual: file.sha256?.hex ?? "none", "\(what) digest differs from files[]"))
            }
            if let size, file.size != size {
                problem(VerificationProblem(.manifestReference, path: path, expected: "\(size) bytes",
                                            actual: "\(file.size) bytes", "\(what) size differs from files[]"))
            }
        }
        for image in manifest.images {
            if let sbom = image.sbom { require(sbom, sha256: nil, size: nil, what: "SBOM of image \(image.name)") }
            guard let file = image.file else { continue }
            require(file, sha256: image.sha256, size: image.size, what: "image \(image.name)")
        }
        if let sbom = manifest.sbom { require(sbom, sha256: nil, size: nil, what: "bundle SBOM") }
        for model in manifest.models { require(model.path, sha256: model.sha256, size: model.size, what: "model \(model.name)") }
        if let compose = manifest.compose { require(compose.file, sha256: compose.sha256, size: nil, what: "compose file") }
        for script in manifest.scripts { require(script, sha256: nil, size: nil, what: "script") }
        for migration in manifest.migrations?.files ?? [] { require(migration, sha256: nil, size: nil, what: "migration") }
    }

    private func checkImages(_ manifest: Manifest) {
        for image in manifest.images {
            guard let file = image.archiveFile else { continue }
            var check = ImageCheck(file: file, name: image.name, expectedDigest: image.digest,
                                   actualDigest: nil, layout: nil, layers: 0)
            defer { report.images.append(check) }
            guard observed[file] != nil else { continue }
            guard let result = imageResults[file] else {
                problem(VerificationProblem(.imageArchive, path: file,
                                            "image archive was not inspected (it came before MANIFEST.json or was rejected)"))
                continue
            }
            switch result {
            case .failure(let reason):
                problem(VerificationProblem(.imageArchive, path: file, "image archive \(reason)"))
            case .success(let summary):
                check.actualDigest = summary.configDigest
                check.layout = summary.layout.rawValue
                check.layers = summary.layerCount
                if summary.configDigest != image.digest {
                    problem(VerificationProblem(.imageDigest, path: file, expected: image.digest,
                                                actual: summary.configDigest,
                                                "image config inside the archive does not hash to images[].digest"))
                }
                if let manifestDigest = image.manifestDigest, !summary.manifestDigests.contains(manifestDigest) {
                    problem(VerificationProblem(.imageDigest, path: file, expected: manifestDigest,
                                                actual: summary.manifestDigests.first ?? "no index.json",
                                                "the archive's index.json does not name images[].manifest_digest"))
                }
                if let diffIDs = image.diffIDs, diffIDs != summary.diffIDs {
                    problem(VerificationProblem(.imageDigest, path: file, expected: diffIDs.joined(separator: ","),
                                                actual: summary.diffIDs.joined(separator: ","),
                                                "the image config's rootfs.diff_ids differ from images[].diff_ids"))
                }
            }
        }
    }
}
