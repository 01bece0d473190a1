import FoundationEssentials

/// The one JSON encoding of everything the tool writes for others to hash or compare
/// (manifests, receipts, reports, SBOMs, DSSE envelopes): keys sorted, 2-space
/// indentation, `/` not escaped, one trailing newline. The same value always gives the
/// same bytes.
public enum DeterministicJSON {
    /// A JSON encoder with that configuration (for callers that encode without the
    /// trailing newline, e.g. one line of `--json` output).
    public static func encoder() -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return encoder
    }

    /// Deterministic JSON bytes of `value`, ending in a newline.
    public static func encode<T: Encodable>(_ value: T) throws -> Data {
        var data = try encoder().encode(value)
        data.append(0x0A)
        return data
    }
}
