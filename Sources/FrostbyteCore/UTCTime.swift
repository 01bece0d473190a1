import FoundationEssentials
import Glibc

/// UTC time stamps as the tool writes them, with `gmtime_r` and `strftime` (no
/// locale, no ICU): the one time formatter of the tool.
public enum UTCTime {
    public enum Style: Sendable {
        /// `2026-01-01T12:00:00Z` (RFC 3339, whole seconds): manifests, receipts, journals.
        case seconds
        /// `2026-01-01T12:00:00.123Z` (RFC 3339, milliseconds): evidence of one check.
        case milliseconds
        /// `20260101T120000Z`: sorts by time and is valid in file and bundle names.
        case compact
    }

    /// `date` in `style`.
    public static func format(_ date: Date, _ style: Style = .seconds) -> String {
        // Whole milliseconds first, so 0.123 stays 123 whatever the binary fraction.
        let milliseconds = Int64((date.timeIntervalSince1970 * 1000).rounded())
        let wholeSeconds = milliseconds >= 0 ? milliseconds / 1000 : (milliseconds - 999) / 1000
        var time = time_t(style == .milliseconds ? wholeSeconds : Int64(date.timeIntervalSince1970.rounded(.down)))
        var parts = tm()
        gmtime_r(&time, &parts)
        var buffer = [CChar](repeating: 0, count: 32)
        let pattern = style == .compact ? "%Y%m%dT%H%M%SZ" : "%Y-%m-%dT%H:%M:%S"
        let count = strftime(&buffer, buffer.count, pattern, &parts)
        let text = String(decoding: buffer[0..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        switch style {
        case .compact: return text
        case .seconds: return text + "Z"
        case .milliseconds:
            let padded = String(milliseconds - wholeSeconds * 1000)
            return text + "." + String(repeating: "0", count: 3 - padded.count) + padded + "Z"
        }
    }

    /// Now, in `style`.
    public static func now(_ style: Style = .seconds) -> String { format(Date(), style) }
}
