import FrostbyteCore
import FrostbyteCrypto
import FoundationEssentials
import Glibc

/// `<bundle>.parts.json`: the index of a bundle written as parts (`build --split`,
/// docs/FORMAT.md "Split media"). The parts, joined in `index` order (`cat
/// <bundle>.part*`), are the bundle byte for byte. Encoded by `ManifestCoding` (keys
/// sorted), so the same parts give the same index bytes; `<bundle>.parts.json.sig`,
/// when present, is the raw Ed25519 signature of those exact bytes.
public struct SplitPartsIndex: Codable, Sendable, Equatable {
    /// The one schema this version writes and reads.
    public static let schema = "frostbyte-bundle-parts/1"
    /// A parts index is recognised by its name: `<bundle>.parts.json`.
    public static let suffix = ".parts.json"
    /// The largest index this reads (an index lists parts, it is never huge).
    static let sizeLimit = 16 << 20

    /// One part: `file` is a plain file name in the index's folder.
    public struct Part: Codable, Sendable, Equatable {
        public var file: String
        /// 1, 2, ... in the order the parts are joined.
        public var index: Int
        public var size: Int64
        public var sha256: SHA256Digest

        public init(file: String, index: Int, size: Int64, sha256: SHA256Digest) {
            self.file = file; self.index = index; self.size = size; self.sha256 = sha256
        }
    }

    public var schema: String
    /// The file name of the whole bundle (`demo-1.0.0.tar.zst`); parts are `<bundle>.partNNN`.
    public var bundle: String
    public var name: String
    public var version: String
    public var bundleId: String
    /// Size and SHA-256 of the whole bundle (all parts joined).
    public var size: Int64
    public var sha256: SHA256Digest
    /// The size of every part but the last (which may be smaller).
    public var partSize: Int64
    public var parts: [Part]

    enum CodingKeys: String, CodingKey {
        case schema, bundle, name, version, size, sha256, parts
        case bundleId = "bundle_id"
        case partSize = "part_size"
    }

    public init(bundle: String, name: String, version: String, bundleId: String, size: Int64,
                sha256: SHA256Digest, partSize: Int64, parts: [Part]) {
        self.schema = Self.schema
        self.bundle = bundle; self.name = name; self.version = version; self.bundleId = bundleId
        self.size = size; self.sha256 = sha256; self.partSize = partSize; self.parts = parts
    }

    /// True when `path` names a parts index (it ends in `.parts.json`).
    public static func isIndexPath(_ path: String) -> Bool {
        path.hasSuffix(suffix) && PathText.lastComponent(path).count > suffix.count
    }

    /// The name of part `index` of `count`: `<bundle>.part` and the number with at
    /// least 3 digits, more when `count` needs them, so the names sort in join order
    /// (`cat <bundle>.part*` joins them right).
    public static func partName(bundle: String, index: Int, count: Int) -> String {
        let width = max(3, String(count).count)
        let digits = String(index)
        return bundle + ".part" + String(repeating: "0", count: max(0, width - digits.count)) + digits
    }

    /// The part number in `name` when it is `<bundle>.part<digits>`, else nil.
    static func partNumber(_ name: String, bundle: String) -> Int? {
        let prefix = bundle + ".part"
        guard name.hasPrefix(prefix) else { return nil }
        let digits = name.dropFirst(prefix.count)
        guard !digits.isEmpty, digits.count <= 9, digits.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
        return Int(digits)
    }

    /// True for a name that stays in its folder: not empty, `.` or `..`, no `/`, no
    /// control characters.
    static func isPlainFileName(_ name: String) -> Bool {
        !name.isEmpty && name != "." && name != ".." && !name.contains("/")
            && !name.unicodeScalars.contains { $0.value < 0x20 || $0.value == 0x7F }
    }

    /// Parses and checks index bytes read from `path` (named in errors).
    /// - Throws: `SplitIndexError` (exit 2) for anything but a well-formed index.
    public static func decode(_ data: Data, path: String) throws -> SplitPartsIndex {
        struct SchemaProbe: Decodable { let schema: String? }
        if let schema = (try? JSONDecoder().decode(SchemaProbe.self, from: data))?.schema, schema != Self.schema {
            throw SplitIndexError.schema(path: path, found: schema)
        }
        let index: SplitPartsIndex
        do {
            index = try JSONDecoder().decode(SplitPartsIndex.self, from: data)
        } catch DecodingError.keyNotFound(let key, let context) {
            let field = (context.codingPath + [key]).map(\.stringValue).joined(separator: ".")
            throw SplitIndexError.malformed(path: path, detail: "the field '\(field)' is missing")
        } catch {
            throw SplitIndexError.malformed(path: path, detail: "it is not the JSON of a parts index")
        }
        try index.check(path: path)
        return index
    }

    /// The structural rules: plain names `<bundle>.part<number>`, numbered 1...n in
    /// order, every part but the last `part_size` bytes, sizes adding up to `size`.
    private func check(path: String) throws {
        guard Self.isPlainFileName(bundle) else {
            throw SplitIndexError.malformed(path: path, detail: "'bundle' must be a plain file name, not '\(bundle)'")
        }
        guard !parts.isEmpty else { throw SplitIndexError.malformed(path: path, detail: "it lists no parts") }
        guard partSize > 0, size > 0 else {
            throw SplitIndexError.malformed(path: path, detail: "'size' and 'part_size' must be positive")
        }
        var total: Int64 = 0
        for (offset, part) in parts.enumerated() {
            let number = offset + 1
            guard Self.isPlainFileName(part.file) else {
                throw SplitIndexError.outsideFolder(path: path, part: number, file: part.file)
            }
            guard part.index == number else {
                throw SplitIndexError.malformed(path: path, detail: "part \(number) is numbered \(part.index); parts must be numbered 1, 2, ... in order")
            }
            guard Self.partNumber(part.file, bundle: bundle) == number else {
                throw SplitIndexError.malformed(
                    path: path, detail: "part \(number) is named '\(part.file)', not '\(Self.partName(bundle: bundle, index: number, count: parts.count))'")
            }
            let isLast = number == parts.count
            guard part.size > 0, isLast ? part.size <= partSize : part.size == partSize else {
                throw SplitIndexError.malformed(
                    path: path, detail: "part \(number) is \(part.size) bytes; every part but the last must be part_size (\(partSize)) bytes, the last at most that")
            }
            let (sum, overflow) = total.addingReportingOverflow(part.size)
            guard !overflow else {
                throw SplitIndexError.malformed(path: path, detail: "its part sizes add up to more than \(Int64.max) bytes")
            }
            total = sum
        }
        guard total == size else {
            throw SplitIndexError.malformed(path: path, detail: "its parts add up to \(total) bytes, not the listed size \(size)")
        }
    }
}

/// A parts index that cannot be used at all: bad input, exit status 2, nothing read
/// from any part.
public enum SplitIndexError: UserFacingError, Equatable {
    case unreadable(path: String, reason: String)
    case schema(path: String, found: String)
    case malformed(path: String, detail: String)
    /// A part named with a path (`../x`, `a/b`): parts must lie beside the index.
    case outsideFolder(path: String, part: Int, file: String)

    public var message: String {
        switch self {
        case .unreadable(let path, let reason):
            return "cannot read the parts index \(path): \(reason)"
        case .schema(let path, let found):
            return "\(path) has schema '\(found)', but this version reads only \(SplitPartsIndex.schema); use a newer frostbyte-bundle"
        case .malformed(let path, let detail):
            return "\(path) is not a usable parts index: \(detail); pass the .parts.json that 'build --split' wrote"
        case .outsideFolder(let path, let part, let file):
            return "\(path) names part \(part) '\(file)', which is not a file beside the index; refused (parts must be plain file names in the index's folder)"
        }
    }

    public var exitStatus: ExitStatus { .badInput }
}
