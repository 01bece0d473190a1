import FrostbyteCore
import BundleFormat
import Stack
import Engine
import InstallationState
import Isolation
import FoundationEssentials
import Glibc

/// Reads MANIFEST.json from the head of a bundle without extracting anything, for the
/// preflight (sizes, project, subnet, bundle_id). The manifest is *not* trusted here:
/// the verifier checks it (and its signature) before anything is installed.
public enum BundlePeek {
    /// The largest manifest this reads (a manifest lists files, it is never huge).
    static let manifestLimit = 16 << 20

    /// The manifest and its exact bytes, from the first entries of `path`. For a split
    /// bundle (`.parts.json`) the parts are checked first (`manifest(ofPartsAt:trust:)`).
    /// - Throws: `InstallError.notABundle` when the file is not a bundle.
    public static func manifest(ofBundleAt path: String, trust: [TrustedKey] = []) throws -> (manifest: Manifest, bytes: Data) {
        var isFolder = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isFolder), isFolder {
            guard let data = FileManager.default.contents(atPath: "\(path)/MANIFEST.json") else {
                throw InstallError.notABundle(path: path, detail: "the folder has no readable MANIFEST.json")
            }
            do { return (try ManifestCoding.decodeManifest(data), data) } catch {
                throw InstallError.notABundle(path: path, detail: "\(error)")
            }
        }
        if SplitPartsIndex.isIndexPath(path) { return try manifest(ofPartsAt: path, trust: trust) }
        return try manifest(ofArchiveAt: path)
    }

    /// The manifest from the head of a bundle file (or of a split bundle's first part).
    static func manifest(ofArchiveAt path: String) throws -> (manifest: Manifest, bytes: Data) {
        let reader: ArchiveReader
        do {
            reader = try ArchiveReader(path: path)
        } catch {
            throw InstallError.notABundle(path: path, detail: "\(error)")
        }
        // Format v1 puts MANIFEST.json first, after at most the root folder entry.
        for _ in 0..<2 {
            let header: ArchiveEntryHeader?
            do { header = try reader.nextEntry() } catch {
                throw InstallError.notABundle(path: path, detail: "\(error)")
            }
            guard let header else { break }
            guard header.kind == .regular, let entryPath = header.utf8Path,
                  entryPath.split(separator: "/").count == 2, entryPath.hasSuffix("/MANIFEST.json") else { continue }
            guard header.size <= manifestLimit else {
                throw InstallError.notABundle(path: path, detail: "MANIFEST.json is larger than \(manifestLimit) bytes")
            }
            var data = Data()
            let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 16, alignment: 16)
            defer { buffer.deallocate() }
            do {
                while true {
                    let count = try reader.readData(into: buffer)
                    if count == 0 { break }
                    data.append(contentsOf: UnsafeRawBufferPointer(rebasing: buffer[0..<count]))
                    guard data.count <= manifestLimit else {
                        throw InstallError.notABundle(path: path, detail: "MANIFEST.json is larger than declared")
                    }
                }
                return (try ManifestCoding.decodeManifest(data), data)
            } catch let error as InstallError {
                throw error
            } catch {
                throw InstallError.notABundle(path: path, detail: "\(error)")
            }
        }
        throw InstallError.notABundle(path: path, detail: "MANIFEST.json is not the first entry")
    }
}
