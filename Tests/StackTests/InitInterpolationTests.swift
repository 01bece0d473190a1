import Testing
@testable import Stack

/// Compose's interpolation and `.env` format, as `init` resolves image references.
@Suite("init: Compose interpolation and .env")
struct InitInterpolationTests {
    let variables = ComposeInterpolation(environment: ["FROM_ENV": "env", "BOTH": "env-wins", "EMPTY": ""],
                                         envFile: ["FROM_FILE": "file", "BOTH": "file-loses"])

    @Test("every form Compose knows", arguments: [
        ("app:$FROM_ENV", "app:env"), ("app:${FROM_FILE}", "app:file"), ("${BOTH}", "env-wins"),
        ("app:${UNSET:-1.0}", "app:1.0"), ("app:${EMPTY:-1.0}", "app:1.0"), ("app:${EMPTY-1.0}", "app:"),
        ("app:${UNSET-1.0}", "app:1.0"), ("${FROM_ENV:+set}", "set"), ("${EMPTY:+set}", ""), ("${EMPTY+set}", "set"),
        ("${UNSET:-${FROM_FILE}-x}", "file-x"), ("$$FROM_ENV", "$FROM_ENV"), ("a$${b}", "a${b}"), ("no variables", "no variables"),
        ("$FROM_ENV.$FROM_FILE", "env.file"),
    ])
    func forms(_ text: String, _ expected: String) throws {
        #expect(try variables.resolve(text).text == expected)
    }

    @Test("required variables, bad templates and unset variables are reported")
    func failures() throws {
        #expect(throws: ComposeInterpolation.Failure(reason: "'${UNSET:?pin it}' requires UNSET: pin it")) { try variables.resolve("${UNSET:?pin it}") }
        #expect(throws: ComposeInterpolation.Failure.self) { try variables.resolve("${EMPTY:?}") }
        #expect(try variables.resolve("${EMPTY?}").text == "", "negative control: '?' accepts a set, empty variable")
        #expect(throws: ComposeInterpolation.Failure.self) { try variables.resolve("${UNCLOSED") }
        #expect(throws: ComposeInterpolation.Failure.self) { try variables.resolve("a $ b") }
        let unset = try variables.resolve("app:${UNSET}")
        #expect(unset.text == "app:" && unset.hasEmptyVariable && unset.uses == [.init(name: "UNSET", source: .unset, value: nil)])
        #expect(try !variables.resolve("app:${FROM_FILE}").hasEmptyVariable)
        #expect(try variables.resolve("${BOTH}").uses.first?.source == .environment)
    }

    @Test("the .env format: export, quotes, comments, escapes, earlier variables")
    func dotEnv() throws {
        let text = """
            # comment
            export A=1.0
            B = "x:${A}\\n"
            C='lit ${A}'
            D=plain # trailing comment
            E=
            FROM_ENV
            """
        let values = try DotEnv.parse(text, environment: ["FROM_ENV": "e"])
        #expect(values == ["A": "1.0", "B": "x:1.0\n", "C": "lit ${A}", "D": "plain", "E": "", "FROM_ENV": "e"])
        #expect(throws: DotEnv.Failure(line: 2, reason: "'9BAD' is not a variable name ([A-Za-z_][A-Za-z0-9_]*)")) {
            try DotEnv.parse("OK=1\n9BAD=2", environment: [:])
        }
    }
}
