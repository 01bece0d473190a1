import Testing
@testable import Stack

@Suite("YAML anchors, merge keys and limits")
struct YAMLStructureTests {
    private func parse(_ text: String) throws -> YAMLNode {
        try YAMLNode.parse(Array(text.utf8), file: "t.yaml")
    }

    private func error(_ text: String) -> YAMLError? {
        do { _ = try parse(text) } catch let error as YAMLError { return error } catch { return nil }
        return nil
    }

    @Test func aliasesAreExpanded() throws {
        let node = try parse("base: &b\n  a: 1\n  list: [x]\ncopy: *b\n")
        #expect(try #require(node["copy"]).isEquivalent(to: try #require(node["base"])))
    }

    @Test func mergeKeysApplyWithExplicitKeysWinning() throws {
        let node = try parse("""
            x-a: &a {one: a1, two: a2}
            x-b: &b {two: b2, three: b3}
            svc:
              first: 0
              <<: [*a, *b]
              two: explicit
            """)
        let svc = try #require(node["svc"])
        #expect(svc.mappingPairs?.map { $0.key.scalarValue } == ["first", "one", "three", "two"])
        #expect(svc["two"]?.scalarValue == "explicit")
        #expect(svc["one"]?.scalarValue == "a1")
        #expect(svc["three"]?.scalarValue == "b3")
    }

    @Test func aQuotedMergeKeyIsAnOrdinaryKey() throws {
        let node = try parse("a:\n  '<<': {x: 1}\n")
        #expect(node["a"]?.mappingPairs?.first?.key.scalarValue == "<<")
    }

    @Test func badMergeValueIsRefused() {
        #expect(error("a:\n  <<: 5\n") == .invalidMerge(at: YAMLMark(file: "t.yaml", line: 2, column: 3)))
    }

    @Test func undefinedAliasIsRefusedWithPosition() {
        #expect(error("a: 1\nb: *nothing\n") == .undefinedAlias(name: "nothing", at: YAMLMark(file: "t.yaml", line: 2, column: 4)))
    }

    @Test func duplicateKeysAreRefused() {
        let found = error("services:\n  web: {}\n  db: {}\n  web: {}\n")
        #expect(found == .duplicateKey(key: "web", at: YAMLMark(file: "t.yaml", line: 4, column: 3), first: YAMLMark(file: "t.yaml", line: 2, column: 3)))
        #expect(found?.message.contains("t.yaml:4:3: key 'web' appears twice in the same mapping (first at line 2)") == true)
    }

    @Test func complexKeysAreRefused() {
        #expect(error("? [a, b]\n: 1\n") == .complexKey(at: YAMLMark(file: "t.yaml", line: 1, column: 3)))
    }

    @Test func aliasBombsStopAtTheNodeBudget() {
        var text = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n"
        for level in 1...7 {
            let refs = Array(repeating: "*a\(level - 1)", count: 10).joined(separator: ", ")
            text += "a\(level): &a\(level) [\(refs)]\n"
        }
        guard case .tooLarge = error(text) else {
            Issue.record("alias bomb was not stopped")
            return
        }
        // Negative control: a modest alias use is fine.
        #expect(error("a0: &a0 [x, x]\na1: [*a0, *a0]\n") == nil)
    }

    @Test func deepNestingIsRefused() {
        let deep = String(repeating: "[", count: YAMLParser.maxDepth + 1) + String(repeating: "]", count: YAMLParser.maxDepth + 1)
        guard case .tooLarge = error(deep) else {
            Issue.record("deep nesting was not stopped")
            return
        }
    }

    @Test func documentCountIsChecked() {
        #expect(error("") == .documentCount(found: 0, file: "t.yaml"))
        #expect(error("a: 1\n---\nb: 2\n") == .documentCount(found: 2, file: "t.yaml"))
    }

    @Test func invalidUTF8IsAnEncodingError() {
        let bytes: [UInt8] = Array("a: ".utf8) + [0xff, 0xfe, 0x41] + Array("\n".utf8)
        do {
            _ = try YAMLNode.parse(bytes, file: "t.yaml")
            Issue.record("invalid UTF-8 accepted")
        } catch let error as YAMLError {
            guard case .encoding = error else { Issue.record("wrong error \(error)"); return }
            #expect(error.message.hasPrefix("t.yaml:"))
        } catch {
            Issue.record("unexpected \(error)")
        }
    }

    @Test func customTagsSurviveARoundTrip() throws {
        let node = try parse("ports: !reset []\nimage: !!str 123\nenv: !override {A: b}\n")
        let text = String(decoding: try node.emitted(), as: UTF8.self)
        let back = try parse(text)
        #expect(back["ports"]?.collectionTag == "!reset", "\(text)")
        #expect(back["env"]?.collectionTag == "!override", "\(text)")
        #expect(back["image"]?.scalar?.kind == .string, "\(text)")
        #expect(back["image"]?.scalarValue == "123")
    }
}
