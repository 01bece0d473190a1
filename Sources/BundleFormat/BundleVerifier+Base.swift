import FrostbyteCore
import FrostbyteCrypto
import FoundationEssentials
import Glibc

/// A `--base` that cannot be read as a base bundle (exit status 2).
public enum BaseInputError: UserFacingError, Equatable {
    case notFound(path: String)
    case notABase(path: String, reason: String)

    public var message: String {
        switch self {
        case .notFound(let path):
            return "--base \(path) does not exist; pass the base bundle (.tar.zst or .tar), its extracted folder or its MANIFEST.json"
        case .notABase(let path, let reason):
            return "--base \(path) is not a bundle or a bundle's MANIFEST.json: \(reason)"
        }
    }

    public var exitStatus: ExitStatus { .badInput }
}

/// The MANIFEST.json of the release a delta bundle builds on, as given with
/// `--base`: its exact bytes (whose SHA-256 the delta pins) and their decoding.
///
/// Only MANIFEST.json is read (`BundleHead`): from a bundle file, its first entry (the
/// rest of the base is not read, let alone verified: verify the base bundle on its own
/// for that); from a folder, `<folder>/MANIFEST.json`; or a MANIFEST.json file itself.
public struct BundleBaseManifest: Sendable, Equatable {
    /// The path as given.
    public let source: String
    /// Exact bytes of the base's MANIFEST.json.
    public let data: Data
    public let manifest: Manifest

    /// - Parameters:
    ///   - data: the exact bytes of MANIFEST.json.
    ///   - manifest: their decoding.
    public init(source: String, data: Data, manifest: Manifest) {
        self.source = source; self.data = data; self.manifest = manifest
    }

    /// Reads the base's MANIFEST.json with `BundleHead`: from a bundle file
    /// (`.tar.zst`/`.tar`, its first entry only), an extracted bundle folder, or a
    /// MANIFEST.json file (a path ending in `.json`).
    /// - Throws: `BaseInputError` (exit status 2).
    public static func load(path: String) throws -> BundleBaseManifest {
        let head: (manifest: Manifest, bytes: Data)
        do {
            head = try BundleHead.manifest(at: path)
        } catch BundleInputError.notFound {
            throw BaseInputError.notFound(path: path)
        } catch let error as UserFacingError {
            throw BaseInputError.notABase(path: path, reason: error.message)
        }
        return BundleBaseManifest(source: path, data: head.bytes, manifest: head.manifest)
    }

    /// What a delta built on this base records of it (`Manifest.base`).
    public var record: Manifest.Base {
        Manifest.Base(bundleId: manifest.bundleId, name: manifest.name, version: manifest.version,
                      manifestSha256: SHA256Hasher.hash(data))
    }
}

extension VerificationSession {
    /// Delta bundles (docs/FORMAT.md, "Format v2"): entries marked `in_base` are not in
    /// the archive and are not reported missing; the report names the base they need.
    /// With `--base` (`self.base`), that base's MANIFEST.json must hash to
    /// `base.manifest_sha256`, carry `base.bundle_id`, and list every in_base entry
    /// with the same SHA-256 and size.
    func checkDelta(_ manifest: Manifest) {
        let inBase = manifest.files.filter { !$0.isCarried }
        guard let needed = manifest.base else {
            for file in inBase {
                problem(VerificationProblem(.base, path: file.path, expected: "carried, or a manifest that names its base",
                                            actual: "in_base", "marked in_base but the manifest names no base bundle, so the file is missing"))
            }
            if let base {
                report.warnings.append("--base \(base.source) ignored: \(report.source) is not a delta bundle")
            }
            return
        }
        if !manifest.isV2 {
            problem(VerificationProblem(.base, path: "MANIFEST.json", expected: Manifest.formatV2, actual: manifest.format,
                                        "only format v2 bundles can be deltas (base)"))
        }
        let bytes = inBase.reduce(Int64(0)) { $0 + $1.size }
        var check = BaseCheck(base: needed, inBaseFiles: inBase.count, inBaseBytes: bytes,
                              state: .unchecked, checkedAgainst: base?.source)
        defer { report.base = check }
        guard let base else {
            report.warnings.append("delta bundle: \(inBase.count) file\(inBase.count == 1 ? "" : "s") are left to base "
                                   + "\(needed.bundleId) and were not checked; pass --base BASE to check them")
            return
        }
        let before = report.problems.count
        let digest = SHA256Hasher.hash(base.data)
        if digest != needed.manifestSha256 {
            problem(VerificationProblem(.base, path: base.source, expected: needed.manifestSha256.hex, actual: digest.hex,
                                        "the base's MANIFEST.json does not hash to base.manifest_sha256: it is not the release this delta needs"))
        }
        let given = base.manifest
        if given.bundleId != needed.bundleId || given.name != needed.name || given.version != needed.version {
            problem(VerificationProblem(.base, path: base.source,
                                        expected: "\(needed.bundleId) (\(needed.name) \(needed.version))",
                                        actual: "\(given.bundleId) (\(given.name) \(given.version))",
                                        "the base bundle is not the one the delta names"))
        }
        var listed: [String: Manifest.File] = [:]
        for file in given.files { listed[file.path] = file }
        for file in inBase {
            guard let found = listed[file.path], found.isDirectory == file.isDirectory else {
                problem(VerificationProblem(.base, path: file.path, expected: "listed in the base", actual: "absent",
                                            "an in_base entry is not in the base bundle"))
                continue
            }
            if found.sha256 != file.sha256 || found.size != file.size {
                problem(VerificationProblem(.base, path: file.path,
                                            expected: "\(file.sha256?.hex ?? "folder"), \(file.size) bytes",
                                            actual: "\(found.sha256?.hex ?? "folder"), \(found.size) bytes",
                                            "the base holds a different file at this in_base path"))
            }
        }
        check.state = report.problems.count == before ? .ok : .mismatch
    }
}
