import FrostbyteCore
import FrostbyteArchive
import FoundationEssentials
import Glibc

/// An entry without data (directories, links, devices).
final class NoChunks: ChunkSupplier {
    func nextChunk() throws -> UnsafeRawBufferPointer? { nil }
}

extension BundleVerifier {
    /// Verifies an extracted bundle folder (the folder holding MANIFEST.json) with
    /// the same checks as an archive, minus the root folder. Nothing below the
    /// folder is followed: every name is examined with `fstatat(AT_SYMLINK_NOFOLLOW)`
    /// and opened with `O_NOFOLLOW` relative to its directory's descriptor. Modes
    /// that differ from the manifest are warnings here (an umask may narrow them),
    /// but setuid/setgid/sticky and group/world-writable modes are problems.
    /// - Throws: `BundleInputError.notABundle` when the folder has no MANIFEST.json
    ///   and no SHA256SUMS; `FileReadError` when a file cannot be read.
    public static func verify(directoryAt path: String, trust: [TrustedKey] = [], base: BundleBaseManifest? = nil,
                              installedRelease: Bool = false,
                              progress: ProgressReporter = SilentProgress(),
                              observer: VerificationObserver? = nil) throws -> VerificationReport {
        let root = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard root >= 0 else {
            if errno == ENOENT { throw BundleInputError.notFound(path: path) }
            throw FileReadError.cannotOpen(path: path, reason: String(cString: strerror(errno)))
        }
        defer { close(root) }
        let session = VerificationSession(report: VerificationReport(source: path, sourceKind: .directory),
                                          trust: trust, extractor: nil, isArchive: false)
        session.base = base
        session.imagesInEngine = installedRelease
        session.observer = observer
        let walker = DirectoryWalker(session: session, base: path, progress: progress)
        progress.begin("verify", totalBytes: nil)
        defer { progress.end() }
        // The metadata files first, as in an archive, so images are recognised.
        for name in ["MANIFEST.json", "MANIFEST.json.sig", "SHA256SUMS"] {
            try walker.visit(directory: root, name: Array(name.utf8), relative: [], onlyIfPresent: true)
        }
        try walker.walk(directory: root, relative: [], skipMeta: true)
        return try session.conclude()
    }
}

/// Walks a folder depth-first in sorted order, feeding each entry to the session.
private final class DirectoryWalker {
    let session: VerificationSession
    let base: String
    let progress: ProgressReporter
    let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: ChunkedFileReader.defaultChunkSize, alignment: 64)

    init(session: VerificationSession, base: String, progress: ProgressReporter) {
        self.session = session
        self.base = base
        self.progress = progress
    }

    deinit { buffer.deallocate() }

    func walk(directory: Int32, relative: [UInt8], skipMeta: Bool) throws {
        for name in try listNames(directory, relative: relative) {
            if skipMeta, let text = String(validating: name, as: UTF8.self), VerificationSession.metaFiles.contains(text) {
                continue
            }
            try visit(directory: directory, name: name, relative: relative, onlyIfPresent: false)
        }
    }

    func visit(directory: Int32, name: [UInt8], relative: [UInt8], onlyIfPresent: Bool) throws {
        let path = relative.isEmpty ? name : relative + [UInt8(ascii: "/")] + name
        let cName = name.map { CChar(bitPattern: $0) } + [0]
        var info = stat()
        guard fstatat(directory, cName, &info, AT_SYMLINK_NOFOLLOW) == 0 else {
            if onlyIfPresent && errno == ENOENT { return }
            throw FileReadError.cannotOpen(path: display(path), reason: String(cString: strerror(errno)))
        }
        let header = Self.header(info, path: path, directory: directory, name: cName)
        switch header.kind {
        case .regular:
            let chunks = try FileChunks(directory: directory, name: String(decoding: name, as: UTF8.self), path: display(path),
                                        buffer: buffer)
            try session.process(header, data: ProgressChunks(chunks, progress), isComplete: { true })
        case .directory:
            try session.process(header, data: NoChunks(), isComplete: { true })
            let child = openat(directory, cName, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
            guard child >= 0 else {
                throw FileReadError.cannotOpen(path: display(path), reason: String(cString: strerror(errno)))
            }
            defer { close(child) }
            try walk(directory: child, relative: path, skipMeta: false)
        default:
            try session.process(header, data: NoChunks(), isComplete: { true })
        }
    }

    private func display(_ path: [UInt8]) -> String {
        base + "/" + String(decoding: path, as: UTF8.self)
    }

    private func listNames(_ directory: Int32, relative: [UInt8]) throws -> [[UInt8]] {
        let copy = dup(directory)
        guard copy >= 0, let stream = fdopendir(copy) else {
            if copy >= 0 { close(copy) }
            throw FileReadError.cannotOpen(path: display(relative), reason: String(cString: strerror(errno)))
        }
        defer { closedir(stream) }
        rewinddir(stream)
        var names: [[UInt8]] = []
        while let entry = readdir(stream) {
            let name = withUnsafePointer(to: &entry.pointee.d_name) { pointer in
                pointer.withMemoryRebound(to: UInt8.self, capacity: 256) { Array(UnsafeBufferPointer(start: $0, count: strlen(UnsafeRawPointer($0).assumingMemoryBound(to: CChar.self)))) }
            }
            if name == [UInt8(ascii: ".")] || name == [UInt8(ascii: "."), UInt8(ascii: ".")] { continue }
            names.append(name)
        }
        return names.sorted { $0.lexicographicallyPrecedes($1) }
    }

    private static func header(_ info: stat, path: [UInt8], directory: Int32, name: [CChar]) -> ArchiveEntryHeader {
        let kind: ArchiveEntryHeader.Kind
        var target: String?
        switch info.st_mode & S_IFMT {
        case S_IFREG: kind = .regular
        case S_IFDIR: kind = .directory
        case S_IFLNK:
            kind = .symlink
            var buffer = [CChar](repeating: 0, count: 4096)
            let count = readlinkat(directory, name, &buffer, buffer.count - 1)
            if count >= 0 { target = String(decoding: buffer[0..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self) }
        case S_IFCHR: kind = .characterDevice
        case S_IFBLK: kind = .blockDevice
        case S_IFIFO: kind = .fifo
        case S_IFSOCK: kind = .socket
        default: kind = .unknown
        }
        // A file with several names is a hard link in an extracted folder.
        let size = kind == .regular ? Int64(info.st_size) : 0
        if kind == .regular && info.st_nlink > 1 {
            return ArchiveEntryHeader(pathBytes: path, kind: .hardLink, permissions: UInt32(info.st_mode) & 0o7777,
                                      size: size, linkTarget: "\(info.st_nlink) links")
        }
        return ArchiveEntryHeader(pathBytes: path, kind: kind, permissions: UInt32(info.st_mode) & 0o7777,
                                  size: size, linkTarget: target)
    }
}

/// Reports bytes read from a folder as progress.
private final class ProgressChunks: ChunkSupplier {
    let inner: ChunkSupplier
    let progress: ProgressReporter
    init(_ inner: ChunkSupplier, _ progress: ProgressReporter) { self.inner = inner; self.progress = progress }
    func nextChunk() throws -> UnsafeRawBufferPointer? {
        let chunk = try inner.nextChunk()
        if let chunk { progress.advance(by: Int64(chunk.count)) }
        return chunk
    }
}
