import FrostbyteCrypto
import FoundationEssentials

/// The OCI 1.1 SBOM referrers of a format v2 layout (docs/FORMAT.md, "SBOM referrers"):
/// for each image, an artifact manifest (`artifactType: application/vnd.cyclonedx+json`,
/// the empty config `application/vnd.oci.empty.v1+json`, one layer = the image's SBOM
/// blob, `subject` = the image's manifest descriptor), stored as a blob and listed in
/// `index.json` after the images, as the image-spec advises for layouts without a
/// referrers API. Builders write these documents here, and only here; the verifier
/// checks them against the same definitions.
public enum OCIReferrer {
    public static let artifactType = "application/vnd.cyclonedx+json"
    public static let sbomMediaType = "application/vnd.cyclonedx+json"
    public static let emptyMediaType = "application/vnd.oci.empty.v1+json"
    /// The empty config blob: `{}` (OCI image-spec 1.1, "Guidance for an empty descriptor").
    public static let emptyData = Data("{}".utf8)
    public static let emptyDigest = "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"

    /// The empty config's descriptor.
    public static var emptyDescriptor: OCILayout.Descriptor {
        OCILayout.Descriptor(mediaType: emptyMediaType, digest: emptyDigest, size: Int64(emptyData.count))
    }

    /// The artifact manifest attaching the SBOM blob (`sbomDigest`, `sbomSize`) to the image
    /// manifest `subject`: compact JSON with sorted keys, so the same inputs give the same bytes.
    public static func manifestData(subject: OCILayout.Descriptor, sbomDigest: String, sbomSize: Int64) throws -> Data {
        let manifest = OCILayout.ImageManifest(
            config: emptyDescriptor,
            layers: [OCILayout.Descriptor(mediaType: sbomMediaType, digest: sbomDigest, size: sbomSize)],
            artifactType: artifactType,
            subject: OCILayout.Descriptor(mediaType: subject.mediaType, digest: subject.digest, size: subject.size))
        return try OCILayout.compactEncoder().encode(manifest)
    }

    /// The `index.json` entry of a referrer: its descriptor with `artifactType`, and under
    /// `org.opencontainers.image.ref.name` `<repository>:sha256-<subject hex>.sbom` (unique,
    /// never an image's reference, so OCI tools can address it; no `io.containerd.image.name`,
    /// so containerd and Docker do not take it for an image).
    public static func indexEntry(_ referrer: OCILayout.Descriptor, imageReference: String, subjectDigest: String)
        -> OCILayout.Descriptor
    {
        var entry = OCILayout.Descriptor(mediaType: OCILayout.manifestMediaType, digest: referrer.digest,
                                         size: referrer.size, artifactType: artifactType)
        entry.annotations = [OCILayout.refAnnotation: referenceName(imageReference, subjectDigest: subjectDigest)]
        return entry
    }

    /// `docker.io/frostbyte-demo/redis:1.0` + `sha256:ab…` → `docker.io/frostbyte-demo/redis:sha256-ab….sbom`.
    public static func referenceName(_ imageReference: String, subjectDigest: String) -> String {
        var repository = Substring(imageReference)
        if let at = repository.firstIndex(of: "@") { repository = repository[..<at] }
        let nameStart = repository.lastIndex(of: "/").map { repository.index(after: $0) } ?? repository.startIndex
        if let colon = repository[nameStart...].lastIndex(of: ":") { repository = repository[..<colon] }
        return "\(repository):sha256-\(subjectDigest.dropPrefix("sha256:")).sbom"
    }
}
