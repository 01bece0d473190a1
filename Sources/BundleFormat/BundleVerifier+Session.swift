import FrostbyteCrypto
import FrostbyteArchive
import FoundationEssentials
import Glibc

/// What the verifier saw of one entry.
struct ObservedEntry {
    var isDirectory: Bool
    var size: Int64
    var digest: SHA256Digest?
    var permissions: UInt32
}

/// The state of one verification pass. Entries are fed in archive order (or, for
/// a folder, MANIFEST.json, its signature and SHA256SUMS first, then the rest);
/// each is checked as it arrives and hashed as it streams, and `conclude()`
/// compares what was seen with the manifest. Memory grows with the number of
/// entries (paths and digests), never with their size.
final class VerificationSession {
    static let metaLimit = BundleHead.manifestLimit
    static let metaFiles = BundleHead.files

    var report: VerificationReport
    let trust: [TrustedKey]
    let extractor: SafeExtractor?
    /// Told about each image archive as soon as it is verified and extracted
    /// (`VerifiedImage`), on the verifying thread; nil when nobody asks.
    var onVerifiedImage: ((VerifiedImage) -> Void)?
    /// Sees the listed files as they stream (`VerificationObserver`); nil when nobody asks.
    var observer: VerificationObserver?
    /// Archives carry a root folder and strict modes; extracted folders do not.
    let isArchive: Bool

    var rootFolder: String?
    var manifest: Manifest?
    var manifestData: Data?
    var signatureData: Data?
    var sumsData: Data?
    var observed: [String: ObservedEntry] = [:]
    var lowercased: [String: String] = [:]
    var imageResults: [String: Result<ImageArchiveSummary, ImageArchiveProblem>] = [:]
    /// Format v2: the blobs and the small layout documents kept while streaming.
    var layout: LayoutState?
    /// v2 images already handed to `onVerifiedImage`.
    var announcedImages: Set<String> = []
    /// A delta's base (`--base`), whose MANIFEST.json the in_base entries are checked against.
    var base: BundleBaseManifest?
    /// An installed release folder: its `images/` was removed once the engine held the
    /// images, so image files that are absent are not problems (see `installedRelease`).
    var imagesInEngine = false
    /// With `imagesInEngine`: the listed `images/` entries that were absent.
    var imagesLeftToEngine = 0
    private var imagesByFile: [String: Manifest.Image] = [:]
    private(set) var listedFiles: [String: Manifest.File] = [:]
    /// Entries refused at their header (never read, hashed or written).
    private(set) var refusedPaths: Set<String> = []
    /// Set when an archive entry was refused at its header: the pass stops there, so a
    /// small hostile bundle cannot make the verifier (or the installer) read, hash
    /// or write gigabytes before it says no.
    private(set) var refusedAtHeader = false
    private var otherEntrySeen = false
    private var entriesSeen = 0
    private var rootEntrySeen = false

    init(report: VerificationReport, trust: [TrustedKey], extractor: SafeExtractor?, isArchive: Bool) {
        self.report = report
        self.trust = trust
        self.extractor = extractor
        self.isArchive = isArchive
    }

    func problem(_ problem: VerificationProblem) {
        report.problems.append(problem)
    }

    /// Checks and streams one entry. `isComplete` is asked after the data has been
    /// pulled: false when the archive stopped inside the entry (it is then not
    /// recorded, the archive problem says why).
    /// - Throws: read or write failures of the environment (`FileReadError`, `ExtractionError`).
    func process(_ header: ArchiveEntryHeader, data: ChunkSupplier, isComplete: () -> Bool) throws {
        entriesSeen += 1
        let place: EntryPlace
        switch EntryRules.place(of: header, root: rootFolder, hasRootFolder: isArchive) {
        case .failure(let found):
            problem(found)
            try drain(data)
            return
        case .success(let found):
            place = found
        }
        if isArchive && rootFolder == nil, let path = header.utf8Path {
            rootFolder = String(path.split(separator: "/").first ?? "")
        }
        guard case .inside(let path) = place else {
            if rootEntrySeen { problem(VerificationProblem(.duplicate, path: header.displayPath, "root folder entry appears twice")) }
            rootEntrySeen = true
            if let kind = EntryRules.modeProblem(header, path: header.displayPath, lenient: !isArchive) { problem(kind) }
            try drain(data)
            return
        }
        var acceptable = true
        var recordable = true
        if let found = EntryRules.kindProblem(header, path: path) { problem(found); acceptable = false }
        if let found = EntryRules.modeProblem(header, path: path, lenient: !isArchive) {
            problem(found)
            acceptable = acceptable && found.check == .mode
        }
        if observed[path] != nil {
            problem(VerificationProblem(.duplicate, path: path, "the path appears more than once"))
            acceptable = false
            recordable = false
        } else if let other = lowercased[path.lowercased()], other != path {
            problem(VerificationProblem(.caseCollision, path: path, expected: "unique names ignoring case",
                                        actual: "also \(other)", "names differ only by case"))
            acceptable = false
            recordable = false
        }
        checkOrder(path)
        if header.kind == .regular && !Self.metaFiles.contains(path) {
            // Nothing to check it against yet (MANIFEST.json must come first, which is
            // reported when it arrives), or already a problem: passed over unread.
            if manifest == nil || !recordable {
                try drain(data)
                return
            }
            if let refusal = refusal(header, path: path) {
                problem(refusal)
                refusedPaths.insert(path)
                if isArchive { refusedAtHeader = true } else { try drain(data) }
                return
            }
        }
        try stream(header, path: path, acceptable: acceptable, recordable: recordable, data: data,
                   isComplete: isComplete)
    }

    /// A regular file the signed manifest does not allow, judged from its header
    /// alone: one the manifest does not list (in v2: a blob `blobs[]` does not list),
    /// one a delta leaves to its base, or one larger than the manifest's size for it.
    private func refusal(_ header: ArchiveEntryHeader, path: String) -> VerificationProblem? {
        if let layout, LayoutState.isBlobArea(path), layout.blobsByPath[path] == nil {
            return VerificationProblem(.blobUnreferenced, path: path, expected: "listed in blobs[]",
                                       actual: "\(header.size) bytes",
                                       "refused at its header: blobs[] does not list this blob, so it is not read")
        }
        guard let listed = listedFiles[path] else {
            return VerificationProblem(.unlistedFile, path: path, expected: "listed in MANIFEST.json",
                                       actual: "\(header.size) bytes",
                                       "refused at its header: the manifest does not list this file, so it is not read")
        }
        // An archive must not carry what it leaves to its base; a folder may hold the
        // whole release (the delta's entries plus the base's), checked like any file.
        guard listed.isCarried || !isArchive else {
            return VerificationProblem(.unlistedFile, path: path, expected: "left out (in_base)",
                                       actual: "\(header.size) bytes",
                                       "refused at its header: the manifest leaves this file to the base bundle, so it is not read")
        }
        guard header.size <= listed.size else {
            return VerificationProblem(.size, path: path, expected: "\(listed.size) bytes", actual: "\(header.size) bytes",
                                       "refused at its header: larger than MANIFEST.json says, so it is not read")
        }
        return nil
    }

    private func checkOrder(_ path: String) {
        let isMeta = Self.metaFiles.contains(path)
        if path == "MANIFEST.json" && otherEntrySeen {
            problem(VerificationProblem(.manifestNotFirst, path: path, expected: "first entry",
                                        actual: "entry \(entriesSeen)",
                                        "MANIFEST.json must be the first entry so every later entry can be checked as it streams"))
        } else if isMeta && path != "MANIFEST.json" && otherEntrySeen {
            problem(VerificationProblem(.entryOrder, path: path, expected: "before the bundle's other files",
                                        actual: "entry \(entriesSeen)",
                                        "\(path) must directly follow MANIFEST.json"))
        }
        if !isMeta { otherEntrySeen = true }
    }

    private func stream(_ header: ArchiveEntryHeader, path: String, acceptable: Bool, recordable: Bool,
                        data: ChunkSupplier, isComplete: () -> Bool) throws {
        var writer: ExtractedFileWriter?
        if let extractor, acceptable {
            if header.kind == .directory {
                try extractor.makeDirectory(path, mode: header.permissions)
            } else if header.kind == .regular {
                writer = try extractor.createFile(path, mode: header.permissions)
            }
        }
        let isMeta = Self.metaFiles.contains(path)
        let documentLimit = (!isMeta && acceptable && recordable && header.kind == .regular)
            ? layout?.collectLimit(path: path, size: header.size) ?? 0 : 0
        let content = EntryContentStream(data, writer: writer,
                                         collectLimit: isMeta ? Self.metaLimit : documentLimit)
        let watched = !isMeta && acceptable && recordable && header.kind == .regular
            && observer?.entryBegins(path: path, size: header.size) == true
        if watched, let observer { content.onChunk = { observer.entryData($0) } }
        var inspection: Result<ImageArchiveSummary, ImageArchiveProblem>?
        if acceptable, header.kind == .regular, imagesByFile[path] != nil {
            inspection = ImageArchiveInspector.inspect(content)
        }
        let (digest, size) = content.finish()
        if let error = content.readError { throw error }
        if let error = content.writeError { throw error }
        report.bytesHashed += size
        guard isComplete(), recordable else { return }
        if watched { observer?.entryEnds(path: path, digest: digest.prefixed) }
        if header.kind == .regular || header.kind == .directory {
            observed[path] = ObservedEntry(isDirectory: header.kind == .directory, size: size,
                                           digest: header.kind == .regular ? digest : nil,
                                           permissions: header.permissions)
            lowercased[path.lowercased()] = path
        }
        if let inspection { imageResults[path] = inspection }
        if documentLimit > 0 { layout?.store(path: path, data: content.overflowed ? nil : content.collected) }
        if inspection != nil {
            announceIfVerified(path: path, digest: digest, size: size, written: writer != nil && content.writeError == nil,
                               inspection: inspection)
        }
        if layout != nil, header.kind == .regular, LayoutState.isBlobArea(path) {
            announceCompleteV2Images(written: writer != nil && content.writeError == nil)
        }
        guard isMeta, header.kind == .regular else { return }
        if content.overflowed {
            problem(VerificationProblem(.tooLarge, path: path, expected: "at most \(Self.metaLimit) bytes",
                                        actual: "\(size) bytes", "file is too large to be a bundle's \(path)"))
            return
        }
        switch path {
        case "MANIFEST.json": acceptManifest(content.collected)
        case "MANIFEST.json.sig": signatureData = content.collected
        default: sumsData = content.collected
        }
    }

    private func acceptManifest(_ data: Data) {
        manifestData = data
        report.manifestData = data
        do {
            let decoded = try ManifestCoding.decodeManifest(data)
            manifest = decoded
            report.manifest = decoded
            observer?.manifestAccepted(decoded)
            report.name = decoded.name
            report.version = decoded.version
            report.bundleId = decoded.bundleId
            if decoded.isV2 {
                layout = LayoutState(decoded)
            } else {
                for image in decoded.images { if let file = image.file { imagesByFile[file] = image } }
            }
            for file in decoded.files { listedFiles[file.path] = file }
        } catch let error as ManifestError {
            switch error {
            case .unknownFormat(let format):
                problem(VerificationProblem(.manifestFormat, path: "MANIFEST.json",
                                            expected: Manifest.readableFormats.joined(separator: " or "),
                                            actual: format, error.message))
            case .missingField(let field):
                problem(VerificationProblem(.manifestField, path: "MANIFEST.json", expected: field,
                                            actual: "absent", error.message))
            case .notJSON, .sizeOutOfRange:
                problem(VerificationProblem(.manifestInvalid, path: "MANIFEST.json", error.message))
            }
        } catch {
            problem(VerificationProblem(.manifestInvalid, path: "MANIFEST.json", "\(error)"))
        }
    }

    private func drain(_ data: ChunkSupplier) throws {
        while try data.nextChunk() != nil {}
    }
}
