/// Number formatting without Foundation's `String(format:)` (which needs the full
/// Foundation and its ICU tables): the few formats the tool prints.
public enum TextFormat {
    /// `value` rounded to `digits` decimals (half away from zero): fixed(2.345, 1) = "2.3".
    public static func fixed(_ value: Double, digits: Int) -> String {
        guard value.isFinite else { return "\(value)" }
        var scale = 1.0
        for _ in 0..<max(0, digits) { scale *= 10 }
        let scaled = (abs(value) * scale).rounded()
        let whole = Int64(scaled / scale)
        let fraction = Int64(scaled - Double(whole) * scale)
        let sign = value < 0 && scaled != 0 ? "-" : ""
        guard digits > 0 else { return sign + String(whole) }
        let text = String(fraction)
        return sign + String(whole) + "." + String(repeating: "0", count: max(0, digits - text.count)) + text
    }

    /// `value` in lowercase hexadecimal, zero-padded to `width` digits.
    public static func hex<T: BinaryInteger>(_ value: T, width: Int) -> String {
        let text = String(value, radix: 16)
        return String(repeating: "0", count: max(0, width - text.count)) + text
    }

    /// `value` right-aligned in `width` columns.
    public static func padded(_ value: String, width: Int) -> String {
        String(repeating: " ", count: max(0, width - value.count)) + value
    }

    /// `value` left-aligned in exactly `width` columns (cut when longer).
    public static func column(_ value: String, width: Int) -> String {
        value.count >= width ? String(value.prefix(width)) : value + String(repeating: " ", count: width - value.count)
    }
}
