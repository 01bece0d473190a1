import FrostbyteCore
import FrostbyteCrypto
import BundleFormat
import ArgumentParser
import FoundationEssentials
import Glibc

extension FrostbyteBundle {
    /// `inspect`: what a bundle says about itself, read from its manifest only.
    struct Inspect: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "inspect",
            abstract: "Show a bundle's name, version, id, signature, images, models and networks.",
            discussion: """
                Reads MANIFEST.json (the first entries) without a full pass, so it is fast but \
                is not a verification: use verify-bundle for that. A bundle carries only the \
                signature, not the signer's key; with --trust the matching key's fingerprint \
                (SHA-256 of its DER SubjectPublicKeyInfo) is shown.
                """)

        @Argument(help: "The bundle file, its extracted folder, or a split bundle's .parts.json.", completion: .file())
        var bundle: String?

        @Option(name: .customLong("trust"), help: ArgumentHelp(
            "Ed25519 public key (PEM) to check the signature against; repeatable.", valueName: "PUB"),
            completion: .file())
        var trust: [String] = []

        @Argument(help: "With --sbom: only this image (its reference as the bundle lists it), its packages listed.")
        var image: String?

        @Flag(help: "Show the packages of each image's SBOM (one line per image; with IMAGE, its packages).")
        var sbom = false

        @Option(help: ArgumentHelp("With --sbom: print the packages as one SPDX 2.3 JSON document.", valueName: "spdx"))
        var format: SBOMOutputFormat?

        @Flag(help: "Print one JSON document on stdout.")
        var json = false

        func run() async throws {
            try await runReportingErrors {
                guard let bundle else { throw UsageError.missingBundle(command: "inspect") }
                let keys = try trust.map { try TrustedKey(contentsOf: $0) }
                let facts = try BundleVerifier.inspect(path: bundle, trust: keys)
                if sbom || image != nil || format != nil {
                    guard sbom else { throw InspectSBOMError.imageWithoutSBOM }
                    guard !SplitPartsIndex.isIndexPath(bundle) else { throw InspectSBOMError.splitBundle(bundle) }
                    _ = facts
                    let manifest = try BundleFileReader.manifest(path: bundle)
                    let found = try SBOMInspection.read(path: bundle, manifest: manifest, image: image)
                    if format == .spdx {
                        FileDescriptorIO.writeStandardOutput(try found.spdx(manifest))
                    } else if json { try Console.json(found) } else { found.printHuman(detailed: image != nil) }
                    return
                }
                if json {
                    try Console.json(facts)
                } else {
                    printHuman(facts)
                }
            }
        }

        private func printHuman(_ facts: BundleInspection) {
            func row(_ label: String, _ value: String) {
                Console.out(TextFormat.column(label, width: 12) + value)
            }
            row("name:", facts.name)
            row("version:", facts.version)
            row("bundle_id:", facts.bundleId)
            row("kind:", facts.kind.rawValue)
            row("created_at:", facts.createdAt)
            row("builder:", "\(facts.builder.name) \(facts.builder.version)")
            var signature = signatureText(facts.signature)
            if facts.signature.state == .signedUnchecked { signature += " (pass --trust PUB to check it)" }
            row("signature:", signature)
            if let project = facts.project { row("project:", project) }
            for network in facts.networks {
                row("network:", "\(network.name) \(network.subnet)\(network.internal ? " internal" : "")")
            }
            if let source = facts.exportSource { printSource(source) }
            Console.out(facts.images.isEmpty ? "images:     none" : "images:")
            for image in facts.images {
                if let layerCount = image.layerCount {
                    let layers = "\(layerCount) layer\(layerCount == 1 ? "" : "s")"
                    Console.out("  \(image.name)  \(image.digest)  manifest \(image.manifestDigest ?? "-")  "
                                + "\(layers)  \(image.size.map(formatBytes) ?? "-")")
                } else {
                    Console.out("  \(image.name)  \(image.file ?? "images/")  \(image.size.map(formatBytes) ?? "-")  \(image.digest)")
                }
            }
            if let blobs = facts.blobs {
                var line = "\(blobs.count) (\(formatBytes(blobs.bytes))), each stored once: "
                    + "saves \(formatBytes(blobs.dedupSaving)) of \(formatBytes(blobs.imageBytes))"
                if blobs.inBase > 0 { line += "; \(blobs.inBase) (\(formatBytes(blobs.inBaseBytes))) in the base" }
                row("blobs:", line)
            }
            Console.out(facts.models.isEmpty ? "models:     none" : "models:")
            for model in facts.models {
                Console.out("  \(model.name)  \(model.path)  \(formatBytes(model.size))  sha256:\(model.sha256.hex)")
            }
            row("files:", "\(facts.fileCount) (\(formatBytes(facts.totalSize)))")
            if let base = facts.base {
                row("base:", "\(base.bundleId) (MANIFEST.json sha256 \(base.manifestSha256.hex))")
                row("", "delta: \(base.filesInBase) files (\(formatBytes(base.bytesInBase))) are left to the base")
            }
            if let parts = facts.parts {
                row("parts:", "\(parts.count) of at most \(formatBytes(parts.partSize)), \(formatBytes(parts.size)) joined (\(parts.bundle)); index \(signatureText(parts.signature))")
            }
        }

        /// The provenance of an export bundle: the release it came from and, per data
        /// file, the step that produced it (the command shell-quoted, as one line).
        private func printSource(_ source: Manifest.ExportSource) {
            func row(_ label: String, _ value: String) {
                Console.out("  " + TextFormat.column(label, width: 12) + value)
            }
            Console.out("source:")
            row("bundle_id:", source.bundleId)
            row("project:", source.project)
            row("host:", source.host)
            Console.out(source.steps.isEmpty ? "  steps:      none" : "  steps:")
            for step in source.steps {
                Console.out("    \(step.path)  service=\(step.service)  exit=\(step.exitStatus)")
                Console.out("      \(step.command.map(shellQuoted).joined(separator: " "))")
            }
        }
    }
}

/// `word` as a POSIX shell reads it back: unchanged when it holds only characters
/// that need no quoting, else in single quotes (an inner `'` written as `'\''`).
private func shellQuoted(_ word: String) -> String {
    let plain = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-./=:,+@%")
    if !word.isEmpty, word.allSatisfy({ plain.contains($0) }) { return word }
    return "'" + word.replacing("'", with: "'\\''") + "'"
}
