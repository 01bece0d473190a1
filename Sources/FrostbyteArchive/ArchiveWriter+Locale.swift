import FoundationEssentials
import Glibc

#if canImport(Glibc)
#endif

/// The locale libarchive converts entry names under, shared by `ArchiveWriter` and
/// `ArchiveReader` so both sides treat names the same way.
///
/// libarchive converts pax `path` records (UTF-8 by the pax standard) to and from the
/// calling thread's `LC_CTYPE`. The process never calls `setlocale`, so that is the C
/// locale whatever `LANG` says, and there a non-ASCII name has no form: the pax writer
/// crashes on it and the reader fails with "Pathname can't be converted from UTF-8 to
/// current locale". `withUTF8Names` runs libarchive calls under C.UTF-8 for the calling
/// thread only (`uselocale`; other threads and the global locale are untouched), so
/// names pass through as the UTF-8 bytes the format prescribes and the archive bytes
/// never depend on the user's locale.
enum ArchiveNameLocale {
    /// C.UTF-8 (glibc >= 2.35 has it built in), else en_US.UTF-8; nil when neither exists,
    /// and then calls run under the thread's current locale.
    nonisolated(unsafe) private static let utf8: locale_t? =
        newlocale(LC_CTYPE_MASK, "C.UTF-8", nil) ?? newlocale(LC_CTYPE_MASK, "en_US.UTF-8", nil)

    /// Runs `body` with this thread's `LC_CTYPE` set to UTF-8 and restores the thread's
    /// previous locale afterwards, also when `body` throws.
    static func withUTF8Names<T>(_ body: () throws -> T) rethrows -> T {
        guard let locale = utf8 else { return try body() }
        let previous = uselocale(locale)
        defer { uselocale(previous) }
        return try body()
    }
}
