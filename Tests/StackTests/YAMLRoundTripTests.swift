import Testing
@testable import Stack

@Suite("YAML parse and emit")
struct YAMLRoundTripTests {
    private func parse(_ text: String, file: String = "t.yaml") throws -> YAMLNode {
        try YAMLNode.parse(Array(text.utf8), file: file)
    }

    private func emit(_ node: YAMLNode) throws -> String {
        String(decoding: try node.emitted(), as: UTF8.self)
    }

    @Test func keepsKeyOrderAndMarks() throws {
        let node = try parse("zeta: 1\nalpha:\n  beta: two\n  list:\n    - a\n    - b\n")
        #expect(node.mappingPairs?.map { $0.key.scalarValue } == ["zeta", "alpha"])
        let beta = try #require(node["alpha"]?.pair("beta"))
        #expect(beta.key.mark == YAMLMark(file: "t.yaml", line: 3, column: 3))
        #expect(beta.value.mark == YAMLMark(file: "t.yaml", line: 3, column: 9))
        #expect(node["alpha"]?["list"]?.sequenceItems?.count == 2)
    }

    @Test func emitsBlockStyleWithTwoSpaceIndent() throws {
        let text = try emit(try parse("a:\n    b:   1\n    c: [x, y]\n"))
        #expect(text == "a:\n  b: 1\n  c:\n  - x\n  - y\n")
    }

    /// Strings that plain YAML would read as numbers, booleans, null or sexagesimal
    /// come back as strings; a negative control shows the plain forms do not.
    @Test(arguments: ["8080:80", "yes", "1.0", "${VAR}", "no", "~", "null", "0x1F", "12", "on", "", " lead", "a: b", "#x", "1e3", "-", "2026-01-01"])
    func stringsSurviveAsStrings(_ value: String) throws {
        let node = YAMLNode.mapping([("k", .string(value))])
        let text = try emit(node)
        let back = try #require(try parse(text)["k"]?.scalar)
        #expect(back.value == value)
        #expect(back.kind == .string, "\(value) emitted as \(text)")
    }

    @Test func plainSourcesStayPlain() throws {
        let source = "port: 8080\nratio: 1.5\nflag: true\nnothing: ~\nname: web\nquoted: \"8080\"\n"
        let node = try parse(source)
        let back = try parse(try emit(node))
        #expect(back.isEquivalent(to: node))
        #expect(back["port"]?.scalar?.kind == .int)
        #expect(back["flag"]?.scalar?.kind == .bool)
        #expect(back["quoted"]?.scalar?.kind == .string)
        // Negative control: the equivalence check does notice a kind change.
        var changed = node
        changed.set("port", .string("8080"))
        #expect(!changed.isEquivalent(to: node))
    }

    @Test func multilineStringsUseLiteralStyle() throws {
        let node = YAMLNode.mapping([("script", .string("echo one\necho two\n"))])
        let text = try emit(node)
        #expect(text == "script: |\n  echo one\n  echo two\n")
        #expect(try parse(text)["script"]?.scalarValue == "echo one\necho two\n")
    }

    @Test func roundTripOfAComposeFileIsEquivalentAndStable() throws {
        let source = """
        services:
          web:
            image: "nginx:1.27"
            ports: ["8080:80", '127.0.0.1:9000:9000']
            environment:
              MODE: "yes"
              COUNT: 3
              URL: http://x:1/${PATH_PART}
            command: >
              folded text
              continues
            healthcheck:
              test: [CMD-SHELL, "curl -f http://localhost/ || exit 1"]
        volumes:
          data: {}
        """
        let node = try parse(source)
        let once = try emit(node)
        let reparsed = try parse(once)
        #expect(reparsed.isEquivalent(to: node))
        #expect(try emit(reparsed) == once)
    }
}
