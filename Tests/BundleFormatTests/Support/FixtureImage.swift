import BundleFormat
import FrostbyteCrypto
import Foundation

/// Tiny hand-made `docker save` archives (no Docker needed).
enum FixtureImage {
    /// A legacy-layout archive: `<id>.json` config, `<layer>/layer.tar`, then
    /// `manifest.json` and `repositories` at the end, as Docker 20.10 writes them.
    static func legacy(tag: String = "demo/app:1.0", configExtra: String = "", in folder: String,
                       omitLayer: Bool = false) throws -> (archive: Data, digest: String) {
        let config = Data(#"{"architecture":"amd64","config":{"Cmd":["/bin/app"]},"os":"linux","rootfs":{"type":"layers","diff_ids":["sha256:\#(String(repeating: "0", count: 64))"]}\#(configExtra)}"#.utf8)
        let id = SHA256Hasher.hash(config).hex
        let layer = try layerTar(in: folder)
        let layerDir = SHA256Hasher.hash(layer).hex
        let manifest = Data(#"[{"Config":"\#(id).json","RepoTags":["\#(tag)"],"Layers":["\#(layerDir)/layer.tar"]}]"#.utf8)
        var entries: [FixtureEntry] = [.file("\(id).json", config), .directory("\(layerDir)/"),
                                       .file("\(layerDir)/VERSION", Data("1.0".utf8))]
        if !omitLayer { entries.append(.file("\(layerDir)/layer.tar", layer)) }
        entries += [.file("manifest.json", manifest), .file("repositories", Data("{}".utf8))]
        return (try tar(entries, in: folder), "sha256:\(id)")
    }

    /// An OCI-layout archive (Docker >= 25): blobs/sha256/*, index.json, oci-layout.
    static func oci(in folder: String) throws -> (archive: Data, digest: String) {
        let config = Data(#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#.utf8)
        let configHex = SHA256Hasher.hash(config).hex
        let layer = try layerTar(in: folder)
        let layerHex = SHA256Hasher.hash(layer).hex
        let manifest = Data(#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:\#(configHex)","size":\#(config.count)},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"sha256:\#(layerHex)","size":\#(layer.count)}]}"#.utf8)
        let manifestHex = SHA256Hasher.hash(manifest).hex
        let index = Data(#"{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:\#(manifestHex)","size":\#(manifest.count)}]}"#.utf8)
        let entries: [FixtureEntry] = [
            .directory("blobs/"), .directory("blobs/sha256/"),
            .file("blobs/sha256/\(configHex)", config), .file("blobs/sha256/\(layerHex)", layer),
            .file("blobs/sha256/\(manifestHex)", manifest), .file("index.json", index),
            .file("oci-layout", Data(#"{"imageLayoutVersion":"1.0.0"}"#.utf8)),
        ]
        return (try tar(entries, in: folder), "sha256:\(configHex)")
    }

    private static func layerTar(in folder: String) throws -> Data {
        try tar([.directory("bin/"), .file("bin/app", Data(repeating: 0x41, count: 3000), mode: 0o755)], in: folder)
    }

    static func tar(_ entries: [FixtureEntry], in folder: String) throws -> Data {
        let path = folder + "/tmp-\(UUID().uuidString).tar"
        defer { unlink(path) }
        try FixtureTarWriter.write(entries, to: path, zstd: false)
        return try Data(contentsOf: URL(fileURLWithPath: path))
    }
}
