import FrostbyteCore
import FrostbyteCrypto
import FrostbyteArchive
import FoundationEssentials
import Glibc

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
            return "the saved archive of \(reference) is image \(archive), but the engine now reports \(engine) under that name; the tag was moved to another image while the build saved it, run the build again"
        }
    }

    public var exitStatus: ExitStatus {
        switch self {
        case .missingImages, .badArchive, .archiveLacksReference: return .badInput
        case .saveFailed, .idMismatch: return .environment
        }
    }
}

/// What the engine's store reports about one image: its ID (the config digest on
/// graphdriver engines, the manifest or index digest on the containerd store) and
/// the diff IDs of its layers (the same on every store).
public struct EngineImage: Sendable, Equatable {
    public var id: String
    public var diffIDs: [String]

    public init(id: String, diffIDs: [String]) { self.id = id; self.diffIDs = diffIDs }
}

/// Images: inspect, load, save, remove.
extension DockerEngine {
    /// The engine's record of `reference`, or nil when it has no such image.
    /// - Throws: `CommandError`, `DockerEngineError` for engine problems.
    public func image(_ reference: String) throws -> EngineImage? {
        let result = try run(["image", "inspect", "--format", "{{json .Id}}\t{{json .RootFS.Layers}}", reference])
        guard result.status == 0 else {
            if Self.isNotFound(result.errorOutput) { return nil }
            throw DockerEngineError.engineUnreachable(detail: result.errorOutput)
        }
        let fields = result.output.split(separator: "\t", maxSplits: 1).map { Data($0.utf8) }
        guard fields.count == 2 else {
            throw DockerEngineError.unreadableOutput(command: "docker image inspect \(reference)", detail: result.output)
        }
        let id = try decode(String.self, from: fields[0], command: "docker image inspect \(reference)")
        let layers = (try? JSONDecoder().decode([String]?.self, from: fields[1])) ?? nil
        return id.isEmpty ? nil : EngineImage(id: id, diffIDs: layers ?? [])
    }

    /// `docker load` of the archive at `path`.
    /// - Throws: `DockerEngineError.failed` with docker's message.
    public func load(archive path: String, timeout: Double) throws {
        let result = try perform("load \(path)", ["load", "-q", "-i", path], timeout: timeout)
        try Self.checkLoadOutput(result.output, operation: "load \(path)")
    }

    /// `docker load` of a tar stream that `write` produces on the fly: the archive
    /// (plain tar, `ArchiveWriter` with no compression) goes straight into docker's
    /// stdin through a pipe, and no archive file is ever written. `write` adds the
    /// entries; this finishes the archive.
    ///
    /// Guarantees: when `write` (or the archive writer) fails, docker is killed before
    /// its stdin is closed, so it never sees the end of a partial stream and loads
    /// nothing from it; the whole call, writing included, is bounded by `timeout`
    /// seconds; a docker that stops reading or exits early ends the write (no SIGPIPE).
    /// - Parameter operation: what the load is for, in error messages (`load IMAGE`).
    /// - Throws: `DockerEngineError.failed` with docker's message (including an image
    ///   the containerd store could not unpack, which docker reports with exit status 0),
    ///   `CommandError.timedOut`, or the error `write` threw.
    public func load(operation: String, timeout: Double, write: (ArchiveWriter) throws -> Void) throws {
        let scratch = try ScratchFolder(prefix: "fb-load")
        let outPath = "\(scratch.path)/out", errPath = "\(scratch.path)/err"
        let outFD = open(outPath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard outFD >= 0 else {
            throw CommandError.startFailed(command: "docker load", reason: "\(outPath): \(String(cString: strerror(errno)))")
        }
        defer { close(outFD) }
        let child = try ChildProcess([docker, "load", "-q"], stdin: .pipe, stdout: .descriptor(outFD), stderrPath: errPath)
        let deadline = Date().addingTimeInterval(timeout)
        let input = ChildInput(child: child, deadline: deadline)
        var failure: (any Error)?
        do {
            try Self.stream(into: input, write)
        } catch {
            failure = error
        }
        func dockerError() -> String {
            (FileManager.default.contents(atPath: errPath)).map { String(decoding: $0, as: UTF8.self).trimmed() } ?? ""
        }
        if let failure {
            if !input.closedByChild {
                // Ours (a blob that cannot be read, a timeout): docker must not see the
                // end of the stream, so it goes before its stdin is closed.
                child.signal(SIGKILL)
                child.closeInput()
                _ = child.wait()
                if input.timedOut { throw CommandError.timedOut(command: "docker load (\(operation))", seconds: timeout) }
                throw failure
            }
            // docker stopped reading: it failed, and says why.
            child.closeInput()
            let status = child.wait(seconds: max(1, deadline.timeIntervalSinceNow))
            let detail = dockerError()
            throw DockerEngineError.failed(operation: operation,
                                           detail: detail.isEmpty ? "docker load exited with status \(status.map(String.init) ?? "?") before reading the whole image" : detail)
        }
        child.closeInput()
        guard let status = child.wait(seconds: max(1, deadline.timeIntervalSinceNow)) else {
            throw CommandError.timedOut(command: "docker load (\(operation))", seconds: timeout)
        }
        guard status == 0 else { throw DockerEngineError.failed(operation: operation, detail: dockerError()) }
        let output = (FileManager.default.contents(atPath: outPath)).map { String(decoding: $0, as: UTF8.self) } ?? ""
        try Self.checkLoadOutput(output, operation: operation)
    }

    /// Runs `write` on a new uncompressed archive into `input` and finishes it. The
    /// writer is gone (its output thread joined) when this returns or throws.
    private static func stream(into input: ChildInput, _ write: (ArchiveWriter) throws -> Void) throws {
        let writer = try ArchiveWriter(output: input, compression: .none, mtime: 0)
        try write(writer)
        try writer.finish()
    }

    /// `docker load` exits 0 even when the containerd image store created the image
    /// but could not unpack it (a layer missing from the stream and from its content
    /// store): it prints `Error unpacking image ...` on stdout instead. Such a load failed.
    static func checkLoadOutput(_ output: String, operation: String) throws {
        let errors = output.split(separator: "\n").filter { $0.hasPrefix("Error") }
        guard errors.isEmpty else {
            throw DockerEngineError.failed(operation: operation, detail: errors.joined(separator: "; "))
        }
    }

    /// `docker rmi NAME` (never forced): nil when removed, else docker's reason (an
    /// image another container uses is refused and kept).
    public func removeImage(_ name: String) -> String? {
        guard let result = try? run(["rmi", name], timeout: 120) else { return "docker rmi failed" }
        return result.status == 0 ? nil : result.errorOutput
    }

    /// Streams `docker save reference` into a new file at `path` in one pass: every
    /// 1 MiB block read from docker is written, hashed and parsed as it passes (the
    /// image's config digest comes from the config the archive's manifest names), so
    /// the archive is never read back.
    /// - Throws: `DockerImageError.saveFailed` / `.badArchive`, `FileWriteError.writeFailed`.
    public func save(_ reference: String, to path: String, progress: ProgressReporter) throws
        -> (digest: SHA256Digest, size: Int64, summary: ImageArchiveSummary)
    {
        let output = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard output >= 0 else {
            throw FileWriteError.writeFailed(path: path, reason: String(cString: strerror(errno)))
        }
        defer { close(output) }
        let (source, inspection) = try save(reference, scratch: path, output: output, progress: progress) {
            ImageArchiveInspector.inspect($0)
        }
        switch inspection {
        case .success(let summary): return (source.finalize(), source.size, summary)
        case .failure(let problem): throw DockerImageError.badArchive(path: "from docker save \(reference)", problem: problem.description)
        }
    }

    /// Streams `docker save reference` into `consume`, which reads the archive's raw
    /// tar bytes from the source it is given (and nothing is kept unless it keeps it).
    /// `scratch` names a path whose `.stderr` sibling may hold docker's messages.
    /// - Throws: `DockerImageError.saveFailed`, or what `consume` or the source throws.
    public func save<T>(_ reference: String, scratch: String, output: Int32? = nil, progress: ProgressReporter,
                        consume: (ArchiveByteSource) throws -> T) throws -> (source: HashingTeeSource, result: T)
    {
        try save([reference], scratch: scratch, output: output, progress: progress, consume: consume)
    }

    /// Streams one `docker save A B ...` of every reference into `consume` (each layer
    /// the images share leaves the engine once); otherwise as `save(_:scratch:...)`.
    /// - Throws: `DockerImageError.saveFailed`, or what `consume` or the source throws.
    public func save<T>(_ references: [String], scratch: String, output: Int32? = nil, progress: ProgressReporter,
                        consume: (ArchiveByteSource) throws -> T) throws -> (source: HashingTeeSource, result: T)
    {
        precondition(!references.isEmpty, "docker save needs at least one reference")
        let reference = references.joined(separator: " ")
        let errorFile = scratch + ".stderr"
        let errorToken = CleanupOnSignal.register(errorFile)
        defer { unlink(errorFile); CleanupOnSignal.unregister(errorToken) }
        let child = try start(["save"] + references, stderrPath: errorFile)

        progress.begin("saving \(reference)", totalBytes: nil)
        let source = HashingTeeSource(
            input: child.stdout, inputPath: "docker save \(reference)",
            output: output, outputPath: scratch, progress: progress, hashing: output != nil)
        var failure: Error?
        var result: T?
        do { result = try consume(source) } catch { failure = error }
        failure = failure ?? source.error
        if failure == nil {
            do { try source.drain() } catch { failure = error }
        }
        if let failure {
            // The consumer stopped early (say on a full disk): docker save may be
            // blocked writing into the pipe nobody reads any more, and it catches
            // SIGTERM, so wait(seconds:) kills it if need be. When it ended by our
            // signal, the consumer's error is what went wrong; when it failed on its
            // own (no such image), its message below is.
            child.signal(SIGTERM)
            let status = child.wait(seconds: 2)
            if status == nil || status == 128 + SIGTERM {
                progress.end()
                throw failure
            }
        }
        let status = child.wait()
        progress.end()
        guard status == 0 else {
            let detail = (try? String(contentsOfFile: errorFile, encoding: .utf8))?
                .trimmed() ?? ""
            throw DockerImageError.saveFailed(
                reference: reference, detail: detail.isEmpty ? "exit status \(status)" : detail)
        }
        if let failure { throw failure }
        return (source, result!)
    }
}

/// The archive writer's output into docker's stdin, each write bounded by the load's
/// deadline. Remembers how the writing ended, for the caller's error. Not Sendable:
/// the writer's output thread uses it, and the caller reads the flags only after
/// `ArchiveWriter.finish()` (or its failure) has joined that thread.
private final class ChildInput: ArchiveOutput {
    let child: ChildProcess
    let deadline: Date
    /// Set on the writer's output thread; read once that thread is joined.
    private(set) var closedByChild = false
    private(set) var timedOut = false

    init(child: ChildProcess, deadline: Date) { self.child = child; self.deadline = deadline }

    func write(_ bytes: UnsafeRawBufferPointer) throws {
        do {
            try child.writeInput(bytes, deadline: deadline)
        } catch ChildProcess.InputError.closed {
            closedByChild = true
            throw DockerEngineError.failed(operation: "load", detail: "docker stopped reading the image stream")
        } catch ChildProcess.InputError.timedOut {
            timedOut = true
            throw CommandError.timedOut(command: "docker load", seconds: 0)
        }
    }
}
