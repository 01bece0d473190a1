import FrostbyteCore
import FrostbyteCrypto
import BundleFormat
import SBOM
import FoundationEssentials

/// `verify-bundle --rederive-sbom` (docs/FORMAT.md, "SBOMs"): while the verifier
/// streams a v2 bundle, scans each layer blob as `build` scanned it (the same
/// `LayerScanner`, in the same pass that hashes it: no second read) and keeps the
/// shipped `images[].sbom` files; `conclude()` then writes every image's SBOM again
/// from those scans and compares it byte for byte with the shipped one.
///
/// Guarantees: memory stays flat (a layer scan keeps only the few small files that
/// matter; a shipped SBOM is kept up to `sbomLimit` bytes); a difference is an
/// `sbom-rederived` problem naming the image, both digests and the first differing line.
public final class SBOMRederivation: VerificationObserver {
    public static let sbomLimit = 64 << 20

    private var manifest: Manifest?
    private var layerPaths: Set<String> = []
    private var sbomPaths: Set<String> = []
    private var scans: [String: LayerScan] = [:]
    private var shipped: [String: Data] = [:]
    private var oversized: Set<String> = []
    private var scanner: LayerScanner?
    private var collecting: Data?

    public init() {}

    public func manifestAccepted(_ manifest: Manifest) {
        self.manifest = manifest
        for image in manifest.images {
            for layer in image.layers ?? [] { layerPaths.insert(OCILayout.blobPath(layer)) }
            if let sbom = image.sbom { sbomPaths.insert(sbom) }
        }
        if let sbom = manifest.sbom { sbomPaths.insert(sbom) }
    }

    public func entryBegins(path: String, size: Int64) -> Bool {
        if layerPaths.contains(path) {
            // As `build` (LayerScanCollector): the smallest tar is its two end blocks.
            scanner = size >= 1024 ? LayerScanner() : nil
            return scanner != nil
        }
        guard sbomPaths.contains(path) else { return false }
        guard size <= Int64(Self.sbomLimit) else {
            oversized.insert(path)
            return false
        }
        collecting = Data()
        return true
    }

    public func entryData(_ bytes: UnsafeRawBufferPointer) {
        if let scanner { scanner.consume(bytes) } else { collecting?.append(contentsOf: bytes) }
    }

    public func entryEnds(path: String, digest: String) {
        if let scan = scanner?.scan { scans[digest] = scan }
        if let collecting { shipped[path] = collecting }
        scanner = nil
        collecting = nil
    }

    /// What the comparison found, after the verification pass.
    public struct Outcome: Sendable {
        public var problems: [VerificationProblem] = []
        public var warnings: [String] = []
        /// Image SBOMs written again and found byte-identical to the shipped ones.
        public var identical = 0
        /// The bundle SBOM was written again from MANIFEST.json and found byte-identical.
        public var bundleIdentical = false
    }

    /// Rederives every image's SBOM and compares it with the shipped file. An SBOM
    /// whose file or layers the bundle does not carry (absent, a delta's in_base
    /// layers) cannot be rederived: a warning (an absent file is already a
    /// `missing-file` problem of the verification).
    public func conclude() -> Outcome {
        var outcome = Outcome()
        guard let manifest else { return outcome }
        let images = manifest.images.filter { $0.sbom != nil }
        if images.isEmpty {
            outcome.warnings.append("--rederive-sbom: the bundle carries no SBOMs (format v1, or built before SBOMs existed)")
        }
        let carried = Set(manifest.files.filter(\.isCarried).map(\.path))
        var done = Set<String>()
        for image in images {
            let path = image.sbom!
            guard done.insert(path).inserted else { continue }
            if oversized.contains(path) {
                outcome.problems.append(VerificationProblem(
                    .sbomRederived, path: path, expected: "at most \(Self.sbomLimit >> 20) MiB", actual: "larger",
                    "the shipped SBOM of image \(image.name) is too large to compare"))
                continue
            }
            guard let shippedData = shipped[path] else { continue }
            let uncarried = (image.layers ?? []).filter { !carried.contains(OCILayout.blobPath($0)) }
            guard uncarried.isEmpty else {
                outcome.warnings.append("--rederive-sbom: \(path) not rederived: \(uncarried.count) layer(s) of "
                    + "\(image.name) are in the base bundle, not in this one")
                continue
            }
            let rederived: Data
            do {
                rederived = try ImageSBOMs.document(for: image, scans: scans, timestamp: manifest.createdAt,
                                                    builder: manifest.builder)
            } catch {
                outcome.problems.append(VerificationProblem(.sbomRederived, path: path,
                    "the SBOM of image \(image.name) could not be written again: \(error)"))
                continue
            }
            if rederived == shippedData {
                outcome.identical += 1
                continue
            }
            outcome.problems.append(VerificationProblem(
                .sbomRederived, path: path, expected: SHA256Hasher.hash(rederived).prefixed,
                actual: SHA256Hasher.hash(shippedData).prefixed,
                "the shipped SBOM of image \(image.name) is not the one its layers give; "
                    + Self.firstDifference(rederived, shippedData)))
        }
        concludeBundleSBOM(manifest, into: &outcome)
        return outcome
    }

    /// The bundle SBOM (`manifest.sbom`), written again from MANIFEST.json alone
    /// (`BundleSBOM.document(for:)`), must be byte-identical to the shipped one.
    private func concludeBundleSBOM(_ manifest: Manifest, into outcome: inout Outcome) {
        guard let path = manifest.sbom else { return }
        if oversized.contains(path) {
            outcome.problems.append(VerificationProblem(
                .sbomRederived, path: path, expected: "at most \(Self.sbomLimit >> 20) MiB", actual: "larger",
                "the shipped bundle SBOM is too large to compare"))
            return
        }
        guard let shippedData = shipped[path] else { return }  // absent: a missing-file problem already
        let rederived: Data
        do {
            rederived = try BundleSBOM.document(for: manifest)
        } catch {
            outcome.problems.append(VerificationProblem(.sbomRederived, path: path,
                "the bundle SBOM could not be written again: \(error)"))
            return
        }
        if rederived == shippedData {
            outcome.bundleIdentical = true
            return
        }
        outcome.problems.append(VerificationProblem(
            .sbomRederived, path: path, expected: SHA256Hasher.hash(rederived).prefixed,
            actual: SHA256Hasher.hash(shippedData).prefixed,
            "the shipped bundle SBOM is not the one MANIFEST.json gives; " + Self.firstDifference(rederived, shippedData)))
    }

    /// "first difference at line N: expected '…', found '…'" (lines cut to 120 characters).
    static func firstDifference(_ expected: Data, _ actual: Data) -> String {
        let left = String(decoding: expected, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false)
        let right = String(decoding: actual, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false)
        let index = (0..<min(left.count, right.count)).first { left[$0] != right[$0] } ?? min(left.count, right.count)
        func line(_ lines: [Substring]) -> String {
            index < lines.count ? "'\(lines[index].drop { $0 == " " }.prefix(120))'" : "end of file"
        }
        return "first difference at line \(index + 1): expected \(line(left)), found \(line(right))"
    }
}
