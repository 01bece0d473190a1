import Foundation
import TestSupport

/// What an ELF executable asks of the host's dynamic loader, read with binutils
/// (`readelf -d`, `objdump -T`): the shared libraries it names (NEEDED) and, per
/// symbol version (GLIBC_2.34, GLIBCXX_3.4.29, ...), the undefined symbols bound
/// to it. The loader refuses the whole file when one NEEDED library or one
/// recorded version is missing, whether the symbol is called or not.
struct ELFDependencies {
    var needed: [String]
    /// Version name -> undefined symbols that reference it.
    var versions: [String: [String]]

    init(path: String) throws {
        let dynamic = try TestCommand.check(["readelf", "-d", "-W", path])
        needed = Self.parseNeeded(dynamic)
        let symbols = try TestCommand.check(["objdump", "-T", "-w", path])
        versions = Self.parseUndefinedVersions(symbols)
    }

    /// `0x...01 (NEEDED)  Shared library: [libc.so.6]` -> libc.so.6
    static func parseNeeded(_ text: String) -> [String] {
        text.split(separator: "\n").compactMap { line in
            guard line.contains("(NEEDED)"), let open = line.firstIndex(of: "["),
                  let close = line.lastIndex(of: "]"), open < close else { return nil }
            return String(line[line.index(after: open)..<close])
        }
    }

    /// `0000 DF *UND* 0000 (GLIBC_2.34) pthread_create` -> ["GLIBC_2.34": ["pthread_create"]]
    static func parseUndefinedVersions(_ text: String) -> [String: [String]] {
        var result: [String: [String]] = [:]
        for line in text.split(separator: "\n") where line.contains("*UND*") {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            guard let versionField = fields.first(where: { $0.hasPrefix("(") && $0.hasSuffix(")") }),
                  let symbol = fields.last else { continue }
            result[String(versionField.dropFirst().dropLast()), default: []].append(String(symbol))
        }
        return result
    }

    /// The highest version with `prefix` (e.g. "GLIBC_"), as numbers, with its symbols.
    func highest(_ prefix: String) -> (version: [Int], symbols: [String])? {
        versions.compactMap { name, symbols -> ([Int], [String])? in
            guard name.hasPrefix(prefix) else { return nil }
            let numbers = name.dropFirst(prefix.count).split(separator: ".").compactMap { Int($0) }
            return numbers.isEmpty ? nil : (numbers, symbols.sorted())
        }.max { Self.less($0.0, $1.0) }
    }

    /// Dotted-version order: [2, 9] < [2, 34] < [2, 34, 1].
    static func less(_ a: [Int], _ b: [Int]) -> Bool {
        for (x, y) in zip(a, b) where x != y { return x < y }
        return a.count < b.count
    }
}
