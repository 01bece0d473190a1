import FrostbyteCore
import FrostbyteCrypto
import BundleFormat
import Engine
import Dispatch
import FoundationEssentials
import Glibc
import Synchronization

/// What one export step left on disk: a spool file, its SHA-256 and size.
public struct SpooledStep: Sendable, Equatable {
    public var step: Manifest.ExportStep
    /// The spool file holding the step's stdout, exactly as the step wrote it.
    public var spoolPath: String
    public var sha256: SHA256Digest
    public var size: Int64
    public var exitStatus: Int32
}

/// Runs one export step with `docker exec` in the service's running container and
/// streams its stdout into a spool file, hashing it on the way, one 1 MiB buffer at
/// a time: memory does not depend on the dump's size.
///
/// Why spool at all: a tar header carries the entry's size, and MANIFEST.json (with
/// every file's size and SHA-256) is the bundle's first entry, so nothing can be
/// archived before every step has finished. Spooling to disk, never to memory, is
/// what keeps `export` flat in memory; it needs free space next to -o for the dumps.
public struct StepSpooler: Sendable {
    /// How the container of a service is found.
    public var project: String
    /// Seconds a step may run; nil for no limit.
    public var timeout: Double?
    public var progress: ProgressReporter

    public var engine: DockerEngine
    /// Service → container, found beforehand (a Swarm stack's tasks on this node,
    /// `SwarmExportTarget`); a service listed here is not looked up by Compose labels.
    public var containers: [String: String] = [:]

    public init(project: String, timeout: Double?, progress: ProgressReporter = SilentProgress(),
                engine: DockerEngine = DockerEngine()) {
        self.project = project; self.timeout = timeout; self.progress = progress; self.engine = engine
    }

    /// The running container of `service` in this project: Compose's own labels plus
    /// `io.frostbyte.project`, replica 1 when scaled (as `docker compose exec` picks).
    /// - Throws: `ExportError.stepFailed` when no such container runs.
    public func container(for step: Manifest.ExportStep) throws -> String {
        if let known = containers[step.service] { return known }
        let running: [(id: String, number: Int)]
        do {
            running = try engine.runningContainers(
                labels: ["com.docker.compose.project": project, "com.docker.compose.service": step.service,
                         "io.frostbyte.project": project])
        } catch let error as CommandError {
            let detail: String
            if case .failed(_, _, let stderr) = error { detail = stderr } else { detail = error.message }
            throw ExportError.stepFailed(step: step.name, service: step.service, status: 1,
                                         stderrTail: Self.tail(detail))
        }
        guard let id = running.min(by: { $0.number < $1.number })?.id else {
            throw ExportError.stepFailed(
                step: step.name, service: step.service, status: 1,
                stderrTail: "no running container of service '\(step.service)' in project '\(project)'; check 'frostbyte-bundle status'")
        }
        return id
    }

    /// Runs `step` and writes its stdout to `spoolPath` (created, 0600).
    /// - Throws: `ExportError.stepFailed` (non-zero exit, with the tail of its stderr),
    ///   `.stepTimedOut`, `.spoolWrite` (disk full, ...), `.startFailed`.
    public func run(_ step: Manifest.ExportStep, spoolPath: String, stderrPath: String) throws -> SpooledStep {
        let containerID = try container(for: step)
        let spool = open(spoolPath, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard spool >= 0 else {
            throw ExportError.spoolWrite(step: step.name, path: spoolPath, reason: String(cString: strerror(errno)))
        }
        defer { close(spool) }
        let child: ChildProcess
        do {
            child = try engine.startExec(container: containerID, step.command, stderrPath: stderrPath)
        } catch let error as CommandError {
            guard case .startFailed(_, let reason) = error else { throw error }
            throw ExportError.startFailed(step: step.name, reason: reason)
        }
        let deadline = timeout.map { StepDeadline(child: child.pid, seconds: $0) }
        defer { deadline?.cancel() }

        let hasher = SHA256Hasher()
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: ChunkedFileReader.defaultChunkSize, alignment: 64)
        defer { buffer.deallocate() }
        progress.begin(step.name, totalBytes: nil)
        var readError: Int32 = 0
        while true {
            let count = child.read(into: buffer)
            if count < 0 { readError = errno; break }
            if count == 0 { break }
            let chunk = UnsafeRawBufferPointer(rebasing: buffer[0..<count])
            hasher.update(chunk)
            if let reason = FileDescriptorIO.writeAll(spool, chunk) {
                child.signal(SIGTERM)
                _ = child.wait()
                deadline?.cancel()
                throw ExportError.spoolWrite(step: step.name, path: spoolPath, reason: reason)
            }
            progress.advance(by: Int64(count))
        }
        progress.end()
        let status = child.wait()
        deadline?.cancel()
        if let deadline, deadline.fired {
            throw ExportError.stepTimedOut(step: step.name, service: step.service, seconds: Int(timeout ?? 0))
        }
        guard status == 0, readError == 0 else {
            var detail = Self.tail(ofFile: stderrPath)
            if readError != 0 { detail += " (reading its output: \(String(cString: strerror(readError))))" }
            throw ExportError.stepFailed(step: step.name, service: step.service, status: status == 0 ? 1 : status,
                                         stderrTail: detail)
        }
        let size = hasher.byteCount
        return SpooledStep(step: step, spoolPath: spoolPath, sha256: hasher.finalize(), size: size, exitStatus: status)
    }

    /// The last lines (at most ~1 KB) of a step's stderr, on one line.
    static func tail(ofFile path: String) -> String {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return "" }
        defer { close(descriptor) }
        let end = lseek(descriptor, 0, SEEK_END)
        lseek(descriptor, end > 4096 ? end - 4096 : 0, SEEK_SET)
        var bytes = [UInt8](repeating: 0, count: 4096)
        let count = bytes.withUnsafeMutableBytes { (try? FileDescriptorIO.read(descriptor, into: $0) { _ in FileSystemError(operation: "read", path: path, reason: "") }) ?? 0 }
        return tail(String(decoding: bytes[0..<count], as: UTF8.self))
    }

    static func tail(_ text: String) -> String {
        let lines = text.split(whereSeparator: \.isNewline).map { $0.trimmed(.whitespaces) }
            .filter { !$0.isEmpty }
        let joined = lines.suffix(5).joined(separator: " | ")
        return joined.count > 1000 ? "..." + String(joined.suffix(1000)) : joined
    }
}

/// Stops a step's process after `seconds` (SIGTERM, then SIGKILL 5 s later unless
/// it was reaped by then, so a reused process id is never hit).
final class StepDeadline {
    private final class State: Sendable {
        /// (deadline passed, step finished)
        let value = Mutex((fired: false, finished: false))
    }

    private let state: State
    private let timer: DispatchSourceTimer

    init(child: pid_t, seconds: Double) {
        let state = State()
        let timer = DispatchSource.makeTimerSource(queue: .global())
        timer.schedule(deadline: .now() + seconds)
        timer.setEventHandler {
            let running = state.value.withLock { value -> Bool in
                if !value.finished { value.fired = true }
                return !value.finished
            }
            guard running else { return }
            kill(child, SIGTERM)
            DispatchQueue.global().asyncAfter(deadline: .now() + 5) {
                state.value.withLock { value in if !value.finished { kill(child, SIGKILL) } }
            }
        }
        timer.resume()
        self.state = state
        self.timer = timer
    }

    /// True when the step ran past its deadline.
    var fired: Bool { state.value.withLock { $0.fired } }

    /// Call right after the child was reaped: no signal is sent from now on.
    func cancel() {
        state.value.withLock { $0.finished = true }
        timer.cancel()
    }
}
