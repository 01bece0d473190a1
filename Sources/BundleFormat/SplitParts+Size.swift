import FrostbyteCore
import FoundationEssentials

/// The part size of `build --split SIZE`: a whole number of bytes, or one followed by
/// `K`, `M`, `G` or `T` (binary units, either case: `4G` = 4 * 2^30 bytes, `4700M`,
/// `1048576`). At least 1 MiB: smaller parts only multiply files (a typo such as `4`
/// for `4G` would make billions of them).
public enum SplitSize {
    /// The smallest part size `build --split` accepts.
    public static let minimum: Int64 = 1 << 20

    /// The size `text` names, in bytes.
    /// - Throws: `SplitSizeError` (exit 2): not a size, or under `minimum`.
    public static func parse(_ text: String) throws -> Int64 {
        var digits = Substring(text)
        var shift: Int64 = 0
        if let unit = digits.last, !unit.isNumber {
            switch unit {
            case "K", "k": shift = 10
            case "M", "m": shift = 20
            case "G", "g": shift = 30
            case "T", "t": shift = 40
            default: throw SplitSizeError.notASize(text)
            }
            digits = digits.dropLast()
        }
        guard !digits.isEmpty, digits.count <= 18, digits.allSatisfy({ $0.isASCII && $0.isNumber }),
              let number = Int64(digits) else { throw SplitSizeError.notASize(text) }
        let (bytes, overflow) = number.multipliedReportingOverflow(by: Int64(1) << shift)
        guard !overflow else { throw SplitSizeError.notASize(text) }
        guard bytes >= minimum else { throw SplitSizeError.tooSmall(text) }
        return bytes
    }
}

/// A `--split` value that is not a usable part size.
public enum SplitSizeError: UserFacingError, Equatable {
    case notASize(String)
    case tooSmall(String)

    public var message: String {
        switch self {
        case .notASize(let text):
            return "--split '\(text)' is not a size; give bytes or a number with K, M, G or T (binary units), e.g. --split 4G or --split 4700M"
        case .tooSmall(let text):
            return "--split '\(text)' is smaller than the minimum part size of 1M (1048576 bytes); give e.g. --split 4G"
        }
    }

    public var exitStatus: ExitStatus { .badInput }
}
