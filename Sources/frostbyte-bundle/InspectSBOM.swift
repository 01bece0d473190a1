import FrostbyteCore
import BundleFormat
import SBOM
import ArgumentParser
import FoundationEssentials

/// `inspect --sbom [IMAGE]`: the packages of each image's SBOM, read from the bundle
/// (one pass over an archive, no extraction, no Docker). Each SBOM must hash to what
/// MANIFEST.json lists; it is still not a verification of the bundle.
struct SBOMInspection: Encodable {
    struct Image: Encodable {
        var name: String
        var sbom: String?
        var distribution: String?
        var packageCount: Int
        var packages: [SBOMSummary.Package]
        enum CodingKeys: String, CodingKey {
            case name, sbom, distribution, packages
            case packageCount = "package_count"
        }
    }
    /// The bundle SBOM (`sbom/bundle.cdx.json`): what it names, by component type.
    struct Bundle: Encodable {
        var sbom: String
        var images: Int
        var models: Int
        var files: Int
        /// The document itself (CycloneDX 1.6 JSON), in `--json` output.
        var document: JSONValue
    }
    var source: String
    var bundle: Bundle?
    var images: [Image]

    /// Reads the SBOMs of `manifest`'s images (only `image` when given: its reference as listed).
    /// - Throws: `UsageError`-style `InspectSBOMError`, `BundleFileReadError`, archive errors.
    static func read(path: String, manifest: Manifest, image: String?) throws -> SBOMInspection {
        var images = manifest.images
        if let image {
            images = images.filter { $0.name == image || "docker.io/" + $0.name == image }
            guard !images.isEmpty else {
                throw InspectSBOMError.noSuchImage(image, known: manifest.images.map(\.name))
            }
        }
        var wanted = Set(images.compactMap(\.sbom))
        if let sbom = manifest.sbom { wanted.insert(sbom) }
        let files = try BundleFileReader.read(path: path, wanted: wanted, manifest: manifest)
        var bundle: Bundle?
        if let sbom = manifest.sbom, let data = files[sbom] {
            guard let document = try? JSONDecoder().decode(JSONValue.self, from: data),
                  case .object(let root) = document, case .array(let components)? = root["components"] else {
                throw InspectSBOMError.notCycloneDX(sbom)
            }
            let types = components.map { component -> String in
                if case .object(let fields) = component, case .string(let type)? = fields["type"] { return type }
                return ""
            }
            bundle = Bundle(sbom: sbom, images: types.filter { $0 == "container" }.count,
                            models: types.filter { $0 == "machine-learning-model" }.count,
                            files: types.filter { $0 == "file" }.count, document: document)
        }
        return SBOMInspection(source: path, bundle: bundle, images: try images.map { image in
            guard let sbom = image.sbom, let data = files[sbom] else {
                return Image(name: image.name, sbom: image.sbom, distribution: nil, packageCount: 0, packages: [])
            }
            guard let summary = SBOMSummary(data) else { throw InspectSBOMError.notCycloneDX(sbom) }
            return Image(name: image.name, sbom: sbom, distribution: summary.distribution,
                         packageCount: summary.packages.count, packages: summary.packages)
        })
    }

    /// The images' packages as one SPDX 2.3 JSON document (`SPDXWriter`); images
    /// without an SBOM are left out.
    func spdx(_ manifest: Manifest) throws -> Data {
        let listed = Dictionary(manifest.images.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        return try SPDXWriter.document(
            bundleId: manifest.bundleId, created: manifest.createdAt,
            tool: (manifest.builder.name, manifest.builder.version),
            images: images.compactMap { image in
                guard image.sbom != nil, let digest = listed[image.name]?.manifestDigest else { return nil }
                return SPDXWriter.Image(name: image.name, manifestDigest: digest,
                                        summary: SBOMSummary(distribution: image.distribution, packages: image.packages))
            })
    }

    /// One line per image; with `detailed`, a table of its packages after it.
    func printHuman(detailed: Bool) {
        if let bundle {
            Console.out("bundle: \(bundle.images) image\(bundle.images == 1 ? "" : "s"), \(bundle.models) "
                        + "model\(bundle.models == 1 ? "" : "s"), \(bundle.files) other file\(bundle.files == 1 ? "" : "s")"
                        + "  (\(bundle.sbom))")
        }
        for image in images {
            guard let sbom = image.sbom else {
                Console.out("\(image.name): no SBOM (bundle built before SBOMs, or format v1)")
                continue
            }
            Console.out("\(image.name): \(image.packageCount) package\(image.packageCount == 1 ? "" : "s")"
                        + (image.distribution.map { " on \($0)" } ?? "") + "  (\(sbom))")
            guard detailed else { continue }
            for package in image.packages {
                func cell(_ text: String, _ width: Int) -> String { TextFormat.column(text, width: max(width, text.count + 2)) }
                Console.out("  " + cell(package.name, 32) + cell(package.version, 28) + cell(package.type, 5)
                            + (package.layer ?? "-"))
            }
        }
    }
}

/// `inspect --sbom --format`: the document formats besides the default summary.
enum SBOMOutputFormat: String, ExpressibleByArgument {
    case spdx
}

/// Bad `inspect --sbom` input.
enum InspectSBOMError: UserFacingError {
    case noSuchImage(String, known: [String])
    case notCycloneDX(String)
    case imageWithoutSBOM
    case splitBundle(String)

    var message: String {
        switch self {
        case .noSuchImage(let name, let known):
            return "inspect --sbom: the bundle has no image '\(name)'; its images are \(known.joined(separator: ", "))"
        case .imageWithoutSBOM:
            return "inspect: an IMAGE argument and --format need --sbom (inspect BUNDLE --sbom [IMAGE] [--format spdx])"
        case .splitBundle(let path):
            return "inspect --sbom reads a bundle file or folder, not the parts index \(path): join the parts first "
                + "(cat BUNDLE.part[0-9]* > BUNDLE)"
        case .notCycloneDX(let path):
            return "\(path) in the bundle is not a CycloneDX JSON document; run verify-bundle"
        }
    }

    var exitStatus: ExitStatus {
        if case .notCycloneDX = self { return .checkFailed }
        return .badInput
    }
}
