import FrostbyteCrypto
import FrostbyteArchive
import FoundationEssentials
import Glibc

/// An image archive the verifier has finished checking while the rest of the
/// bundle still streams, and extracted into the staging folder: the installer's
/// cue to start `docker load` of it early.
///
/// Guarantees when `BundleVerifier` hands one out: the archive entry is complete,
/// its every byte hashed to `image.sha256` of the manifest it comes with (the bytes
/// in `manifestData`), its size is `image.size`, the manifest's `files[]` lists the
/// same path with the same digest and size, the `docker save` archive inside was
/// inspected and its config hashes to `image.digest` (its index.json names
/// `image.manifestDigest` and its diff IDs are `image.diffIDs`, when the manifest
/// records them: the same image checks as the final report), no problem of any kind has
/// been found in the bundle so far, every file before it matched the manifest, and
/// the extracted file at `path` is written,
/// fsynced and closed. `signature` is the state of MANIFEST.json.sig as far as it
/// has been seen (it directly follows MANIFEST.json, so it is known by then). The
/// rest of the bundle may still fail: the caller applies its own signature policy
/// and must undo what it did with the file if the final report is not verified.
///
/// For a format v2 image (`image.archiveFile` nil) the promises are about its blobs: every
/// blob of the image that the bundle carries (manifest, config, layers) is complete,
/// hashed to its name and to `files[]`, and extracted; the manifest blob names the
/// image's config and layers, and the config's `rootfs.diff_ids` are the layers.
/// `path` is then the staging folder's root (the blobs are under `images/blobs/sha256/`).
public struct VerifiedImage: Sendable {
    public var image: Manifest.Image
    /// The extracted archive inside the staging folder (v1), or the staging folder (v2).
    public var path: String
    public var manifestData: Data
    public var signature: SignatureStatus.State
}

extension VerificationSession {
    /// Hands `onVerifiedImage` the image entry at `path` when it meets every promise
    /// of `VerifiedImage`; does nothing otherwise (the entry is then only judged at
    /// the end, as before).
    func announceIfVerified(path: String, digest: SHA256Digest, size: Int64, written: Bool,
                            inspection: Result<ImageArchiveSummary, ImageArchiveProblem>?) {
        guard let onVerifiedImage, written, report.problems.isEmpty,
              let manifest, let manifestData, let extractor,
              let image = manifest.images.first(where: { $0.archiveFile == path }),
              image.sha256 == digest, image.size == size,
              manifest.files.contains(where: { $0.path == path && !$0.isDirectory && $0.sha256 == digest && $0.size == size }),
              case .success(let summary)? = inspection, summary.configDigest == image.digest,
              image.manifestDigest.map(summary.manifestDigests.contains) ?? true,
              image.diffIDs.map({ $0 == summary.diffIDs }) ?? true
        else { return }
        // Every file seen so far must already match the manifest: a bundle damaged
        // earlier on will fail, so nothing of it is worth loading.
        for (seenPath, entry) in observed where !entry.isDirectory && !Self.metaFiles.contains(seenPath) {
            guard let file = listedFiles[seenPath], file.sha256 == entry.digest, file.size == entry.size else { return }
        }
        onVerifiedImage(VerifiedImage(image: image, path: "\(extractor.stagingPath)/\(path)",
                                      manifestData: manifestData, signature: signatureStateSoFar(manifestData)))
    }

    /// Format v2: after a blob entry, hands `onVerifiedImage` every image not yet
    /// announced whose carried blobs are now all in, when it meets every promise of
    /// `VerifiedImage` (v2); does nothing otherwise (the image then loads after the pass).
    func announceCompleteV2Images(written: Bool) {
        guard let onVerifiedImage, written, report.problems.isEmpty,
              let manifest, manifest.isV2, let manifestData, let extractor, let layout else { return }
        let listed = listedFiles
        for image in manifest.images where !announcedImages.contains(image.name) {
            guard let manifestDigest = image.manifestDigest, let layers = image.layers else { continue }
            let blobs = [manifestDigest, image.digest] + layers
            let ready = blobs.allSatisfy { digest in
                let path = OCILayout.blobPath(digest)
                guard let file = listed[path] else { return false }
                if !file.isCarried { return observed[path] == nil }
                guard let entry = observed[path], let sha256 = entry.digest else { return false }
                return sha256.prefixed == digest && file.sha256 == sha256 && file.size == entry.size
            }
            guard ready,
                  let manifestBlob = layout.documents[OCILayout.blobPath(manifestDigest)],
                  let parsed = OCILayout.parseManifest(manifestBlob),
                  parsed.config.digest == image.digest, parsed.layers.map(\.digest) == layers,
                  let config = layout.documents[OCILayout.blobPath(image.digest)],
                  OCILayout.parseDiffIDs(config: config) == layers
            else { continue }
            // Every file seen so far matches the manifest, and every blob its name.
            for (seenPath, entry) in observed where !entry.isDirectory && !Self.metaFiles.contains(seenPath) {
                guard let file = listed[seenPath], file.sha256 == entry.digest, file.size == entry.size else { return }
                if LayoutState.isBlobArea(seenPath),
                   OCILayout.digest(ofBlobPath: seenPath) != entry.digest?.prefixed { return }
            }
            announcedImages.insert(image.name)
            onVerifiedImage(VerifiedImage(image: image, path: extractor.stagingPath, manifestData: manifestData,
                                          signature: signatureStateSoFar(manifestData)))
        }
    }

    /// The signature's state from what has streamed so far (the same rules as the
    /// final report: trusted only when a `--trust` key verifies MANIFEST.json.sig).
    private func signatureStateSoFar(_ manifestData: Data) -> SignatureStatus.State {
        guard let signature = signatureData else { return .unsigned }
        guard !trust.isEmpty else { return .signedUnchecked }
        return trust.contains { $0.key.isValidSignature(signature, for: manifestData) } ? .trusted : .untrusted
    }
}
