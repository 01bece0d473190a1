import BundleFormat
import FrostbyteCrypto
import Foundation
import Testing
import TestSupport

@Suite("Signing: Ed25519 keys and signatures interchangeable with openssl")
struct SigningInteropTests {
    @Test("our signature verifies with openssl pkeyutl -rawin; a changed message does not")
    func opensslVerifiesOurSignature() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let key = try SigningKey.generate()
        let message = Data("{\n  \"format\" : \"frostbyte-bundle/1\"\n}\n".utf8)
        try key.publicPEM().write(to: URL(fileURLWithPath: folder.file("k.pub")))
        try message.write(to: URL(fileURLWithPath: folder.file("m")))
        try key.sign(message).write(to: URL(fileURLWithPath: folder.file("m.sig")))
        let verify = ["openssl", "pkeyutl", "-verify", "-pubin", "-inkey", folder.file("k.pub"), "-rawin",
                      "-in", folder.file("m"), "-sigfile", folder.file("m.sig")]
        #expect(try TestCommand.run(verify).status == 0)
        try (message + Data("x".utf8)).write(to: URL(fileURLWithPath: folder.file("m")))
        #expect(try TestCommand.run(verify).status != 0, "negative control")
    }

    @Test("an openssl genpkey key signs what we verify, and its fingerprint matches openssl's DER digest")
    func opensslKeyWorksHere() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        #expect(try TestCommand.run(["openssl", "genpkey", "-algorithm", "ed25519", "-out", folder.file("k.key")]).status == 0)
        #expect(try TestCommand.run(["openssl", "pkey", "-in", folder.file("k.key"), "-pubout", "-out", folder.file("k.pub")]).status == 0)
        let key = try SigningKey(contentsOf: folder.file("k.key"))
        let publicKey = try VerifyingKey(contentsOf: folder.file("k.pub"))
        let message = Data("manifest bytes".utf8)
        try message.write(to: URL(fileURLWithPath: folder.file("m")))
        #expect(try TestCommand.run(["openssl", "pkeyutl", "-sign", "-inkey", folder.file("k.key"), "-rawin",
                                     "-in", folder.file("m"), "-out", folder.file("m.sig")]).status == 0)
        let opensslSignature = try Data(contentsOf: URL(fileURLWithPath: folder.file("m.sig")))
        #expect(publicKey.isValidSignature(opensslSignature, for: message))
        #expect(try key.sign(message) == opensslSignature, "Ed25519 is deterministic")
        #expect(!publicKey.isValidSignature(opensslSignature, for: message + Data("!".utf8)))
        let der = try TestCommand.run(["openssl", "pkey", "-pubin", "-in", folder.file("k.pub"), "-outform", "DER"])
        #expect(try publicKey.fingerprint() == SHA256Hasher.hash(der.data))
    }

    @Test("non-Ed25519 and non-PEM keys are refused with exit status 2")
    func badKeys() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        #expect(try TestCommand.run(["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
                                     "-out", folder.file("ec.key")]).status == 0)
        #expect(throws: SigningError.notEd25519(path: folder.file("ec.key"))) {
            try SigningKey(contentsOf: folder.file("ec.key"))
        }
        try Data("not a key\n".utf8).write(to: URL(fileURLWithPath: folder.file("junk.key")))
        do {
            _ = try SigningKey(contentsOf: folder.file("junk.key"))
            Issue.record("junk key accepted")
        } catch let error as SigningError {
            #expect(error.exitStatus == .badInput)
            #expect(error.message.contains(folder.file("junk.key")))
        }
    }
}
