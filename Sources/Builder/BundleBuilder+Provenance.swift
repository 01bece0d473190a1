import FrostbyteCore
import FrostbyteCrypto
import FrostbyteArchive
import BundleFormat
import Stack
import FoundationEssentials

extension BundleBuilder {
    /// The `provenance/` entries of a signed v2 build (docs/FORMAT.md, "Provenance"):
    /// the folder and `provenance/build.intoto.json`, a DSSE envelope signed with `key`
    /// around an in-toto Statement v1 / SLSA provenance v1 whose subject is every file
    /// in `hashed` and whose resolved dependencies are the inputs: the spec, the compose
    /// file, each image (config digest) and each model.
    /// - Throws: `FileReadError` (spec or compose file unreadable), `SigningError`.
    func provenanceEntries(spec: BundleSpec, hashed: [BundleEntry], images: [Manifest.Image],
                           epoch: Int64, base: Manifest.Base?, key: SigningKey) throws -> [BundleEntry] {
        let files = hashed.compactMap { entry in entry.digest.map { (path: entry.path, sha256: $0) } }
        let byPath = Dictionary(files.map { ($0.path, $0.sha256) }, uniquingKeysWith: { first, _ in first })
        var dependencies = [
            BuildProvenance.ResourceDescriptor(name: "spec", uri: PathText.lastComponent(spec.specPath),
                                               sha256: try SHA256Hasher.hash(fileAt: spec.specPath).digest.hex),
            BuildProvenance.ResourceDescriptor(name: "compose", uri: Self.relative(spec.composePath, from: spec.specPath),
                                               sha256: try SHA256Hasher.hash(fileAt: spec.composePath).digest.hex),
        ]
        for (specImage, image) in zip(spec.images, images) {
            guard let config = SHA256Digest(prefixed: image.digest) else { continue }
            dependencies.append(.init(name: "image", uri: specImage.reference.normalized, sha256: config.hex,
                                      annotations: image.manifestDigest.map { ["manifest_digest": $0] }))
        }
        for model in spec.models {
            let path = "models/\(PathText.lastComponent(model.path))"
            guard let digest = byPath[path] else { continue }
            dependencies.append(.init(name: "model", uri: model.name, sha256: digest.hex))
        }
        var parameters = ["spec": PathText.lastComponent(spec.specPath), "format": request.format,
                          "source_date_epoch": String(epoch)]
        if let base { parameters["base_manifest_sha256"] = base.manifestSha256.hex }
        let payload = try BuildProvenance.statement(
            subject: BuildProvenance.subject(files), parameters: parameters, dependencies: dependencies,
            builder: request.builder, createdAt: BuildInputs.iso8601(epoch))
        let envelope = try DSSE.sign(payload: payload, key: key)
        return [
            BundleEntry(path: BuildProvenance.folder, source: .directory, mode: .executable),
            BundleEntry(path: BuildProvenance.path, source: .data(envelope), mode: .file,
                        digest: SHA256Hasher.hash(envelope), size: Int64(envelope.count)),
        ]
    }

    /// `path` relative to the folder of `spec` (`../compose/demo.yaml`), so the
    /// provenance names no machine path; the bare name when either is not absolute.
    static func relative(_ path: String, from spec: String) -> String {
        let target = URL(fileURLWithPath: path).standardizedFileURL.pathComponents
        let folder = URL(fileURLWithPath: spec).standardizedFileURL.deletingLastPathComponent().pathComponents
        guard target.first == "/", folder.first == "/" else { return PathText.lastComponent(path) }
        var common = 0
        while common < min(target.count - 1, folder.count), target[common] == folder[common] { common += 1 }
        return (Array(repeating: "..", count: folder.count - common) + target[common...]).joined(separator: "/")
    }
}
