import BundleFormat
import FrostbyteCrypto
import Foundation
import TestSupport
import Testing

/// Bad bundles, bad input and bad hosts: each refused with a clear message and the
/// contract's exit status, and nothing changed (no prefix content, no images loaded).
@Suite("Install refusals (real dockerd)", .serialized,
       .enabled(if: Docker.demoImagesPresent, "needs scripts/make-demo-images"), .requiresDocker)
struct InstallRefusalTests {
    /// A bundle with one flipped byte in an image archive: exit 1, no staging folder,
    /// no release, no `current`, and `docker images` exactly as before.
    @Test func tamperedBundleIsRefusedBeforeDockerLoad() throws {
        let folder = try TestRun.scratchFolder("fbinst-tamper")
        let project = InstallHarness.project("tamper")
        let prefix = InstallHarness.prefix("tamper")
        defer {
            try? FileManager.default.removeItem(atPath: folder)
            InstallHarness.cleanup(project: project, prefix: prefix)
        }
        var spec = DemoBundle(tamperImage: true)
        spec.repository = "\(InstallHarness.repository)-tampered"
        let bundle = try spec.write(in: folder)
        let before = try InstallHarness.imageListing()
        let result = try TestCommand.tool(["install", bundle, "--allow-unsigned", "--prefix", prefix, "--project", project,
                                          "--subnet", "10.214.21.0/24"])
        #expect(result.status == 1, "\(result.stderr)")
        #expect(result.stderr.contains("images/gateway.tar"), "\(result.stderr)")
        #expect(try InstallHarness.imageListing() == before)
        #expect(InstallHarness.listing("\(prefix)/releases").isEmpty)
        #expect(!FileManager.default.fileExists(atPath: "\(prefix)/current"))
        #expect(try TestCommand.check(["docker", "ps", "-a", "-q", "--filter", "label=com.docker.compose.project=\(project)"]).isEmpty)

        // Negative control: the same bundle untampered installs up to the start of loading.
        spec.tamperImage = false
        let good = try spec.write(in: folder)
        let report = try BundleVerifier.verify(path: good)
        #expect(report.verified)
    }

    /// Signature policy: unsigned without --allow-unsigned is bad input (2); signed by
    /// a key that is not trusted fails verification (1); both leave no prefix content.
    @Test func signaturePolicy() throws {
        let folder = try TestRun.scratchFolder("fbinst-sig")
        let project = InstallHarness.project("sig")
        let prefix = InstallHarness.prefix("sig")
        defer {
            try? FileManager.default.removeItem(atPath: folder)
            InstallHarness.cleanup(project: project, prefix: prefix)
        }
        let unsigned = try InstallHarness.v1()
        let noPolicy = try TestCommand.tool(["install", unsigned, "--prefix", prefix, "--project", project])
        #expect(noPolicy.status == 2)
        #expect(noPolicy.stderr.contains("--trust") && noPolicy.stderr.contains("--allow-unsigned"))
        #expect(InstallHarness.listing(prefix).isEmpty)

        let releaseKey = try SigningKey.generate(), otherKey = try SigningKey.generate()
        try releaseKey.publicPEM().write(to: URL(fileURLWithPath: "\(folder)/release.pub"))
        try otherKey.publicPEM().write(to: URL(fileURLWithPath: "\(folder)/other.pub"))
        // Unsigned bundle with --trust: refused (1).
        let unsignedTrusted = try TestCommand.tool(["install", unsigned, "--trust", "\(folder)/release.pub", "--prefix", prefix,
                                                   "--project", project, "--subnet", "10.214.22.0/24"])
        #expect(unsignedTrusted.status == 1, "\(unsignedTrusted.stderr)")
        #expect(unsignedTrusted.stderr.contains("unsigned"))
        var spec = DemoBundle(signingKey: releaseKey, images: ["gateway"])
        spec.repository = InstallHarness.repository
        let signed = try spec.write(in: folder)
        let wrongKey = try TestCommand.tool(["install", signed, "--trust", "\(folder)/other.pub", "--prefix", prefix,
                                            "--project", project, "--subnet", "10.214.22.0/24"])
        #expect(wrongKey.status == 1, "\(wrongKey.stderr)")
        #expect(InstallHarness.listing("\(prefix)/releases").isEmpty)
        #expect(!FileManager.default.fileExists(atPath: "\(prefix)/current"))
        let both = try TestCommand.tool(["install", signed, "--trust", "\(folder)/release.pub", "--allow-unsigned", "--prefix", prefix])
        #expect(both.status == 2)
    }

    /// Bad input that preflight refuses (exit 2) without creating anything.
    @Test(arguments: [
        (["--subnet", "172.17.0.0/24"], "overlaps"),          // the default docker0 bridge
        (["--subnet", "8.8.8.0/24"], "RFC 1918"),
        (["--subnet", "10.214.23.5/24"], "host bits"),
        (["--project", "Bad_Name"], "project name"),
    ])
    func badInputChangesNothing(arguments: [String], expected: String) throws {
        let prefix = InstallHarness.prefix("bad")
        defer { try? FileManager.default.removeItem(atPath: prefix) }
        var options = arguments
        if !options.contains("--project") { options += ["--project", InstallHarness.project("bad")] }
        let result = try TestCommand.tool(["install", try InstallHarness.v1(), "--allow-unsigned", "--prefix", prefix] + options)
        #expect(result.status == 2, "\(result.stderr)")
        #expect(result.stderr.contains(expected), "\(result.stderr)")
        #expect(!FileManager.default.fileExists(atPath: prefix))
    }

    /// A subnet overlapping another project's docker network: exit 2 naming it; the
    /// same subnet is accepted once that network is gone (negative control).
    @Test func overlappingDockerNetwork() throws {
        let blocker = InstallHarness.project("blocker")
        let prefix = InstallHarness.prefix("overlap")
        defer {
            _ = try? TestCommand.run(["docker", "network", "rm", blocker])
            try? FileManager.default.removeItem(atPath: prefix)
        }
        try TestCommand.check(["docker", "network", "create", "--internal", "--subnet", "10.214.24.0/24",
                              "--label", "com.docker.compose.project=\(blocker)", blocker])
        let result = try TestCommand.tool(["install", try InstallHarness.v1(), "--allow-unsigned", "--prefix", prefix,
                                          "--project", InstallHarness.project("overlap"), "--subnet", "10.214.24.128/25"])
        #expect(result.status == 2)
        #expect(result.stderr.contains(blocker), "\(result.stderr)")
        #expect(!FileManager.default.fileExists(atPath: prefix))
    }

    /// Not root: exit 3 before anything is read or written.
    @Test func notRoot() throws {
        let prefix = InstallHarness.prefix("nonroot")
        let folder = try TestRun.scratchFolder("fbinst-nonroot")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        // A copy nobody can read, so the refusal cannot come from file permissions.
        let bundle = "\(folder)/demo.tar.zst"
        try FileManager.default.copyItem(atPath: try InstallHarness.v1(), toPath: bundle)
        chmod(folder, 0o755); chmod(bundle, 0o644)
        let result = try TestCommand.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                                         DockerTestSupport.binaryForOtherUsers, "install", bundle, "--allow-unsigned", "--prefix", prefix])
        #expect(result.status == 3, "\(result.stderr)")
        #expect(result.stderr.contains("root"))
        #expect(!FileManager.default.fileExists(atPath: prefix))
    }

    /// No engine answers (DOCKER_HOST at a socket that does not exist): exit 3 naming
    /// the problem, nothing created. Negative control: the real engine answers.
    @Test func dockerUnreachable() throws {
        let prefix = InstallHarness.prefix("nodocker")
        defer { try? FileManager.default.removeItem(atPath: prefix) }
        let result = try TestCommand.run([FrostbyteBinary.path, "install", try InstallHarness.v1(), "--allow-unsigned", "--prefix", prefix],
                                        environment: ["DOCKER_HOST": "unix:///nonexistent/fb-install-test.sock"])
        #expect(result.status == 3, "\(result.stderr)")
        #expect(result.stderr.contains("Docker engine does not answer"), "\(result.stderr)")
        #expect(!FileManager.default.fileExists(atPath: prefix))
        #expect(try TestCommand.run(["docker", "info", "--format", "{{.ServerVersion}}"]).status == 0)
    }

    /// A prefix on a 1 MiB tmpfs: exit 3 naming the space needed; nothing written there.
    @Test func tooLittleSpace() throws {
        let prefix = InstallHarness.prefix("space")
        try FileManager.default.createDirectory(atPath: prefix, withIntermediateDirectories: true)
        defer {
            _ = try? TestCommand.run(["umount", prefix])
            try? FileManager.default.removeItem(atPath: prefix)
        }
        try TestCommand.check(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", prefix])
        let result = try TestCommand.tool(["install", try InstallHarness.v1(), "--allow-unsigned", "--prefix", prefix,
                                          "--project", InstallHarness.project("space"), "--subnet", "10.214.25.0/24"])
        #expect(result.status == 3, "\(result.stderr)")
        #expect(result.stderr.contains("not enough free space"), "\(result.stderr)")
        #expect(InstallHarness.listing(prefix).isEmpty)
    }
    /// `--publish` where something on this host listens already (a socket this test
    /// holds), or at an address that is not this host's: exit 2 before the host is
    /// changed, naming what holds the port. The positive control is every install that
    /// publishes at a free port (IngressTests, InstallLifecycleTests).
    @Test func busyOrForeignPublishAddressIsRefused() throws {
        let project = InstallHarness.project("publish")
        let prefix = InstallHarness.prefix("publish")
        defer { InstallHarness.cleanup(project: project, prefix: prefix) }
        let holder = try LoopbackTCPListener()
        let placement = ["--allow-unsigned", "--prefix", prefix, "--project", project, "--subnet", "10.214.26.0/24"]
        let busy = try TestCommand.tool(["install", try InstallHarness.v1()] + placement
                                       + ["--publish", "127.0.0.1:\(holder.port)"])
        #expect(busy.status == 2, "\(busy.stderr)")
        #expect(busy.stderr.contains("--publish 127.0.0.1:\(holder.port)") && busy.stderr.contains("already listens there"),
                "\(busy.stderr)")
        #expect(busy.stderr.contains("pid \(getpid())"), "names what holds the port: \(busy.stderr)")
        #expect(InstallHarness.listing(prefix).isEmpty)
        #expect(try TestCommand.check(["docker", "ps", "-a", "-q", "--filter", "label=com.docker.compose.project=\(project)"]).isEmpty)

        // 192.0.2.1 (TEST-NET-1) is no address of this host; nothing is sent to it.
        let foreign = try TestCommand.tool(["install", try InstallHarness.v1()] + placement
                                          + ["--publish", "192.0.2.1:\(holder.port)"])
        #expect(foreign.status == 2, "\(foreign.stderr)")
        #expect(foreign.stderr.contains("not one of this host's"), "\(foreign.stderr)")
        #expect(InstallHarness.listing(prefix).isEmpty)
    }
}

/// A TCP socket listening on 127.0.0.1 at a free port, closed when the value goes away.
private final class LoopbackTCPListener {
    let fd: Int32
    let port: UInt16

    init() throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { raw in
                bind(fd, raw, length) == 0 && listen(fd, 4) == 0 && getsockname(fd, raw, &length) == 0
            }
        }
        guard fd >= 0, bound else {
            if fd >= 0 { close(fd) }
            throw TestFailure("could not listen on 127.0.0.1: errno \(errno)")
        }
        self.fd = fd
        port = UInt16(bigEndian: address.sin_port)
    }

    deinit { close(fd) }
}
