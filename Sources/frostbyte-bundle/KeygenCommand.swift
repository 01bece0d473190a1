import FrostbyteCore
import FrostbyteCrypto
import ArgumentParser
import FoundationEssentials
import Glibc

extension FrostbyteBundle {
    /// `keygen --out PREFIX`: an Ed25519 key pair, PREFIX.key (0600, PKCS#8 PEM) and
    /// PREFIX.pub (SPKI PEM), interchangeable with `openssl genpkey -algorithm ed25519`.
    struct Keygen: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "keygen",
            abstract: "Create an Ed25519 signing key pair (PREFIX.key and PREFIX.pub).",
            discussion: """
                Refuses to overwrite existing files. Prints the public key's fingerprint, \
                the SHA-256 of its DER encoding (openssl pkey -pubin -in PREFIX.pub -outform DER | sha256sum).
                """)

        @Option(help: "Path prefix of the key files.", completion: .file())
        var out: String

        @Flag(help: "Print {private_key, public_key, fingerprint} as JSON on stdout.")
        var json = false

        func run() async throws {
            try await runReportingErrors {
                let privatePath = out + ".key"
                let publicPath = out + ".pub"
                let key = try SigningKey.generate()
                let publicPEM = try key.publicPEM()
                let fingerprint = try key.verifyingKey().fingerprint()
                try KeyFiles.create(privatePath, contents: try key.privatePEM(), mode: 0o600, other: nil)
                do {
                    try KeyFiles.create(publicPath, contents: publicPEM, mode: 0o644, other: privatePath)
                } catch {
                    unlink(privatePath)
                    throw error
                }
                if json {
                    try Console.json(["private_key": privatePath, "public_key": publicPath,
                                      "fingerprint": "sha256:\(fingerprint.hex)"])
                } else {
                    Console.out("private key  \(privatePath) (keep it secret)")
                    Console.out("public key   \(publicPath)")
                    Console.out("fingerprint  sha256:\(fingerprint.hex)")
                }
            }
        }
    }
}

/// Creating key files without ever replacing one: `O_EXCL`, the final mode set at
/// creation, contents written in full or the file removed.
enum KeyFiles {
    /// Errors creating a key file.
    struct CreateError: UserFacingError {
        var path: String
        var reason: String
        var exists: Bool
        var message: String {
            exists ? "\(path) already exists; keygen never overwrites a key, choose another --out prefix or remove it"
                   : "cannot create \(path): \(reason); check that the folder exists and is writable"
        }
        var exitStatus: ExitStatus { .badInput }
    }

    static func create(_ path: String, contents: Data, mode: mode_t, other: String?) throws {
        let descriptor = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode)
        guard descriptor >= 0 else {
            let code = errno
            throw CreateError(path: path, reason: String(cString: strerror(code)), exists: code == EEXIST)
        }
        var failure = FileDescriptorIO.writeAll(descriptor, contents)
        if failure == nil, fchmod(descriptor, mode) != 0 { failure = String(cString: strerror(errno)) }
        if failure == nil, fsync(descriptor) != 0 { failure = String(cString: strerror(errno)) }
        if close(descriptor) != 0, failure == nil { failure = String(cString: strerror(errno)) }
        if let failure {
            unlink(path)
            throw CreateError(path: path, reason: failure, exists: false)
        }
    }
}
