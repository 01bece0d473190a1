import BundleFormat
import Foundation

/// Errors finding, saving or reading images for a bundle.
public enum DockerImageError: UserFacingError, Equatable {
    /// The engine has no image with this reference.
    case missingImages(references: [String], specPath: String)
    /// `docker save` failed.
    case saveFailed(reference: String, detail: String)
    /// A docker-archive on disk is not a usable `docker save` archive.
    case badArchive(path: String, problem: String)
    /// A docker-archive on disk does not carry the reference the spec names.
    case archiveLacksReference(path: String, reference: String, found: [String])
    /// The image ID in the saved archive differs from what the engine reports.
    case idMismatch(reference: String, archive: String, engine: String)

    public var message: String {
        switch self {
        case .missingImages(let references, let specPath):
            let names = references.joined(separator: ", ")
            let subject = references.count == 1 ? "image \(names) is" : "images \(names) are"
            return "\(subject) not in the local Docker engine; build or 'docker load' them first, or give each docker-archive with 'archive:' in \(specPath)"
        case .saveFailed(let reference, let detail):
            return "'docker save \(reference)' failed: \(detail)"
        case .badArchive(let path, let problem):
            return "image archive \(path) \(problem); create it with 'docker save REF -o FILE'"
        case .archiveLacksReference(let path, let reference, let found):
            let tags = found.isEmpty ? "no tags" : found.joined(separator: ", ")
            return "image archive \(path) does not contain \(reference) (it holds \(tags)); save the image under the reference the compose file uses"
        case .idMismatch(let reference, let archive, let engine):
            return "the saved archive of \(reference) has image ID \(archive) but the engine reports \(engine); the image changed during the build, run it again"
        }
    }

    public var exitStatus: ExitStatus {
        switch self {
        case .missingImages, .badArchive, .archiveLacksReference: return .badInput
        case .saveFailed, .idMismatch: return .environment
        }
    }
}

/// The facts the manifest records about one image archive.
public struct SavedImage: Sendable, Equatable {
    /// The reference as the spec names it.
    public var reference: String
    /// Where the archive is on disk (staged or given by the spec).
    public var path: String
    /// SHA-256 and size of the archive file when known at staging (saved while
    /// hashed); nil for an archive on disk, which the parallel hashing pre-pass reads.
    public var sha256: SHA256Digest?
    public var size: Int64?
    /// `sha256:` + SHA-256 of the image config: the ID `docker load` reports.
    public var imageID: String
}

/// Drives `docker version`, `docker image inspect` and `docker save` through the CLI
/// (`$DOCKER` or `docker` on PATH), never through a shell.
public struct DockerImages: Sendable {
    public var docker: String
    public var timeout: Double

    public init(docker: String? = nil, timeout: Double = 30) {
        let fromEnvironment = ProcessInfo.processInfo.environment["DOCKER"].flatMap { $0.isEmpty ? nil : $0 }
        self.docker = docker ?? fromEnvironment ?? "docker"
        self.timeout = timeout
    }

    /// The engine's version (`docker version`).
    /// - Throws: `CommandError.notFound` (no docker CLI, exit 3) or
    ///   `DockerInspectError.engineUnreachable` (exit 3).
    @discardableResult
    public func engineVersion() throws -> String {
        let result = try CommandRunner.run([docker, "version", "--format", "{{.Server.Version}}"], timeout: timeout)
        guard result.status == 0, !result.output.isEmpty else {
            throw DockerInspectError.engineUnreachable(detail: result.errorOutput.isEmpty
                ? "docker version exited with status \(result.status)" : result.errorOutput)
        }
        return result.output
    }

    /// The engine's image ID for `reference`, or nil when it has no such image.
    /// - Throws: `CommandError`, `DockerInspectError` for engine problems.
    public func imageID(_ reference: String) throws -> String? {
        let result = try CommandRunner.run(
            [docker, "image", "inspect", "--format", "{{.Id}}", reference], timeout: timeout)
        if result.status == 0 { return result.output }
        let text = result.errorOutput.lowercased()
        if text.contains("no such image") || text.contains("no such object") { return nil }
        throw DockerInspectError.engineUnreachable(detail: result.errorOutput)
    }

    /// Streams `docker save reference` into a new file at `path` in one pass: every
    /// 1 MiB block read from docker is written, hashed and parsed as it passes (the
    /// image ID comes from the config the archive's manifest.json names), so the
    /// archive is never read back.
    /// - Throws: `DockerImageError.saveFailed` / `.badArchive`, `BundleWriteError.writeFailed`.
    public func save(_ reference: String, to path: String, progress: ProgressReporter) throws
        -> (digest: SHA256Digest, size: Int64, summary: ImageArchiveSummary)
    {
        guard let executable = CommandRunner.locate(docker) else { throw CommandError.notFound(command: docker) }
        let output = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard output >= 0 else {
            throw BundleWriteError.writeFailed(path: path, reason: String(cString: strerror(errno)))
        }
        defer { close(output) }
        let errorFile = path + ".stderr"
        _ = FileManager.default.createFile(atPath: errorFile, contents: nil)
        let errorToken = CleanupOnSignal.register(errorFile)
        defer { unlink(errorFile); CleanupOnSignal.unregister(errorToken) }
        let errorHandle = try FileHandle(forWritingTo: URL(fileURLWithPath: errorFile))
        defer { try? errorHandle.close() }

        let pipe = Pipe()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = ["save", reference]
        process.standardOutput = pipe
        process.standardError = errorHandle
        process.standardInput = FileHandle.nullDevice
        try process.run()
        try? pipe.fileHandleForWriting.close()

        progress.begin("saving \(reference)", totalBytes: nil)
        let source = HashingTeeSource(
            input: pipe.fileHandleForReading.fileDescriptor, inputPath: "docker save \(reference)",
            output: output, outputPath: path, progress: progress)
        let inspection = ImageArchiveInspector.inspect(source)
        var failure = source.error
        if failure == nil {
            do { try source.drain() } catch { failure = error }
        }
        if failure != nil { process.terminate() }
        process.waitUntilExit()
        try? pipe.fileHandleForReading.close()
        progress.end()
        guard process.terminationStatus == 0 else {
            let detail = (try? String(contentsOfFile: errorFile, encoding: .utf8))?
                .trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
            throw DockerImageError.saveFailed(
                reference: reference, detail: detail.isEmpty ? "exit status \(process.terminationStatus)" : detail)
        }
        if let failure { throw failure }
        switch inspection {
        case .success(let summary): return (source.finalize(), source.size, summary)
        case .failure(let problem): throw DockerImageError.badArchive(path: "from docker save \(reference)", problem: problem.description)
        }
    }

    /// Reads a `docker save` archive on disk: its image ID (from the config its
    /// manifest.json names) and tags. The file is not hashed here: the bundle's
    /// hashing pre-pass reads it in parallel with the other big files.
    /// - Throws: `DockerImageError.badArchive`, `FileReadError`.
    public static func inspectArchive(at path: String, progress: ProgressReporter = SilentProgress()) throws
        -> ImageArchiveSummary
    {
        let input = open(path, O_RDONLY | O_CLOEXEC)
        guard input >= 0 else {
            throw FileReadError.cannotOpen(path: path, reason: String(cString: strerror(errno)))
        }
        defer { close(input) }
        let source = HashingTeeSource(input: input, inputPath: path, output: nil, outputPath: path,
                                      progress: progress, hashing: false)
        let inspection = ImageArchiveInspector.inspect(source)
        if let error = source.error { throw error }
        switch inspection {
        case .success(let summary): return summary
        case .failure(let problem): throw DockerImageError.badArchive(path: path, problem: problem.description)
        }
    }

}

/// An `ArchiveByteSource` that reads 1 MiB blocks from `input`, hashes them (unless
/// `hashing` is false), copies
/// them to `output` (when given) and reports progress, so parsing, hashing and
/// staging an image archive take one pass. Remembers the first I/O error.
final class HashingTeeSource: ArchiveByteSource {
    private let input: Int32
    private let inputPath: String
    private let output: Int32?
    private let outputPath: String
    private let progress: ProgressReporter
    private let hasher = SHA256Hasher()
    private let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 64)
    private(set) var size: Int64 = 0
    private(set) var error: Error?
    private var finished = false

    private let hashing: Bool

    init(input: Int32, inputPath: String, output: Int32?, outputPath: String, progress: ProgressReporter,
         hashing: Bool = true) {
        self.input = input; self.inputPath = inputPath; self.output = output
        self.outputPath = outputPath; self.progress = progress; self.hashing = hashing
    }

    deinit { buffer.deallocate() }

    func nextBlock() throws -> UnsafeRawBufferPointer {
        do {
            return try readBlock()
        } catch {
            self.error = self.error ?? error
            throw error
        }
    }

    /// Seeks past `count` bytes when nothing needs to see them (no hashing, no copy),
    /// so inspecting an archive already on disk reads its headers, not its layers. A
    /// seek past the end is caught by libarchive as a truncated archive; an input that
    /// cannot seek (a pipe) is read instead.
    func skip(_ count: Int64) throws -> Int64 {
        guard !hashing, output == nil, !finished, count > 0 else { return 0 }
        guard lseek(input, off_t(count), SEEK_CUR) >= 0 else { return 0 }
        size += count
        progress.advance(by: count)
        return count
    }

    /// Passes the rest of the input through (the archive parser stops at the tar trailer).
    func drain() throws {
        while try !readBlock().isEmpty {}
    }

    /// The digest of every byte read; call once, after `drain()`.
    func finalize() -> SHA256Digest { hasher.finalize() }

    private func readBlock() throws -> UnsafeRawBufferPointer {
        if finished { return UnsafeRawBufferPointer(start: nil, count: 0) }
        let count = try FileDescriptorIO.read(input, into: buffer) {
            FileReadError.readFailed(path: inputPath, reason: $0)
        }
        if count == 0 { finished = true }
        let chunk = UnsafeRawBufferPointer(rebasing: buffer[0..<count])
        if hashing { hasher.update(chunk) }
        if let output { try writeAll(output, chunk) }
        size += Int64(count)
        progress.advance(by: Int64(count))
        return chunk
    }

    private func writeAll(_ descriptor: Int32, _ bytes: UnsafeRawBufferPointer) throws {
        if let reason = FileDescriptorIO.writeAll(descriptor, bytes) {
            throw BundleWriteError.writeFailed(path: outputPath, reason: reason)
        }
    }
}
