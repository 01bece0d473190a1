import FoundationEssentials
import Testing
@testable import FrostbyteCore

@Suite("Text helpers that replace Foundation's ICU-backed formatting")
struct TextTests {
    @Test("fixed rounds half away from zero", arguments: [
        (2.345, 1, "2.3"), (2.35, 1, "2.4"), (0.04, 1, "0.0"), (12.0, 0, "12"), (99.5, 0, "100"),
        (-1.25, 1, "-1.3"), (1.005, 2, "1.00"), (1234.5678, 3, "1234.568"),
    ])
    func fixed(_ value: Double, _ digits: Int, _ expected: String) {
        #expect(TextFormat.fixed(value, digits: digits) == expected)
    }

    @Test("hex pads to its width")
    func hex() {
        #expect(TextFormat.hex(UInt8(10), width: 2) == "0a")
        #expect(TextFormat.hex(UInt32(0xABC), width: 6) == "000abc")
        #expect(TextFormat.hex(UInt64.max, width: 16) == "ffffffffffffffff")
    }

    @Test("column and padded align text")
    func columns() {
        #expect(TextFormat.column("name", width: 6) == "name  ")
        #expect(TextFormat.column("a long label", width: 4) == "a lo")
        #expect(TextFormat.padded("5", width: 3) == "  5")
    }

    @Test("trimmed removes only the asked characters at both ends")
    func trimmed() {
        #expect(" \t a b \n".trimmed() == "a b")
        #expect(" a \n".trimmed(.whitespaces) == "a \n")
        #expect("\nab\n\n".trimmed(.newlines) == "ab")
        #expect("\"x\"".trimmed(.characters("\"")) == "x")
        #expect("   ".trimmed() == "")
    }

    @Test("UTC time stamps in the three styles")
    func utc() {
        let date = Date(timeIntervalSince1970: 1_767_225_600.123)   // 2026-01-01T00:00:00.123Z
        #expect(UTCTime.format(date, .seconds) == "2026-01-01T00:00:00Z")
        #expect(UTCTime.format(date, .milliseconds) == "2026-01-01T00:00:00.123Z")
        #expect(UTCTime.format(date, .compact) == "20260101T000000Z")
    }
}
