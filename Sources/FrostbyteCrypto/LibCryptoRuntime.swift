internal import CLibCrypto

/// libcrypto's process-wide initialisation, done once and before any other libcrypto
/// call of this module.
///
/// Guarantees: libcrypto registers no atexit cleanup (`OPENSSL_INIT_NO_ATEXIT`). By
/// default OpenSSL 3 frees its digest and provider tables in an atexit handler, so a
/// process that exits (an error reported by the main thread) while another thread still
/// hashes crashed in libcrypto (SIGSEGV, exit 139) instead of exiting with its status.
/// The operating system reclaims the memory at exit anyway.
public enum LibCryptoRuntime {
    private static let initialised: Bool = fb_openssl_init_no_atexit() == 1

    /// Initialises libcrypto (once; later calls do nothing). The command line calls it
    /// first thing; every type of this module calls it before its first libcrypto call.
    public static func prepare() {
        precondition(initialised, "libcrypto could not be initialised")
    }
}
