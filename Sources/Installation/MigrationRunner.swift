import FrostbyteCore
import BundleFormat
import Stack
import Engine
import InstallationState
import Isolation
import FoundationEssentials
import Glibc

/// Applies a release's `migrations/*.sql` with `psql` inside the migrations service
/// (`docker compose exec -T`): each file once, in manifest order, in one transaction
/// together with its row in `frostbyte_schema_migrations`, so a failed file leaves
/// the database as it was and an applied file is never run again (not on a re-run,
/// not on an upgrade). A recorded file whose content changed is refused.
public struct MigrationRunner: Sendable {
    /// The table recording applied migrations.
    public static let table = "frostbyte_schema_migrations"

    public var compose: ComposeDriver
    public var spec: Manifest.Migrations
    /// The release folder the manifest's paths are relative to.
    public var releaseFolder: String
    public var timeout: Double

    public init(compose: ComposeDriver, spec: Manifest.Migrations, releaseFolder: String, timeout: Double = 600) {
        self.compose = compose; self.spec = spec; self.releaseFolder = releaseFolder; self.timeout = timeout
    }

    /// Applies the pending migrations; returns the names applied now.
    /// - Throws: `InstallError.migrationFailed` / `.migrationChanged` / `.migrationName`.
    public func apply(progress: (String) -> Void = { _ in }) throws -> [String] {
        try psql("""
            CREATE TABLE IF NOT EXISTS \(Self.table) (
                name       text PRIMARY KEY,
                sha256     text NOT NULL,
                bundle_id  text NOT NULL,
                applied_at timestamptz NOT NULL DEFAULT now()
            );
            """, file: "(bookkeeping table)")
        let applied = try recorded()
        var appliedNow: [String] = []
        let bundleId = PathText.lastComponent(releaseFolder)
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
            progress("applying migration \(name)")
            var script = sql
            script.append(Data("\n;\nINSERT INTO \(Self.table) (name, sha256, bundle_id) VALUES ('\(name)', '\(digest)', '\(Self.quoteLiteral(bundleId))');\n".utf8))
            try psql(script, file: path)
            appliedNow.append(name)
        }
        return appliedNow
    }

    /// name → sha256 of the migrations already recorded.
    public func recorded() throws -> [String: String] {
        let output = try psql("SELECT name || ' ' || sha256 FROM \(Self.table) ORDER BY name;", file: "(bookkeeping table)", tuplesOnly: true)
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
        try psql(Data(sql.utf8), file: file, tuplesOnly: tuplesOnly)
    }

    @discardableResult
    func psql(_ sql: Data, file: String, tuplesOnly: Bool = false) throws -> String {
        var command = ["psql", "-X", "-q", "-1", "-v", "ON_ERROR_STOP=1", "-U", spec.user, "-d", spec.database, "-f", "-"]
        if tuplesOnly { command += ["-t", "-A"] }
        let result = try compose.exec(spec.service, command, stdin: sql, timeout: timeout)
        guard result.status == 0 else {
            let detail = result.errorOutput.isEmpty ? "psql exited with status \(result.status)" : result.errorOutput
            throw InstallError.migrationFailed(file: file, detail: detail)
        }
        return result.output
    }

    /// Migration names are used inside SQL literals; keep them to a plain alphabet.
    static func isSafeName(_ name: String) -> Bool {
        !name.isEmpty && name.unicodeScalars.allSatisfy {
            $0.isASCII && ($0.properties.isAlphabetic || $0.properties.numericType != nil || "._-".unicodeScalars.contains($0))
        }
    }

    static func quoteLiteral(_ text: String) -> String { text.replacing("'", with: "''") }
}
