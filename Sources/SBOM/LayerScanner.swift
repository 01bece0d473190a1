import FoundationEssentials

/// Reads an uncompressed layer tar from the chunks it streams in, and keeps only what
/// `LayerScan` describes. It never buffers more than one 512-byte header, the pax or
/// GNU long-name records of the current entry, and the kept files.
///
/// Guarantees: any byte sequence is accepted without a crash; input whose first
/// block is not a valid ustar/GNU/pax header (a config JSON, a compressed layer)
/// gives `scan == nil`; input after the end-of-archive blocks is ignored; a damaged
/// header later on stops the scan and keeps what was seen before it.
public final class LayerScanner {
    private var result = LayerScan()
    private var isTar: Bool?
    private var finished = false
    private var header = [UInt8]()
    /// Data bytes of the current entry still to come, then its padding to 512.
    private var remaining: Int64 = 0
    private var padding: Int64 = 0
    private var capture: [UInt8]?
    /// The most bytes of the current entry `capture` keeps.
    private var captureLimit = Int.max
    /// Looks for Go build info in the current regular file (none kept of it).
    private var goFinder: GoBuildInfoFinder?
    private var current: (path: String, type: UInt8)?
    /// Pending pax (`x`) or GNU (`L`, `K`) records for the next entry.
    private var nextPath: String?
    private var nextLink: String?

    public init() {}

    /// The layer's scan, or nil when the bytes were not a tar archive.
    public var scan: LayerScan? { isTar == true ? result : nil }

    /// Feeds the next bytes of the layer.
    public func consume(_ bytes: UnsafeRawBufferPointer) {
        var offset = 0
        while offset < bytes.count && !finished {
            if remaining > 0 {
                let take = Int(min(Int64(bytes.count - offset), remaining))
                if capture != nil {
                    capture!.append(contentsOf: bytes[offset..<offset + min(take, max(0, captureLimit - capture!.count))])
                }
                if goFinder?.wantsMore == true {
                    goFinder!.feed(UnsafeRawBufferPointer(rebasing: bytes[offset..<offset + take]))
                }
                offset += take
                remaining -= Int64(take)
                if remaining == 0 { completeEntry() }
            } else if padding > 0 {
                let take = Int(min(Int64(bytes.count - offset), padding))
                offset += take
                padding -= Int64(take)
            } else {
                let take = min(bytes.count - offset, 512 - header.count)
                header.append(contentsOf: bytes[offset..<offset + take])
                offset += take
                if header.count == 512 {
                    parseHeader(header)
                    header.removeAll(keepingCapacity: true)
                }
            }
        }
    }

    private func parseHeader(_ block: [UInt8]) {
        if block.allSatisfy({ $0 == 0 }) {
            if isTar == nil { isTar = false }
            finished = true
            return
        }
        guard Self.checksumMatches(block), let size = Self.number(block[124..<136]) else {
            if isTar == nil { isTar = false }
            finished = true
            return
        }
        isTar = true
        let type = block[156]
        let ustar = block[257..<262].elementsEqual("ustar".utf8) && block[262] == 0
        var name = Self.string(block[0..<100])
        if ustar, case let prefix = Self.string(block[345..<500]), !prefix.isEmpty { name = prefix + "/" + name }
        let path = Self.normalize(nextPath ?? name)
        let link = nextLink ?? Self.string(block[157..<257])
        remaining = size
        padding = (512 - size % 512) % 512
        current = nil
        capture = nil
        captureLimit = Int.max
        goFinder = nil
        switch type {
        case UInt8(ascii: "x"), UInt8(ascii: "L"), UInt8(ascii: "K"):
            current = (path, type)
            capture = size <= 1 << 20 ? [] : nil
        case UInt8(ascii: "g"):
            break
        default:
            nextPath = nil
            nextLink = nil
            record(path: path, type: type, link: link, size: size)
        }
        if remaining == 0 { completeEntry() }
    }

    private func record(path: String, type: UInt8, link: String, size: Int64) {
        let name = path.split(separator: "/").last.map(String.init) ?? path
        let parent = path.contains("/") ? String(path[..<path.lastIndex(of: "/")!]) : ""
        if name == ".wh..wh..opq" {
            result.opaqueFolders.append(parent)
            return
        }
        if name.hasPrefix(".wh.") {
            result.whiteouts.append((parent.isEmpty ? "" : parent + "/") + name.dropFirst(4))
            return
        }
        let regular = type == UInt8(ascii: "0") || type == 0 || type == UInt8(ascii: "7")
        guard LayerScan.matters(path) else {
            guard regular else { return }
            current = (path, type)
            if LanguagePackages.keeps(path) {
                capture = []
                captureLimit = LayerScan.patternFileLimit
            } else if size >= 64 {
                goFinder = GoBuildInfoFinder()
            }
            return
        }
        switch type {
        case UInt8(ascii: "0"), 0, UInt8(ascii: "7"):
            if LayerScan.keepsContent(path) && size <= LayerScan.keptFileLimit {
                current = (path, type)
                capture = []
            } else {
                result.nodes[path] = .other
            }
        case UInt8(ascii: "2"): result.nodes[path] = .symlink(link)
        case UInt8(ascii: "5"): result.nodes[path] = .directory
        default: result.nodes[path] = .other
        }
    }

    private func completeEntry() {
        defer { capture = nil; current = nil; goFinder = nil }
        if let current, let info = goFinder?.result {
            result.nodes[current.path] = .goBinary(info)
            return
        }
        guard let current, let data = capture else { return }
        switch current.type {
        case UInt8(ascii: "x"):
            for (key, value) in Self.paxRecords(data) {
                if key == "path" { nextPath = value }
                if key == "linkpath" { nextLink = value }
            }
        case UInt8(ascii: "L"): nextPath = Self.string(data[...])
        case UInt8(ascii: "K"): nextLink = Self.string(data[...])
        default: result.nodes[current.path] = .file(Data(data))
        }
    }

    /// `path` as the catalogue names it: no `./` or `/` in front, none at the end.
    static func normalize(_ path: String) -> String {
        var text = Substring(path)
        while text.hasPrefix("./") || text.hasPrefix("/") { text = text.dropFirst(text.hasPrefix("./") ? 2 : 1) }
        while text.hasSuffix("/") { text = text.dropLast() }
        return String(text)
    }

    private static func string(_ bytes: ArraySlice<UInt8>) -> String {
        let end = bytes.firstIndex(of: 0) ?? bytes.endIndex
        return String(decoding: bytes[bytes.startIndex..<end], as: UTF8.self)
    }

    /// An octal field, or base-256 when its high bit is set (GNU, sizes >= 8 GiB).
    private static func number(_ field: ArraySlice<UInt8>) -> Int64? {
        if let first = field.first, first & 0x80 != 0 {
            var value: Int64 = Int64(first & 0x3F)
            for byte in field.dropFirst() {
                guard value < Int64.max >> 8 else { return nil }
                value = value << 8 | Int64(byte)
            }
            return value
        }
        var value: Int64 = 0
        var seenDigit = false
        for byte in field {
            if byte == 0 || byte == 0x20 { if seenDigit { break } else { continue } }
            guard byte >= 0x30 && byte <= 0x37, value < Int64.max >> 3 else { return nil }
            value = value << 3 | Int64(byte - 0x30)
            seenDigit = true
        }
        return value
    }

    private static func checksumMatches(_ block: [UInt8]) -> Bool {
        guard let stored = number(block[148..<156]) else { return false }
        var sum: Int64 = 0
        for (index, byte) in block.enumerated() { sum += (148..<156).contains(index) ? 0x20 : Int64(byte) }
        return sum == stored
    }

    /// `<length> <key>=<value>\n` records of a pax extended header.
    private static func paxRecords(_ data: [UInt8]) -> [(String, String)] {
        var records: [(String, String)] = []
        var index = 0
        while index < data.count {
            guard let space = data[index...].firstIndex(of: 0x20),
                  let length = Int(String(decoding: data[index..<space], as: UTF8.self)), length > 0,
                  index + length <= data.count else { break }
            let record = data[(space + 1)..<(index + length - 1)]
            if let equals = record.firstIndex(of: UInt8(ascii: "=")) {
                records.append((String(decoding: record[record.startIndex..<equals], as: UTF8.self),
                                String(decoding: record[(equals + 1)...], as: UTF8.self)))
            }
            index += length
        }
        return records
    }
}
