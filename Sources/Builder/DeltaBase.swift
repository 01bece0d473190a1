import FrostbyteCore
import FrostbyteCrypto
import BundleFormat
import Stack
import FoundationEssentials

/// Why `build --base` cannot make a delta.
public enum DeltaBaseError: UserFacingError, Equatable {
    case otherBundle(path: String, base: String, spec: String)
    case sameVersion(path: String, version: String)
    case needsV2

    public var message: String {
        switch self {
        case .otherBundle(let path, let base, let spec):
            return "the base \(path) is bundle '\(base)', but the spec builds '\(spec)'; a delta needs an earlier release of the same bundle"
        case .sameVersion(let path, let version):
            return "the base \(path) is version \(version), the version the spec builds; a delta needs an earlier release"
        case .needsV2:
            return "--base needs format v2 (delta bundles leave out blobs the base has); drop --format v1"
        }
    }

    public var exitStatus: ExitStatus { .badInput }
}

/// The release a delta bundle builds on (`build --base`): its manifest, read from a
/// bundle's head or a MANIFEST.json, and what the delta may therefore leave out.
struct DeltaBase {
    /// What the delta's manifest records of the base, under the signature.
    let record: Manifest.Base
    /// The base's regular files: path → (sha256, size).
    private let files: [String: (SHA256Digest, Int64)]

    /// - Throws: `DeltaBaseError`, `BaseInputError` (unreadable base; exit 2).
    init(path: String, spec: BundleSpec, format: String) throws {
        guard format == Manifest.formatV2 else { throw DeltaBaseError.needsV2 }
        let base = try BundleBaseManifest.load(path: path)
        let manifest = base.manifest
        guard manifest.kind == .stack, manifest.name == spec.name else {
            throw DeltaBaseError.otherBundle(path: path, base: manifest.name, spec: spec.name)
        }
        guard manifest.version != spec.version else { throw DeltaBaseError.sameVersion(path: path, version: spec.version) }
        record = base.record
        var files: [String: (SHA256Digest, Int64)] = [:]
        for file in manifest.files { if let sha256 = file.sha256 { files[file.path] = (sha256, file.size) } }
        self.files = files
    }

    /// `entries` with every regular file the base has at the same path with the same
    /// digest and size marked `inBase` (listed in the manifest, left out of the archive).
    func markingInBase(_ entries: [BundleEntry]) -> [BundleEntry] {
        entries.map { entry in
            var entry = entry
            if let digest = entry.digest, let size = entry.size, let known = files[entry.path],
               known.0 == digest, known.1 == size {
                entry.inBase = true
            }
            return entry
        }
    }
}
