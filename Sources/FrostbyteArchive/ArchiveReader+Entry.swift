internal import CArchive
import FoundationEssentials
import Glibc

/// What an archive entry claims to be, copied out of libarchive's `archive_entry`
/// so it outlives the next header and can cross threads.
public struct ArchiveEntryHeader: Sendable, Equatable {
    /// The kinds of entry a tar can hold; bundle format v1 allows only the first two.
    public enum Kind: String, Sendable, Codable {
        case regular, directory, symlink, hardLink = "hard-link"
        case characterDevice = "character-device", blockDevice = "block-device"
        case fifo, socket, unknown
    }

    /// The path exactly as stored (may be non-UTF-8).
    public var pathBytes: [UInt8]
    public var kind: Kind
    /// Permission bits including setuid/setgid/sticky (`mode & 0o7777`).
    public var permissions: UInt32
    /// Declared data size in bytes (0 for directories and links).
    public var size: Int64
    /// Target of a symlink or hard link.
    public var linkTarget: String?

    public init(pathBytes: [UInt8], kind: Kind, permissions: UInt32, size: Int64, linkTarget: String? = nil) {
        self.pathBytes = pathBytes
        self.kind = kind
        self.permissions = permissions
        self.size = size
        self.linkTarget = linkTarget
    }

    /// The path when it is valid UTF-8, nil otherwise.
    public var utf8Path: String? {
        String(validating: pathBytes, as: UTF8.self)
    }

    /// A printable form of the path for reports: invalid bytes and control
    /// characters become `\xNN`.
    public var displayPath: String {
        if let text = utf8Path, !text.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) {
            return text
        }
        var out = ""
        for byte in pathBytes {
            if byte >= 0x20 && byte < 0x7F {
                out.unicodeScalars.append(Unicode.Scalar(byte))
            } else {
                out += "\\x" + String(byte, radix: 16, uppercase: false).leftPadded(to: 2)
            }
        }
        return out
    }
}

extension String {
    package func leftPadded(to width: Int, with pad: Character = "0") -> String {
        count >= width ? self : String(repeating: pad, count: width - count) + self
    }
}

/// libarchive's file-type values (`AE_IF*` in archive_entry.h, fixed octal
/// constants of the tar/POSIX world; the shim exports only some of them).
private enum FileType {
    static let mask: UInt32 = 0o170000
    static let regular: UInt32 = 0o100000
    static let directory: UInt32 = 0o040000
    static let symlink: UInt32 = 0o120000
    static let characterDevice: UInt32 = 0o020000
    static let blockDevice: UInt32 = 0o060000
    static let fifo: UInt32 = 0o010000
    static let socket: UInt32 = 0o140000
}

extension ArchiveEntryHeader {
    /// Copies the fields of a libarchive entry.
    init(entry: OpaquePointer) {
        var bytes: [UInt8] = []
        if let raw = archive_entry_pathname(entry) {
            bytes = Array(UnsafeBufferPointer(start: raw, count: strlen(raw))).map { UInt8(bitPattern: $0) }
        } else if let utf8 = archive_entry_pathname_utf8(entry) {
            bytes = Array(String(cString: utf8).utf8)
        }
        let mode = UInt32(archive_entry_mode(entry))
        var kind: Kind
        switch mode & FileType.mask {
        case FileType.regular: kind = .regular
        case FileType.directory: kind = .directory
        case FileType.symlink: kind = .symlink
        case FileType.characterDevice: kind = .characterDevice
        case FileType.blockDevice: kind = .blockDevice
        case FileType.fifo: kind = .fifo
        case FileType.socket: kind = .socket
        default: kind = .unknown
        }
        var target: String?
        if let hardlink = archive_entry_hardlink(entry) {
            kind = .hardLink
            target = String(cString: hardlink)
        } else if kind == .symlink, let symlink = archive_entry_symlink(entry) {
            target = String(cString: symlink)
        }
        let size = archive_entry_size_is_set(entry) != 0 ? Int64(archive_entry_size(entry)) : 0
        self.init(pathBytes: bytes, kind: kind, permissions: mode & 0o7777, size: size, linkTarget: target)
    }
}
