import FoundationEssentials
import Glibc

// The libFuzzer entry point of frostbyte-fuzz (docs/FUZZING.md). One binary holds
// every target; FROSTBYTE_FUZZ_TARGET picks the one this process runs, so one
// instrumented build serves them all. scripts/fuzz sets it and the rest of the
// environment (FROSTBYTE_FUZZ_SPEC, FROSTBYTE_FUZZ_TRUST, sanitizer options); by hand:
//   FROSTBYTE_FUZZ_TARGET=dns .build-fuzz/debug/frostbyte-fuzz Fuzz/corpus/dns
// FROSTBYTE_FUZZ_TARGET=list prints the targets (scripts/fuzz --list).
// FROSTBYTE_FUZZ_MAKE_SEEDS=FOLDER writes the generated seed bundles of the verify
// target there and exits instead (scripts/fuzz --seeds).

/// The target this process feeds, chosen once in `fuzzMain`.
nonisolated(unsafe) private var selected: FuzzTarget?

/// libFuzzer's driver (the part of its `main` that parses flags and runs the loop).
@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(_ argc: UnsafeMutablePointer<Int32>,
                         _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
                         _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> Int32) -> Int32

/// The process entry point. SwiftPM links an executable target with
/// `main=<module>_main`, so this, not libFuzzer's own `main`, starts the process:
/// it picks the target, sets it up and hands over to libFuzzer's driver.
@_cdecl("frostbyte_fuzz_main")
public func fuzzMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    if let folder = ProcessInfo.processInfo.environment["FROSTBYTE_FUZZ_MAKE_SEEDS"] {
        do {
            try SeedBundles.write(into: folder)
            _exit(0)
        } catch {
            complain("cannot write seed bundles: \(error)")
            exit(2)
        }
    }
    let name = ProcessInfo.processInfo.environment["FROSTBYTE_FUZZ_TARGET"] ?? ""
    if name == "list" {
        for target in FuzzTarget.all {
            var line = target.name + String(repeating: " ", count: max(1, 15 - target.name.count)) + target.summary + "\n"
            line.withUTF8 { _ = write(1, $0.baseAddress, $0.count) }
        }
        _exit(0)
    }
    guard let target = FuzzTarget.all.first(where: { $0.name == name }) else {
        let names = FuzzTarget.all.map(\.name).joined(separator: " ")
        complain("set FROSTBYTE_FUZZ_TARGET to one of: \(names)")
        exit(2)
    }
    do {
        try target.setUp()
    } catch {
        complain("cannot set up target \(name): \(error)")
        exit(2)
    }
    selected = target
    var count = argc
    var arguments = argv
    return LLVMFuzzerRunDriver(&count, &arguments, fuzzTestOneInput)
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let bytes = size == 0 || data == nil ? [] : [UInt8](UnsafeBufferPointer(start: data, count: size))
    selected?.run(bytes)
    return 0
}
