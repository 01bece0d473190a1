import FrostbyteCrypto
import FoundationEssentials
import Glibc

/// What a verification pass keeps of a format v2 bundle's OCI layout while it
/// streams: which paths are blobs (`blobs[]`), and the small documents it needs to
/// read afterwards (`images/index.json`, each image's manifest and config blob),
/// each up to `documentLimit` bytes and `documentBudget` in all. Layers are only
/// hashed, so memory does not grow with image size.
final class LayoutState {
    static let documentLimit = 4 << 20
    static let documentBudget = 64 << 20

    let blobsByPath: [String: Manifest.Blob]
    private let wanted: Set<String>
    private(set) var documents: [String: Data] = [:]
    /// Wanted documents that were too large to keep (over the limit or the budget).
    private(set) var oversized: Set<String> = []
    private var keptBytes = 0

    init(_ manifest: Manifest) {
        var blobs: [String: Manifest.Blob] = [:]
        for blob in manifest.blobs ?? [] where OCILayout.digest(ofBlobPath: blob.path) != nil {
            blobs[blob.path] = blob
        }
        blobsByPath = blobs
        var wanted: Set<String> = [OCILayout.indexPath]
        for image in manifest.images {
            if let manifestDigest = image.manifestDigest { wanted.insert(OCILayout.blobPath(manifestDigest)) }
            wanted.insert(OCILayout.blobPath(image.digest))
            if let referrer = image.sbomReferrer { wanted.insert(OCILayout.blobPath(referrer)) }
        }
        if let provenance = manifest.provenance { wanted.insert(provenance) }
        self.wanted = wanted
    }

    /// True for a path under `images/blobs/sha256/`, where only `blobs[]` may be.
    static func isBlobArea(_ path: String) -> Bool {
        path.hasPrefix(OCILayout.blobFolder + "/")
    }

    /// How many bytes of the entry at `path` to collect (0: none).
    func collectLimit(path: String, size: Int64) -> Int {
        guard wanted.contains(path) else { return 0 }
        guard size <= Int64(Self.documentLimit), keptBytes + Int(size) <= Self.documentBudget else {
            oversized.insert(path)
            return 0
        }
        return Self.documentLimit
    }

    /// Keeps a collected document (nil when it overflowed the limit).
    func store(path: String, data: Data?) {
        guard let data else {
            oversized.insert(path)
            return
        }
        keptBytes += data.count
        documents[path] = data
    }
}

extension VerificationSession {
    /// Format v2 (docs/FORMAT.md, "What verify-bundle checks in v2"), after the last
    /// entry: blobs hash to their names and agree with `files[]`; every blob is used by
    /// an image and every blob an image uses is listed; `images/index.json` names each
    /// image's manifest with its reference; each manifest blob names the image's
    /// config and layers; each config's `rootfs.diff_ids` equal the layers.
    func checkLayout(_ manifest: Manifest, layout: LayoutState) {
        let blobs = manifest.blobs ?? []
        var files: [String: Manifest.File] = [:]
        for file in manifest.files { files[file.path] = file }
        let byDigest = checkBlobList(blobs, files: files)
        checkBlobFiles(manifest, files: files, layout: layout)
        var used = Set<String>()
        for image in manifest.images {
            guard let manifestDigest = image.manifestDigest, let layers = image.layers else {
                problem(VerificationProblem(.manifestField, path: "MANIFEST.json", expected: "manifest_digest and layers",
                                            actual: "absent", "format v2 image \(image.name) lacks manifest_digest or layers"))
                continue
            }
            checkSpecificationFields(image, manifestDigest: manifestDigest)
            let uses = [(manifestDigest, OCILayout.manifestMediaType, "manifest"),
                        (image.digest, OCILayout.configMediaType, "config")]
                + layers.map { ($0, OCILayout.layerMediaType, "layer") }
                + referrerUses(image, files: files)
            for (digest, mediaType, role) in uses {
                used.insert(digest)
                guard let blob = byDigest[digest] else {
                    problem(VerificationProblem(.manifestReference, path: OCILayout.blobPath(digest),
                                                expected: "listed in blobs[]", actual: "not listed",
                                                "image \(image.name) uses this \(role) blob but blobs[] does not list it"))
                    continue
                }
                if blob.mediaType != mediaType {
                    problem(VerificationProblem(.manifestReference, path: blob.path, expected: mediaType,
                                                actual: blob.mediaType, "blobs[] gives image \(image.name)'s \(role) another media type"))
                }
            }
            var check = ImageCheck(file: OCILayout.blobPath(manifestDigest), name: image.name, expectedDigest: image.digest,
                                   actualDigest: nil, layout: "oci", layers: layers.count, manifestDigest: manifestDigest)
            check.actualDigest = checkImageManifest(image, layers: layers, byDigest: byDigest, files: files, layout: layout)
            checkImageConfig(image, layers: layers, files: files, layout: layout)
            checkReferrer(image, byDigest: byDigest, files: files, layout: layout)
            report.images.append(check)
        }
        for blob in blobs where !used.contains(blob.digest) {
            problem(VerificationProblem(.blobUnreferenced, path: blob.path, expected: "used by an image",
                                        actual: "used by none", "blobs[] lists a blob that no image uses"))
        }
        checkIndex(manifest, byDigest: byDigest, files: files, layout: layout)
        let listedBlobs = blobs.filter { files[$0.path] != nil }
        report.blobs = BlobTally(listed: blobs.count,
                                 carried: listedBlobs.filter { observed[$0.path] != nil }.count,
                                 inBase: listedBlobs.filter { files[$0.path]?.isCarried == false }.count)
    }

    /// `images[].file` and `images[].sha256` (the bundle specification's image fields),
    /// when present, name the image's manifest blob and its hash; bundles built before
    /// they existed lack both, which is fine. (`checkReferences` compares them with `files[]`.)
    private func checkSpecificationFields(_ image: Manifest.Image, manifestDigest: String) {
        if let file = image.file, file != OCILayout.blobPath(manifestDigest) {
            problem(VerificationProblem(.manifestReference, path: file, expected: OCILayout.blobPath(manifestDigest),
                                        actual: file, "images[].file of \(image.name) is not its manifest blob"))
        }
        if let sha256 = image.sha256, sha256.prefixed != manifestDigest {
            problem(VerificationProblem(.manifestReference, path: image.file ?? OCILayout.blobPath(manifestDigest),
                                        expected: manifestDigest.dropPrefix("sha256:"), actual: sha256.hex,
                                        "images[].sha256 of \(image.name) is not its manifest_digest"))
        }
        if (image.file == nil) != (image.sha256 == nil) || image.size != nil {
            problem(VerificationProblem(.manifestField, path: "MANIFEST.json", expected: "file and sha256 together, no size",
                                        actual: "file \(image.file ?? "absent"), sha256 \(image.sha256?.hex ?? "absent")",
                                        "format v2 image \(image.name) has an incomplete file/sha256 pair or a size"))
        }
    }

    /// `blobs[]` is well formed and agrees with `files[]`; returns blobs by digest.
    private func checkBlobList(_ blobs: [Manifest.Blob], files: [String: Manifest.File]) -> [String: Manifest.Blob] {
        var byDigest: [String: Manifest.Blob] = [:]
        for blob in blobs {
            guard let named = OCILayout.digest(ofBlobPath: blob.path), named == blob.digest else {
                problem(VerificationProblem(.manifestInvalid, path: "MANIFEST.json", expected: "sha256:<64 lowercase hex>",
                                            actual: blob.digest, "blobs[] holds a malformed digest"))
                continue
            }
            guard byDigest[blob.digest] == nil else {
                problem(VerificationProblem(.manifestInvalid, path: blob.path, "blobs[] lists this blob twice"))
                continue
            }
            byDigest[blob.digest] = blob
            guard let file = files[blob.path], !file.isDirectory else {
                problem(VerificationProblem(.missingFile, path: blob.path, expected: "listed in files[]", actual: "not listed",
                                            "blobs[] lists a blob that files[] (and so the bundle) does not hold"))
                continue
            }
            if file.size != blob.size {
                problem(VerificationProblem(.manifestReference, path: blob.path, expected: "\(blob.size) bytes",
                                            actual: "\(file.size) bytes", "blobs[] and files[] give this blob different sizes"))
            }
        }
        return byDigest
    }

    /// Every file under `images/blobs/sha256/` is a `blobs[]` entry, named by the
    /// SHA-256 that `files[]` lists for it and that its content hashes to.
    private func checkBlobFiles(_ manifest: Manifest, files: [String: Manifest.File], layout: LayoutState) {
        var reported = Set<String>()
        for file in manifest.files where !file.isDirectory && LayoutState.isBlobArea(file.path) {
            if refusedPaths.contains(file.path) { continue }
            guard layout.blobsByPath[file.path] != nil else {
                reported.insert(file.path)
                problem(VerificationProblem(.blobUnreferenced, path: file.path, expected: "listed in blobs[]",
                                            actual: "not listed", "files[] lists a blob that blobs[] does not"))
                continue
            }
            let name = String(file.path.dropFirst(OCILayout.blobFolder.count + 1))
            if let digest = file.sha256, digest.hex != name {
                reported.insert(file.path)
                problem(VerificationProblem(.blobDigest, path: file.path, expected: "sha256:\(name)",
                                            actual: "sha256:\(digest.hex)",
                                            "files[] gives this blob a SHA-256 other than its name"))
            }
        }
        for (path, entry) in observed.sorted(by: { $0.key < $1.key })
        where !entry.isDirectory && LayoutState.isBlobArea(path) && !reported.contains(path) {
            let name = String(path.dropFirst(OCILayout.blobFolder.count + 1))
            if let digest = entry.digest, digest.hex != name {
                problem(VerificationProblem(.blobDigest, path: path, expected: "sha256:\(name)", actual: "sha256:\(digest.hex)",
                                            "the blob's content does not hash to its name"))
            }
        }
    }

    /// The document at `path` when the bundle carried it; reports an unusable one.
    /// Nil without a problem when it is left to the base or absent (reported elsewhere).
    func document(_ path: String, files: [String: Manifest.File], layout: LayoutState,
                          check: VerificationProblem.Check, what: String) -> Data? {
        if let data = layout.documents[path] { return data }
        if layout.oversized.contains(path) {
            problem(VerificationProblem(check, path: path, expected: "at most \(LayoutState.documentLimit >> 20) MiB",
                                        actual: "\(files[path]?.size ?? 0) bytes", "\(what) is too large to be read"))
        }
        return nil
    }

    /// The image's manifest blob names its config and layers; returns the config digest it names.
    private func checkImageManifest(_ image: Manifest.Image, layers: [String], byDigest: [String: Manifest.Blob],
                                    files: [String: Manifest.File], layout: LayoutState) -> String? {
        let path = OCILayout.blobPath(image.manifestDigest ?? "")
        guard let data = document(path, files: files, layout: layout, check: .imageManifest,
                                  what: "image \(image.name)'s manifest") else { return nil }
        guard let parsed = OCILayout.parseManifest(data) else {
            problem(VerificationProblem(.imageManifest, path: path, "image \(image.name)'s manifest blob is not an OCI image manifest"))
            return nil
        }
        func mismatch(_ expected: String, _ actual: String, _ message: String) {
            problem(VerificationProblem(.imageManifest, path: path, expected: expected, actual: actual,
                                        "image \(image.name)'s manifest blob \(message)"))
        }
        if parsed.schemaVersion != 2 || (parsed.mediaType.map { $0 != OCILayout.manifestMediaType } ?? false) {
            mismatch("schemaVersion 2, \(OCILayout.manifestMediaType)",
                     "schemaVersion \(parsed.schemaVersion), \(parsed.mediaType ?? "no mediaType")", "is not an OCI image manifest")
        }
        if parsed.config.digest != image.digest {
            mismatch(image.digest, parsed.config.digest, "names another config than images[].digest")
        } else if parsed.config.mediaType != OCILayout.configMediaType
                    || byDigest[image.digest].map({ $0.size != parsed.config.size }) == true {
            mismatch("\(OCILayout.configMediaType), \(byDigest[image.digest]?.size ?? 0) bytes",
                     "\(parsed.config.mediaType), \(parsed.config.size) bytes", "describes its config wrongly")
        }
        let named = parsed.layers.map(\.digest)
        if named != layers {
            mismatch(layers.joined(separator: ","), named.joined(separator: ","), "names other layers than images[].layers")
        } else {
            for layer in parsed.layers where layer.mediaType != OCILayout.layerMediaType
                || byDigest[layer.digest].map({ $0.size != layer.size }) == true {
                mismatch("\(OCILayout.layerMediaType), \(byDigest[layer.digest]?.size ?? 0) bytes",
                         "\(layer.mediaType), \(layer.size) bytes", "describes layer \(layer.digest) wrongly")
            }
        }
        return parsed.config.digest
    }

    /// The image's config blob lists its layers as `rootfs.diff_ids`.
    private func checkImageConfig(_ image: Manifest.Image, layers: [String], files: [String: Manifest.File],
                                  layout: LayoutState) {
        let path = OCILayout.blobPath(image.digest)
        guard let data = document(path, files: files, layout: layout, check: .imageConfig,
                                  what: "image \(image.name)'s config") else { return }
        guard let diffIDs = OCILayout.parseDiffIDs(config: data) else {
            problem(VerificationProblem(.imageConfig, path: path, "image \(image.name)'s config has no rootfs.diff_ids"))
            return
        }
        if diffIDs != layers {
            problem(VerificationProblem(.imageConfig, path: path, expected: layers.joined(separator: ","),
                                        actual: diffIDs.joined(separator: ","),
                                        "image \(image.name)'s config lists other rootfs.diff_ids than images[].layers"))
        }
    }

    /// `images/index.json` names exactly the images' manifests, each with its
    /// reference; `images/oci-layout` is the standard marker.
    private func checkIndex(_ manifest: Manifest, byDigest: [String: Manifest.Blob], files: [String: Manifest.File],
                            layout: LayoutState) {
        guard !manifest.images.isEmpty || !(manifest.blobs ?? []).isEmpty else { return }
        let marker = SHA256Hasher.hash(OCILayout.layoutFile)
        if files[OCILayout.layoutPath]?.sha256 != marker {
            problem(VerificationProblem(.ociIndex, path: OCILayout.layoutPath, expected: String(decoding: OCILayout.layoutFile, as: UTF8.self),
                                        actual: files[OCILayout.layoutPath] == nil ? "not listed" : "other content",
                                        "the OCI layout marker is missing or wrong"))
        }
        guard let indexFile = files[OCILayout.indexPath], !indexFile.isDirectory else {
            problem(VerificationProblem(.ociIndex, path: OCILayout.indexPath, expected: "listed in files[]",
                                        actual: "not listed", "a format v2 bundle must hold images/index.json"))
            return
        }
        guard let data = document(OCILayout.indexPath, files: files, layout: layout, check: .ociIndex, what: "index.json")
        else { return }
        guard let index = OCILayout.parseIndex(data) else {
            problem(VerificationProblem(.ociIndex, path: OCILayout.indexPath, "images/index.json is not an OCI image index"))
            return
        }
        var expected = Set<String>()
        for image in manifest.images {
            guard let manifestDigest = image.manifestDigest else { continue }
            expected.insert(manifestDigest)
            guard let entry = index.manifests.first(where: { $0.digest == manifestDigest }) else {
                problem(VerificationProblem(.ociIndex, path: OCILayout.indexPath, expected: "\(manifestDigest) for \(image.name)",
                                            actual: "not named", "images/index.json does not name image \(image.name)'s manifest"))
                continue
            }
            let annotated = entry.annotations?[OCILayout.nameAnnotation]
            if annotated.map({ ReferenceName.normalized($0) != ReferenceName.normalized(image.name) }) ?? true {
                problem(VerificationProblem(.ociIndex, path: OCILayout.indexPath, expected: ReferenceName.normalized(image.name),
                                            actual: annotated ?? "no \(OCILayout.nameAnnotation)",
                                            "images/index.json names image \(image.name)'s manifest under another reference"))
            }
            if entry.mediaType != OCILayout.manifestMediaType || byDigest[manifestDigest].map({ $0.size != entry.size }) == true {
                problem(VerificationProblem(.ociIndex, path: OCILayout.indexPath,
                                            expected: "\(OCILayout.manifestMediaType), \(byDigest[manifestDigest]?.size ?? 0) bytes",
                                            actual: "\(entry.mediaType), \(entry.size) bytes",
                                            "images/index.json describes image \(image.name)'s manifest wrongly"))
            }
        }
        checkReferrerEntries(manifest, index: index, byDigest: byDigest)
        expected.formUnion(manifest.images.compactMap(\.sbomReferrer))
        for entry in index.manifests where !expected.contains(entry.digest) {
            problem(VerificationProblem(.ociIndex, path: OCILayout.indexPath, expected: "only the images of images[]",
                                        actual: entry.digest, "images/index.json names a manifest no image of the bundle has"))
        }
    }
}

/// Image references compared the way Docker resolves them: `postgres`,
/// `postgres:latest`, `library/postgres` and `docker.io/library/postgres:latest`
/// are one image.
enum ReferenceName {
    /// `[host/]path[:tag][@digest]` with Docker Hub's defaults made explicit.
    static func normalized(_ reference: String) -> String {
        var rest = Substring(reference)
        var digest = ""
        if let at = rest.firstIndex(of: "@") {
            digest = String(rest[at...])
            rest = rest[..<at]
        }
        var tag = ""
        let nameStart = rest.lastIndex(of: "/").map { rest.index(after: $0) } ?? rest.startIndex
        if let colon = rest[nameStart...].lastIndex(of: ":") {
            tag = String(rest[colon...])
            rest = rest[..<colon]
        }
        var components = rest.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        var host = "docker.io"
        if components.count > 1, let first = components.first,
           first.contains(".") || first.contains(":") || first == "localhost" {
            host = first == "index.docker.io" ? "docker.io" : first
            components.removeFirst()
        }
        if host == "docker.io" && components.count == 1 { components.insert("library", at: 0) }
        if tag.isEmpty && digest.isEmpty { tag = ":latest" }
        return "\(host)/\(components.joined(separator: "/"))\(tag)\(digest)"
    }
}
