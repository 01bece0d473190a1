import Foundation
import Testing

/// "Dependencies point one way and each C library has one owner": every source file's
/// imports are checked against the module graph of docs/ARCHITECTURE.md (the table
/// under "## Module graph", the one place the allowed graph is written down; this test
/// parses it). A module may import only the modules its row lists; a C module may be
/// listed in one row only (its owner) and is imported there with `internal import`, so
/// it stays out of every public interface. Package.swift's library targets may not
/// declare more than their row either. A negative control feeds the check bad imports.
@Suite("Module graph")
struct ModuleGraphTests {
    static let root = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let cModules: Set<String> = ["CArchive", "CLibCrypto", "CYAML", "CZstd", "CSQLite", "CGlibcCompat"]

    /// One `import` line: the module and whether it is an `internal import`.
    struct Import: Equatable {
        var module: String
        var isInternal: Bool
    }

    /// The allowed imports per module, from the "## Module graph" table of ARCHITECTURE.md:
    /// rows `| \`Module\` | \`Dep\`, \`Dep\` | what it is |`.
    static func graph(fromArchitecture text: String) -> [String: Set<String>] {
        var graph: [String: Set<String>] = [:]
        var inSection = false
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("## ") { inSection = line.hasPrefix("## Module graph") }
            guard inSection, line.hasPrefix("| `") else { continue }
            let cells = line.split(separator: "|").map { $0.trimmingCharacters(in: .whitespaces) }
            guard cells.count >= 2 else { continue }
            let names = { (cell: String) -> [String] in
                cell.split(separator: "`", omittingEmptySubsequences: false).enumerated().filter { $0.offset % 2 == 1 }.map { String($0.element) }
            }
            guard let module = names(cells[0]).first else { continue }
            graph[module] = Set(names(cells[1]))
        }
        return graph
    }

    static func imports(in text: String) -> [Import] {
        let pattern = #"^\s*(?:@\w+\s+)*(?:(public|package|internal|fileprivate|private)\s+)?import\s+(?:(?:struct|class|enum|protocol|typealias|func|var|let)\s+)?(\w+)"#
        let regex = try! NSRegularExpression(pattern: pattern)
        return text.split(separator: "\n").compactMap { line in
            let line = String(line)
            let range = NSRange(line.startIndex..., in: line)
            guard let match = regex.firstMatch(in: line, range: range),
                  let module = Range(match.range(at: 2), in: line) else { return nil }
            let access = Range(match.range(at: 1), in: line).map { String(line[$0]) }
            return Import(module: String(line[module]), isInternal: access == "internal")
        }
    }

    /// What is wrong with `file` of `module` importing `imports`, given the graph and
    /// the project's modules (imports of anything else, such as Foundation, pass).
    static func violations(module: String, file: String, imports: [Import], graph: [String: Set<String>],
                           projectModules: Set<String>) -> [String] {
        guard let allowed = graph[module] else { return ["\(file): module \(module) is not in the graph"] }
        var found: [String] = []
        for item in imports where projectModules.contains(item.module) || cModules.contains(item.module) {
            if !allowed.contains(item.module) {
                found.append("\(file): \(module) imports \(item.module), which the graph does not allow")
            } else if cModules.contains(item.module) && !item.isInternal {
                found.append("\(file): \(item.module) must be imported with `internal import`")
            }
        }
        return found
    }

    /// Each C module in exactly one row (its owner), and no row naming an unknown module.
    static func graphProblems(_ graph: [String: Set<String>], projectModules: Set<String>) -> [String] {
        var problems: [String] = []
        for c in cModules.subtracting(["CGlibcCompat"]) {
            let owners = graph.filter { $0.value.contains(c) }.map(\.key).sorted()
            if owners.count != 1 { problems.append("\(c) must have exactly one owner, has \(owners)") }
        }
        for (module, deps) in graph {
            for dep in deps where !projectModules.contains(dep) && !cModules.contains(dep) {
                problems.append("\(module) lists unknown module \(dep)")
            }
        }
        return problems
    }

    /// `.target(name: "X", dependencies: [...])` of Package.swift (library and executable targets).
    static func packageDependencies(_ text: String) -> [String: Set<String>] {
        let regex = try! NSRegularExpression(
            pattern: #"\.(?:target|executableTarget)\(\s*name:\s*"([^"]+)",\s*dependencies:\s*\[([^\]]*)\]"#)
        var result: [String: Set<String>] = [:]
        for match in regex.matches(in: text, range: NSRange(text.startIndex..., in: text)) {
            guard let name = Range(match.range(at: 1), in: text), let list = Range(match.range(at: 2), in: text) else { continue }
            let deps = text[list].split(separator: ",").compactMap { item -> String? in
                let trimmed = item.trimmingCharacters(in: .whitespacesAndNewlines)
                guard trimmed.hasPrefix("\""), trimmed.hasSuffix("\"") else { return nil }
                return String(trimmed.dropFirst().dropLast())
            }
            result[String(text[name])] = Set(deps)
        }
        return result
    }

    static func load() throws -> (graph: [String: Set<String>], modules: Set<String>) {
        let text = try String(contentsOf: root.appendingPathComponent("docs/ARCHITECTURE.md"), encoding: .utf8)
        let sources = root.appendingPathComponent("Sources").path
        let modules = Set(try FileManager.default.contentsOfDirectory(atPath: sources)).subtracting(cModules)
        return (graph(fromArchitecture: text), modules)
    }

    @Test("every module imports only what docs/ARCHITECTURE.md's graph allows; C modules by their owner, internally")
    func sourcesFollowTheGraph() throws {
        let (graph, modules) = try Self.load()
        #expect(modules.count >= 12, "the scan must see the modules")
        #expect(Self.graphProblems(graph, projectModules: modules).isEmpty, "\(Self.graphProblems(graph, projectModules: modules))")
        #expect(Set(graph.keys) == modules, "the graph's rows and Sources/ differ: \(Set(graph.keys).symmetricDifference(modules))")
        let sources = Self.root.appendingPathComponent("Sources")
        let files = FileManager.default.enumerator(atPath: sources.path)?.compactMap { $0 as? String }
            .filter { $0.hasSuffix(".swift") } ?? []
        #expect(files.count > 100, "the scan must see the sources")
        var found: [String] = []
        for file in files {
            let module = String(file.split(separator: "/")[0])
            guard !Self.cModules.contains(module) else { continue }
            let text = try String(contentsOf: sources.appendingPathComponent(file), encoding: .utf8)
            found += Self.violations(module: module, file: file, imports: Self.imports(in: text), graph: graph,
                                     projectModules: modules)
        }
        #expect(found.isEmpty, "imports against the module graph: \(found)")
    }

    @Test("Package.swift declares no dependency the graph does not allow")
    func packageFollowsTheGraph() throws {
        let (graph, _) = try Self.load()
        let package = try String(contentsOf: Self.root.appendingPathComponent("Package.swift"), encoding: .utf8)
        let targets = Self.packageDependencies(package).filter { graph[$0.key] != nil }
        #expect(targets.count == graph.count, "every module's target must be found in Package.swift")
        for (target, deps) in targets {
            let extra = deps.subtracting(graph[target] ?? []).subtracting(["CGlibcCompat"])
            #expect(extra.isEmpty, "\(target) declares \(extra.sorted()) beyond the graph")
        }
    }

    @Test("the check finds a foreign C import, an upward import and a public C import (negative control)")
    func negativeControl() {
        let graph: [String: Set<String>] = [
            "FrostbyteCore": [], "FrostbyteArchive": ["FrostbyteCore", "CArchive"],
            "Engine": ["FrostbyteCore", "FrostbyteArchive"], "Installation": ["Engine"],
        ]
        let modules: Set<String> = ["FrostbyteCore", "FrostbyteArchive", "Engine", "Installation"]
        func check(_ module: String, _ text: String) -> [String] {
            Self.violations(module: module, file: "x.swift", imports: Self.imports(in: text), graph: graph,
                            projectModules: modules)
        }
        #expect(check("Engine", "import FrostbyteCore\ninternal import CArchive\n").count == 1)
        #expect(check("Engine", "import Installation\nimport Foundation\n").count == 1)
        #expect(check("FrostbyteArchive", "import CArchive\n").count == 1)
        #expect(check("FrostbyteArchive", "internal import CArchive\nimport FrostbyteCore\nimport Glibc\n").isEmpty)
        #expect(check("Stack", "import FrostbyteCore\n").count == 1)
        #expect(Self.imports(in: "@testable import Engine\n  public import struct Foo.Bar\n")
                == [Import(module: "Engine", isInternal: false), Import(module: "Foo", isInternal: false)])
        let shared: [String: Set<String>] = ["A": ["CZstd", "CArchive", "CLibCrypto", "CYAML", "CSQLite"], "B": ["CZstd"]]
        #expect(Self.graphProblems(shared, projectModules: ["A", "B"]) == ["CZstd must have exactly one owner, has [\"A\", \"B\"]"])
        let doc = "# x\n## Module graph\n| module | may import |\n|---|---|\n| `Engine` | `FrostbyteCore`, `CArchive` | e |\n## Other\n| `Stack` | `X` | s |\n"
        #expect(Self.graph(fromArchitecture: doc) == ["Engine": ["FrostbyteCore", "CArchive"]])
        let package = #".target(name: "Engine", dependencies: ["FrostbyteCore", .product(name: "P", package: "p")]),"#
        #expect(Self.packageDependencies(package) == ["Engine": ["FrostbyteCore"]])
    }
}
