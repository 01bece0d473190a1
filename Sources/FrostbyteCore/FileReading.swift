import FoundationEssentials
import Glibc

/// Errors reading files from disk.
public enum FileReadError: UserFacingError, Equatable {
    case cannotOpen(path: String, reason: String)
    case readFailed(path: String, reason: String)

    public var message: String {
        switch self {
        case .cannotOpen(let path, let reason):
            return "cannot open \(path): \(reason); check that it exists and is readable"
        case .readFailed(let path, let reason):
            return "reading \(path) failed: \(reason)"
        }
    }

    public var exitStatus: ExitStatus { .badInput }
}

/// Reads a file sequentially in fixed-size chunks with plain `read(2)`, so memory
/// stays at one buffer whatever the file size. Owns its file descriptor.
public final class ChunkedFileReader {
    /// The chunk size used by the project's streaming readers (1 MiB).
    public static let defaultChunkSize = 1 << 20

    public let path: String
    private var descriptor: Int32
    private let buffer: UnsafeMutableRawBufferPointer

    /// Opens `path` for reading.
    /// - Throws: `FileReadError.cannotOpen` with the system's reason.
    public init(path: String, chunkSize: Int = ChunkedFileReader.defaultChunkSize) throws {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else {
            throw FileReadError.cannotOpen(path: path, reason: String(cString: strerror(errno)))
        }
        self.path = path
        self.descriptor = descriptor
        self.buffer = .allocate(byteCount: chunkSize, alignment: 16)
    }

    deinit {
        if descriptor >= 0 { close(descriptor) }
        buffer.deallocate()
    }

    /// Calls `body` with each chunk until end of file; the chunk is only valid
    /// inside the call. Returns the number of bytes read.
    /// - Throws: `FileReadError.readFailed`, or whatever `body` throws.
    @discardableResult
    public func forEachChunk(_ body: (UnsafeRawBufferPointer) throws -> Void) throws -> Int64 {
        var total: Int64 = 0
        while true {
            let count = try FileDescriptorIO.read(descriptor, into: buffer) {
                FileReadError.readFailed(path: path, reason: $0)
            }
            if count == 0 { return total }
            total += Int64(count)
            try body(UnsafeRawBufferPointer(rebasing: buffer[0..<count]))
        }
    }
}

/// Errors writing a file the tool streams to disk (a `docker save` copy, a staged blob).
public enum FileWriteError: UserFacingError, Equatable {
    /// Writing, closing or renaming the file failed (disk full, I/O error).
    case writeFailed(path: String, reason: String)

    public var message: String {
        switch self {
        case .writeFailed(let path, let reason):
            return "writing \(path) failed: \(reason); check free space and run again"
        }
    }

    public var exitStatus: ExitStatus { .environment }
}
