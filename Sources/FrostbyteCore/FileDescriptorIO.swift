internal import CGlibcCompat
import FoundationEssentials
import Glibc

/// Plain `read(2)`/`write(2)` on an open file descriptor, retried on EINTR.
public enum FileDescriptorIO {
    /// Reads up to `buffer.count` bytes into `buffer`, retrying on EINTR.
    /// - Returns: the number of bytes read; 0 at end of file.
    /// - Throws: `failure(reason)` with the system's reason when `read(2)` fails.
    public static func read(_ descriptor: Int32, into buffer: UnsafeMutableRawBufferPointer,
                            failure: (String) -> any Error) throws -> Int {
        while true {
            let count = Glibc.read(descriptor, buffer.baseAddress, buffer.count)
            if count >= 0 { return count }
            if errno == EINTR { continue }
            throw failure(String(cString: strerror(errno)))
        }
    }

    /// Writes every byte of `bytes` to `descriptor`, continuing after short writes
    /// and retrying on EINTR. Writes nothing for an empty buffer.
    /// - Returns: `nil` when all bytes were written, else the system's reason
    ///   (`strerror` of the failing `write(2)`); bytes before the failure may be written.
    public static func writeAll(_ descriptor: Int32, _ bytes: UnsafeRawBufferPointer) -> String? {
        guard let base = bytes.baseAddress else { return nil }
        var offset = 0
        while offset < bytes.count {
            let written = write(descriptor, base + offset, bytes.count - offset)
            if written < 0 {
                if errno == EINTR { continue }
                return String(cString: strerror(errno))
            }
            offset += written
        }
        return nil
    }

    /// Writes every byte of `data` to `descriptor`; see `writeAll(_:_:)`.
    public static func writeAll<Bytes: ContiguousBytes>(_ descriptor: Int32, _ data: Bytes) -> String? {
        data.withUnsafeBytes { writeAll(descriptor, $0) }
    }
}

extension FileDescriptorIO {
    /// Writes `data` to stdout (best effort: a closed stdout is not an error here).
    /// Frees the disk blocks of `length` bytes at `offset` of the file (its size stays;
    /// those bytes then read as zeros). False when the filesystem cannot (errno set).
    @discardableResult
    public static func punchHole(_ descriptor: Int32, offset: Int64, length: Int64) -> Bool {
        fb_punch_hole(descriptor, offset, length) == 0
    }

    public static func writeStandardOutput(_ data: Data) {
        _ = data.withUnsafeBytes { writeAll(STDOUT_FILENO, $0) }
    }

    /// Writes `data` to stderr (best effort).
    public static func writeStandardError(_ data: Data) {
        _ = data.withUnsafeBytes { writeAll(STDERR_FILENO, $0) }
    }
}
