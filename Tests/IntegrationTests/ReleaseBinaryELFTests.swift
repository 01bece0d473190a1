import Foundation
import Testing
import TestSupport

/// The release binary (FROSTBYTE_RELEASE_BIN, made by scripts/release-binary)
/// loads on a bare glibc 2.34 host: it names only the C/C++ runtime libraries
/// every such host has, and no symbol version newer than glibc 2.34 (RHEL 9)
/// or GCC 11's libstdc++ (GLIBCXX_3.4.29, RHEL 9). Negative control, done by
/// hand: the same test against `swift build -c release --static-swift-stdlib`
/// (dynamic libarchive/libcrypto/libyaml/libzstd, hypot@GLIBC_2.35) fails on
/// NEEDED and on GLIBC_2.35 (docs/PORTABILITY.md).
@Suite("release binary: ELF dependencies", .enabled(if: ReleaseBinarySupport.binaryEnabled))
struct ReleaseBinaryELFTests {
    static let allowedNeeded: Set = ["libc.so.6", "libm.so.6", "ld-linux-x86-64.so.2",
                                     "libstdc++.so.6", "libgcc_s.so.1"]

    @Test("NEEDED names only libc, libm, the loader, libstdc++ and libgcc_s")
    func needed() throws {
        let elf = try ELFDependencies(path: try ReleaseBinarySupport.requireBinary())
        #expect(!elf.needed.isEmpty, "readelf found no NEEDED entry: not a dynamic executable?")
        let extra = Set(elf.needed).subtracting(Self.allowedNeeded)
        #expect(extra.isEmpty, "libraries a bare host may lack: \(extra.sorted())")
    }

    @Test("no glibc symbol version above 2.34, no libstdc++ version above GLIBCXX_3.4.29")
    func symbolVersions() throws {
        let elf = try ELFDependencies(path: try ReleaseBinarySupport.requireBinary())
        let glibc = try #require(elf.highest("GLIBC_"), "no GLIBC_ version at all: objdump output not parsed?")
        #expect(!ELFDependencies.less([2, 34], glibc.version),
                "needs GLIBC_\(glibc.version.map(String.init).joined(separator: ".")) for \(glibc.symbols)")
        if let cxx = elf.highest("GLIBCXX_") {
            #expect(!ELFDependencies.less([3, 4, 29], cxx.version),
                    "needs GLIBCXX_\(cxx.version.map(String.init).joined(separator: ".")) for \(cxx.symbols)")
        }
    }

    @Test("the shipped binary is stripped and at most 30 MB, with no ICU data linked in")
    func size() throws {
        let path = try ReleaseBinarySupport.requireBinary()
        let size = try #require((try FileManager.default.attributesOfItem(atPath: path))[.size] as? NSNumber).int64Value
        #expect(size <= 30_000_000, "\(path) is \(size) bytes; the full Foundation (ICU) crept back in?")
        let symbols = try TestCommand.run(["nm", path])
        #expect(symbols.stderr.contains("no symbols"), "the shipped binary is not stripped")
    }

    @Test("the parsers read binutils' lines (and so can fail)")
    func parsers() throws {
        let dynamic = """
             0x0000000000000001 (NEEDED)             Shared library: [libarchive.so.13]
             0x0000000000000001 (NEEDED)             Shared library: [libc.so.6]
             0x000000000000000c (INIT)               0x2d000
            """
        #expect(ELFDependencies.parseNeeded(dynamic) == ["libarchive.so.13", "libc.so.6"])
        let symbols = """
            0000000000000000      DF *UND*\t0000000000000000 (GLIBC_2.35) hypot
            0000000000000000      DF *UND*\t0000000000000000 (GLIBC_2.2.5) free
            00000000003a7400 g    DF .text\t000000000000000a  Base        hypotf
            """
        let versions = ELFDependencies.parseUndefinedVersions(symbols)
        #expect(versions == ["GLIBC_2.35": ["hypot"], "GLIBC_2.2.5": ["free"]])
        #expect(throws: (any Error).self) { try ELFDependencies(path: "/nonexistent") }
        #expect(ELFDependencies.less([2, 9], [2, 34]) && ELFDependencies.less([2, 34], [2, 34, 1]))
    }
}
