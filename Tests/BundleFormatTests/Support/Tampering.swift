import BundleFormat
import Foundation

/// Builds a good bundle, lets a test tamper with it, and verifies the result.
enum Tamper {
    /// - Parameters:
    ///   - configure: edits the bundle model (payload, manifest knobs, key).
    ///   - transform: edits the final entry list (hostile entries, reordering).
    ///   - afterWrite: edits the written file (truncation, corruption, sidecar).
    static func verify(
        zstd: Bool = true, trust: [TrustedKey] = [],
        configure: (inout FixtureBundle, String) throws -> Void = { _, _ in },
        transform: ([FixtureEntry]) throws -> [FixtureEntry] = { $0 },
        afterWrite: (String) throws -> Void = { _ in }
    ) throws -> VerificationReport {
        let temp = try TemporaryFolder()
        defer { temp.remove() }
        var bundle = try FixtureBundle.standard(in: temp.path)
        try configure(&bundle, temp.path)
        let path = try bundle.write(to: temp.file("demo-1.0.0.tar" + (zstd ? ".zst" : "")), zstd: zstd,
                                    transform: transform)
        try afterWrite(path)
        return try BundleVerifier.verify(path: path, trust: trust)
    }

    /// Replaces the data of one payload entry (the manifest then describes the new data).
    static func replace(_ path: String, with data: Data, in bundle: inout FixtureBundle) {
        let index = bundle.payload.firstIndex { $0.pathString == path }!
        bundle.payload[index].data = data
    }

    /// Changes one byte of an entry in the final list (the manifest keeps the old digest).
    static func flipByte(in path: String, at offset: Int = 3) -> ([FixtureEntry]) -> [FixtureEntry] {
        { entries in
            entries.map { entry in
                guard entry.pathString == path else { return entry }
                var changed = entry
                changed.data[changed.data.startIndex + offset] ^= 0x01
                return changed
            }
        }
    }

    static func adding(_ extra: FixtureEntry...) -> ([FixtureEntry]) -> [FixtureEntry] {
        { $0 + extra }
    }

    static func removing(_ path: String) -> ([FixtureEntry]) -> [FixtureEntry] {
        { $0.filter { $0.pathString != path } }
    }

    static func bytes(_ count: Int, seed: UInt64 = 42) -> Data {
        var state = seed
        var data = Data(count: count)
        for index in 0..<count {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            data[index] = UInt8(truncatingIfNeeded: state >> 33)
        }
        return data
    }
}

extension VerificationReport {
    /// The set of checks that failed: tamper tests assert it is exactly the attack's.
    var failedChecks: Set<VerificationProblem.Check> { Set(problems.map(\.check)) }
}
