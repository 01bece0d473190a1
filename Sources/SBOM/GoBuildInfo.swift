import FoundationEssentials
import Glibc

/// The build info the Go linker (Go >= 1.18) embeds in every binary: the Go version
/// and the module information `go version -m` prints.
public struct GoBuildInfo: Sendable, Equatable {
    /// `go1.22.1` (as `go version` reports it; a suffix such as ` X:boringcrypto` kept).
    public var goVersion: String
    /// The modinfo text: `path`, `mod`, `dep`, `=>` and `build` lines, tab-separated.
    public var modinfo: String

    /// A module the binary was built from.
    public struct Module: Sendable, Equatable {
        public var path: String
        /// Empty for a replacement by a local folder.
        public var version: String
    }

    /// The main module (`mod` line), when the binary was built in module mode.
    public var mainModule: Module? {
        lines.first { $0.first == "mod" }.flatMap { Self.module($0) }
    }

    /// Each `dep` line's module, or its `=>` replacement when the next line has one
    /// (the module whose code was linked in), in modinfo order. A replacement by a
    /// local folder (`=> ./greet (devel)`) keeps the required module's path with the
    /// replacement's version (`(devel)`): a folder is no module identity.
    public var dependencies: [Module] {
        var result: [Module] = []
        for fields in lines {
            if fields.first == "dep", let module = Self.module(fields) {
                result.append(module)
            } else if fields.first == "=>", !result.isEmpty, let replacement = Self.module(fields) {
                let local = replacement.path.hasPrefix(".") || replacement.path.hasPrefix("/")
                result[result.count - 1] = local ? Module(path: result[result.count - 1].path, version: replacement.version)
                    : replacement
            }
        }
        return result
    }

    private var lines: [[String]] {
        modinfo.split(separator: "\n").map { $0.split(separator: "\t", omittingEmptySubsequences: false).map(String.init) }
    }

    private static func module(_ fields: [String]) -> Module? {
        guard fields.count >= 2, !fields[1].isEmpty else { return nil }
        return Module(path: fields[1], version: fields.count >= 3 ? fields[2] : "")
    }

    /// Parses the blob that starts at the magic: the 32-byte header (magic, pointer
    /// size, flags with bit 2 = inline strings), then the uvarint-prefixed version
    /// and modinfo strings (modinfo framed by 16 sentinel bytes each side).
    /// `.incomplete` when `blob` is a prefix of a valid blob; nil when it is not one.
    enum Parse { case complete(GoBuildInfo), incomplete }
    static func parse(_ blob: [UInt8]) -> Parse? {
        guard blob.count >= 32 else { return .incomplete }
        guard blob.starts(with: magic), blob[14] == 4 || blob[14] == 8, blob[15] & 2 != 0 else { return nil }
        var offset = 32
        func string() -> [UInt8]?? {
            var length = 0, shift = 0
            while true {
                guard offset < blob.count else { return .some(nil) }
                let byte = blob[offset]
                offset += 1
                length |= Int(byte & 0x7F) << shift
                if byte & 0x80 == 0 { break }
                shift += 7
                if shift > 28 { return nil }
            }
            guard length <= maxString else { return nil }
            guard offset + length <= blob.count else { return .some(nil) }
            defer { offset += length }
            return .some(Array(blob[offset..<offset + length]))
        }
        guard let version = string() else { return nil }
        guard let versionBytes = version else { return .incomplete }
        guard versionBytes.starts(with: Array("go".utf8)) else { return nil }
        guard let mod = string() else { return nil }
        guard var modBytes = mod else { return .incomplete }
        if modBytes.count >= 33 && modBytes[modBytes.count - 17] == 0x0A {
            modBytes = Array(modBytes[16..<(modBytes.count - 16)])
        } else {
            modBytes = []
        }
        return .complete(GoBuildInfo(goVersion: String(decoding: versionBytes, as: UTF8.self),
                                     modinfo: String(decoding: modBytes, as: UTF8.self)))
    }

    /// `\xff Go buildinf:`
    static let magic: [UInt8] = [0xFF] + Array(" Go buildinf:".utf8)
    /// The longest version or modinfo string read; the window kept after a magic is
    /// bounded by twice this.
    static let maxString = 512 << 10
}

/// Finds a Go build info blob in a file's bytes as they stream: the file must start
/// with the ELF magic; then each occurrence of the build info magic starts a bounded
/// capture that is kept only if it parses (the Go toolchain's own binaries also hold
/// the magic as a string constant). Nothing else of the file is kept.
struct GoBuildInfoFinder {
    private var seen = 0
    private var start = [UInt8]()
    /// The last `magic.count - 1` bytes searched, for a magic across two chunks.
    private var tail = [UInt8]()
    private var window: [UInt8]?
    private(set) var result: GoBuildInfo?
    private var rejected = false

    /// True while more bytes can still change the outcome.
    var wantsMore: Bool { result == nil && !rejected }

    mutating func feed(_ bytes: UnsafeRawBufferPointer) {
        guard wantsMore, bytes.count > 0 else { return }
        if seen < 4 {
            let take = min(4 - seen, bytes.count)
            start.append(contentsOf: bytes.prefix(take))
            seen += take
            if seen == 4 && start != [0x7F, 0x45, 0x4C, 0x46] { rejected = true; return }
        }
        process(bytes)
    }

    private static let windowLimit = 2 * GoBuildInfo.maxString + 64

    private mutating func process(_ bytes: UnsafeRawBufferPointer) {
        let magic = GoBuildInfo.magic
        var offset = 0
        while wantsMore && offset < bytes.count {
            if window != nil {
                let take = min(Self.windowLimit - window!.count, bytes.count - offset)
                window!.append(contentsOf: bytes[offset..<offset + take])
                offset += take
                switch GoBuildInfo.parse(window!) {
                case .complete(let info)?: result = info
                case .incomplete? where window!.count < Self.windowLimit: break
                default:
                    // Not a build info blob: search again from the byte after its magic.
                    let redo = Array(window!.dropFirst())
                    window = nil
                    tail = []
                    redo.withUnsafeBytes { process($0) }
                }
                continue
            }
            if !tail.isEmpty {
                let end = min(offset + magic.count - 1, bytes.count)
                let joined = tail + bytes[offset..<end]
                tail = []
                if let found = Self.find(magic, in: joined) {
                    window = Array(joined[found...])
                    offset = end
                    continue
                }
                if end == bytes.count {
                    tail = Array(joined.suffix(magic.count - 1))
                    offset = end
                    continue
                }
            }
            let rest = UnsafeRawBufferPointer(rebasing: bytes[offset...])
            if let found = Self.find(magic, in: rest) {
                window = []
                offset += found
            } else {
                tail = Array(rest.suffix(magic.count - 1))
                offset = bytes.count
            }
        }
    }

    private static func find(_ needle: [UInt8], in haystack: [UInt8]) -> Int? {
        haystack.withUnsafeBytes { find(needle, in: $0) }
    }

    /// The first offset of `needle` in `haystack`: memchr for its last byte (`:`,
    /// about 30 times rarer in machine code than its first, `0xFF`), then memcmp.
    private static func find(_ needle: [UInt8], in haystack: UnsafeRawBufferPointer) -> Int? {
        guard let base = haystack.baseAddress, haystack.count >= needle.count else { return nil }
        let anchor = needle.count - 1
        var offset = anchor
        return needle.withUnsafeBytes { pattern -> Int? in
            while offset < haystack.count {
                guard let hit = memchr(base + offset, Int32(needle[anchor]), haystack.count - offset) else { return nil }
                let at = base.distance(to: UnsafeRawPointer(hit)) - anchor
                if memcmp(base + at, pattern.baseAddress!, needle.count) == 0 { return at }
                offset = at + anchor + 1
            }
            return nil
        }
    }
}
