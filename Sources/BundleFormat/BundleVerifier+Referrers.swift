import FrostbyteCrypto
import FoundationEssentials

extension VerificationSession {
    /// The blobs an image's SBOM referrer uses (artifact manifest, empty config, SBOM blob),
    /// with the media types `blobs[]` must give them; none without `sbom_referrer`.
    func referrerUses(_ image: Manifest.Image, files: [String: Manifest.File]) -> [(String, String, String)] {
        guard let referrer = image.sbomReferrer else { return [] }
        var uses = [(referrer, OCILayout.manifestMediaType, "SBOM referrer"),
                    (OCIReferrer.emptyDigest, OCIReferrer.emptyMediaType, "SBOM referrer config")]
        if let sbom = image.sbom, let digest = files[sbom]?.sha256 {
            uses.append((digest.prefixed, OCIReferrer.sbomMediaType, "SBOM"))
        }
        return uses
    }

    /// docs/FORMAT.md, "SBOM referrers": the artifact manifest `images[].sbom_referrer` names
    /// is an OCI 1.1 artifact manifest of type CycloneDX, with the empty config, whose one
    /// layer is the image's SBOM file (`images[].sbom`: same SHA-256 and size as `files[]`
    /// gives it) and whose `subject` is the image's manifest. Each failure is an
    /// `sbom-referrer` problem naming the image and what differs.
    func checkReferrer(_ image: Manifest.Image, byDigest: [String: Manifest.Blob], files: [String: Manifest.File],
                       layout: LayoutState) {
        guard let referrer = image.sbomReferrer else { return }
        let path = OCILayout.blobPath(referrer)
        func refuse(_ expected: String, _ actual: String, _ message: String) {
            problem(VerificationProblem(.sbomReferrer, path: path, expected: expected, actual: actual,
                                        "the SBOM referrer of image \(image.name) \(message)"))
        }
        guard let sbom = image.sbom, let sbomFile = files[sbom], let sbomDigest = sbomFile.sha256 else {
            refuse("images[].sbom listed in files[]", image.sbom ?? "no sbom",
                   "attaches an SBOM the image does not list")
            return
        }
        guard let data = document(path, files: files, layout: layout, check: .sbomReferrer,
                                  what: "the SBOM referrer of image \(image.name)") else { return }
        guard let parsed = OCILayout.parseManifest(data) else {
            refuse("an OCI 1.1 artifact manifest", "other JSON", "is not an OCI image manifest")
            return
        }
        if parsed.schemaVersion != 2 || parsed.mediaType != OCILayout.manifestMediaType
            || parsed.artifactType != OCIReferrer.artifactType {
            refuse("schemaVersion 2, \(OCILayout.manifestMediaType), artifactType \(OCIReferrer.artifactType)",
                   "schemaVersion \(parsed.schemaVersion), \(parsed.mediaType ?? "no mediaType"), "
                       + "artifactType \(parsed.artifactType ?? "none")", "is not a CycloneDX artifact manifest")
        }
        if parsed.config != OCIReferrer.emptyDescriptor {
            refuse("\(OCIReferrer.emptyMediaType) \(OCIReferrer.emptyDigest)",
                   "\(parsed.config.mediaType) \(parsed.config.digest)", "does not use the empty config")
        }
        let expectedLayer = OCILayout.Descriptor(mediaType: OCIReferrer.sbomMediaType, digest: sbomDigest.prefixed,
                                                 size: sbomFile.size)
        if parsed.layers != [expectedLayer] {
            refuse("one layer: \(sbom) (\(sbomDigest.prefixed), \(sbomFile.size) bytes)",
                   parsed.layers.map { "\($0.digest) \($0.size) bytes" }.joined(separator: ", "),
                   "does not carry the image's SBOM file")
        }
        let manifestDigest = image.manifestDigest ?? ""
        let subject = OCILayout.Descriptor(mediaType: OCILayout.manifestMediaType, digest: manifestDigest,
                                           size: byDigest[manifestDigest]?.size ?? -1)
        if parsed.subject != subject {
            refuse("subject \(manifestDigest) (\(subject.size) bytes)",
                   parsed.subject.map { "subject \($0.digest) (\($0.size) bytes)" } ?? "no subject",
                   "refers to another manifest than the image's")
        }
    }

    /// Each referrer is named in `images/index.json` as an artifact of type CycloneDX under
    /// its own `org.opencontainers.image.ref.name`, never as an image (`io.containerd.image.name`).
    func checkReferrerEntries(_ manifest: Manifest, index: OCILayout.Index, byDigest: [String: Manifest.Blob]) {
        for image in manifest.images {
            guard let referrer = image.sbomReferrer, let manifestDigest = image.manifestDigest else { continue }
            let name = OCIReferrer.referenceName(ReferenceName.normalized(image.name), subjectDigest: manifestDigest)
            let size = byDigest[referrer]?.size ?? -1
            guard let entry = index.manifests.first(where: { $0.digest == referrer
                    && $0.annotations?[OCILayout.refAnnotation] == name }) else {
                problem(VerificationProblem(.ociIndex, path: OCILayout.indexPath, expected: "\(referrer) as \(name)",
                                            actual: "not named", "images/index.json does not name image \(image.name)'s SBOM referrer"))
                continue
            }
            if entry.mediaType != OCILayout.manifestMediaType || entry.artifactType != OCIReferrer.artifactType
                || entry.size != size || entry.annotations?[OCILayout.nameAnnotation] != nil {
                problem(VerificationProblem(.ociIndex, path: OCILayout.indexPath,
                                            expected: "\(OCILayout.manifestMediaType), artifactType \(OCIReferrer.artifactType), "
                                                + "\(size) bytes, no \(OCILayout.nameAnnotation)",
                                            actual: "\(entry.mediaType), artifactType \(entry.artifactType ?? "none"), "
                                                + "\(entry.size) bytes",
                                            "images/index.json describes image \(image.name)'s SBOM referrer wrongly"))
            }
        }
    }
}
