import FrostbyteCore
import FrostbyteCrypto
import BundleFormat
import Engine
import FoundationEssentials
import Glibc

/// Applies a release's `migrations/*.sql` with `psql` inside the migrations service
/// (`docker compose exec -T`): each file once, in manifest order, in one transaction
/// together with its row in `frostbyte_schema_migrations`, so a failed file leaves
/// the database as it was and an applied file is never run again (not on a re-run,
/// not on an upgrade). A recorded file whose content changed is refused.
///
/// Two psql sessions in all (each `compose exec` costs a CLI start): one creates the
/// bookkeeping table and reads it; one applies every pending file, each between its
/// own BEGIN and COMMIT with its row, stopping at the first error, and reads the
/// table again. What is reported as applied is what that final read (or, when psql
/// stopped early, a fresh read) finds recorded, never what the script intended.
public struct MigrationRunner: Sendable {
    /// The table recording applied migrations.
    public static let table = "frostbyte_schema_migrations"
    /// Printed by the batch before its final read of the table.
    static let recordedMarker = "frostbyte-migrations-recorded"

    public var compose: ComposeDriver
    public var spec: Manifest.Migrations
    /// The release folder the manifest's paths are relative to.
    public var releaseFolder: String
    public var timeout: Double

    /// Runs one psql command (argv) with the SQL on stdin where the database is; nil:
    /// `docker compose exec -T <service>` on this host.
    public typealias Executor = @Sendable (_ command: [String], _ stdin: Data, _ timeout: Double) throws -> CommandResult
    public var executor: Executor?

    public init(compose: ComposeDriver, spec: Manifest.Migrations, releaseFolder: String, timeout: Double = 600) {
        self.compose = compose; self.spec = spec; self.releaseFolder = releaseFolder; self.timeout = timeout
    }

    /// A runner whose psql sessions run through `executor` (a Swarm job on the
    /// database's node, `SwarmMigrationJob`), with the same bookkeeping.
    public init(executor: @escaping Executor, spec: Manifest.Migrations, releaseFolder: String, timeout: Double = 600) {
        self.init(compose: ComposeDriver(project: "", composeFile: "", envFile: "", environment: [:]), spec: spec,
                  releaseFolder: releaseFolder, timeout: timeout)
        self.executor = executor
    }

    /// One psql session, through the executor or `compose exec`.
    func execute(_ command: [String], stdin: Data) throws -> CommandResult {
        if let executor { return try executor(command, stdin, timeout) }
        return try compose.exec(spec.service, command, stdin: stdin, timeout: timeout)
    }

    /// Applies the pending migrations; returns the names applied now.
    /// - Throws: `InstallError.migrationFailed` / `.migrationChanged` / `.migrationName`.
    public func apply(progress: (String) -> Void = { _ in }) throws -> [String] {
        let applied = Self.parseRecorded(try psql("""
            CREATE TABLE IF NOT EXISTS \(Self.table) (
                name       text PRIMARY KEY,
                sha256     text NOT NULL,
                bundle_id  text NOT NULL,
                applied_at timestamptz NOT NULL DEFAULT now()
            );
            \(Self.recordedQuery)
            """, file: "(bookkeeping table)", tuplesOnly: true))
        var pending: [(path: String, name: String, digest: String, sql: Data)] = []
        for path in spec.files {
            let name = PathText.lastComponent(path)
            guard Self.isSafeName(name) else { throw InstallError.migrationName(path: path) }
            let fullPath = "\(releaseFolder)/\(path)"
            guard let sql = FileManager.default.contents(atPath: fullPath) else {
                throw InstallError.migrationFailed(file: path, detail: "the file is missing from the release folder")
            }
            let digest = SHA256Hasher.hash(sql).hex
            if let recordedDigest = applied[name] {
                guard recordedDigest == digest else {
                    throw InstallError.migrationChanged(file: path, recorded: recordedDigest, now: digest)
                }
                continue
            }
            pending.append((path, name, digest, sql))
        }
        guard !pending.isEmpty else { return [] }
        for migration in pending { progress("applying migration \(migration.name)") }

        let bundleId = Self.quoteLiteral(PathText.lastComponent(releaseFolder))
        var script = Data()
        var firstLine: [String: Int] = [:]  // name → the batch line its file's line 1 is on
        for migration in pending {
            script.append(Data("BEGIN;\n".utf8))
            firstLine[migration.name] = script.reduce(1) { $1 == 0x0A ? $0 + 1 : $0 }
            script.append(migration.sql)
            script.append(Data("\n;\nINSERT INTO \(Self.table) (name, sha256, bundle_id) VALUES ('\(migration.name)', '\(migration.digest)', '\(bundleId)');\nCOMMIT;\n".utf8))
        }
        script.append(Data("\\echo \(Self.recordedMarker)\n\(Self.recordedQuery)\n".utf8))
        let result = try execute(psqlCommand(singleTransaction: false, tuplesOnly: true), stdin: script)
        let output = result.output
        var recorded: [String: String]
        if result.status == 0, let marker = Self.lastRange(of: "\(Self.recordedMarker)\n", in: output)
            ?? Self.lastRange(of: Self.recordedMarker, in: output) {
            recorded = Self.parseRecorded(String(output[marker.upperBound...]))
        } else {
            recorded = (try? self.recorded()) ?? applied
        }
        var appliedNow: [String] = []
        for migration in pending {
            guard recorded[migration.name] == migration.digest else {
                let detail = result.status != 0 && !result.errorOutput.isEmpty
                    ? Self.fileLines(result.errorOutput, firstLine: firstLine[migration.name] ?? 1)
                    : "psql exited with status \(result.status) before recording it"
                throw InstallError.migrationFailed(file: migration.path, detail: detail)
            }
            appliedNow.append(migration.name)
        }
        return appliedNow
    }

    /// psql's `psql:<stdin>:N:` positions in the batch, renumbered to lines of the
    /// file whose line 1 is batch line `firstLine` (positions before it stay as they are).
    static func fileLines(_ message: String, firstLine: Int) -> String {
        let prefix = "psql:<stdin>:"
        var output = ""
        var rest = Substring(message)
        while let found = rest.firstRange(of: prefix) {
            output += rest[..<found.upperBound]
            rest = rest[found.upperBound...]
            let digits = rest.prefix { $0.isNumber }
            if let line = Int(digits), line >= firstLine, rest.dropFirst(digits.count).first == ":" {
                output += String(line - firstLine + 1)
                rest = rest.dropFirst(digits.count)
            }
        }
        return output + rest
    }

    /// The query listing recorded migrations as `name sha256` lines.
    static var recordedQuery: String { "SELECT name || ' ' || sha256 FROM \(table) ORDER BY name;" }

    /// name → sha256 of the migrations already recorded.
    public func recorded() throws -> [String: String] {
        Self.parseRecorded(try psql(Self.recordedQuery, file: "(bookkeeping table)", tuplesOnly: true))
    }

    /// Parses `name sha256` lines (other lines are ignored).
    static func parseRecorded(_ output: String) -> [String: String] {
        var result: [String: String] = [:]
        for line in output.split(separator: "\n") {
            let parts = line.split(separator: " ")
            if parts.count == 2 { result[String(parts[0])] = String(parts[1]) }
        }
        return result
    }

    /// Runs SQL through psql in one transaction (`-1` applies to `-f -`, i.e. stdin),
    /// stopping at the first error, which rolls the whole transaction back.
    @discardableResult
    func psql(_ sql: String, file: String, tuplesOnly: Bool = false) throws -> String {
        let result = try execute(psqlCommand(singleTransaction: true, tuplesOnly: tuplesOnly), stdin: Data(sql.utf8))
        guard result.status == 0 else {
            let detail = result.errorOutput.isEmpty ? "psql exited with status \(result.status)" : result.errorOutput
            throw InstallError.migrationFailed(file: file, detail: detail)
        }
        return result.output
    }

    /// psql reading stdin, quiet, stopping at the first error.
    func psqlCommand(singleTransaction: Bool, tuplesOnly: Bool) -> [String] {
        var command = ["psql", "-X", "-q"]
        if singleTransaction { command.append("-1") }
        command += ["-v", "ON_ERROR_STOP=1", "-U", spec.user, "-d", spec.database, "-f", "-"]
        if tuplesOnly { command += ["-t", "-A"] }
        return command
    }

    /// Migration names are used inside SQL literals; keep them to a plain alphabet.
    static func isSafeName(_ name: String) -> Bool {
        !name.isEmpty && name.unicodeScalars.allSatisfy {
            $0.isASCII && ($0.properties.isAlphabetic || $0.properties.numericType != nil || "._-".unicodeScalars.contains($0))
        }
    }

    static func quoteLiteral(_ text: String) -> String { text.replacing("'", with: "''") }

    /// The range of the last occurrence of `needle` in `text`.
    static func lastRange(of needle: String, in text: String) -> Range<String.Index>? {
        text.ranges(of: needle).last
    }
}
