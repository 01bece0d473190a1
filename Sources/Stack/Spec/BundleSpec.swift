import FoundationEssentials
import Glibc

/// A validated bundle spec (docs/SPEC.md): every name matches its pattern, the
/// subnet is private and the gateway address usable, images are pinned, and
/// every path is absolute (resolved against the spec's folder). Load one with
/// `BundleSpec.load(path:)` or `BundleSpec.parse(_:file:)`.
public struct BundleSpec: Sendable, Equatable {
    /// Absolute path of the spec file.
    public var specPath: String
    /// Bundle name, `[a-z0-9][a-z0-9-]*`.
    public var name: String
    /// Bundle version, `[0-9A-Za-z.+-]+`.
    public var version: String
    /// Creation time from the spec, if set (build falls back to SOURCE_DATE_EPOCH).
    public var createdAt: Date?
    /// Default compose project name on the host, `^[a-z0-9][a-z0-9_-]*$`.
    public var project: String
    /// Absolute path of the source compose file (exists when loaded).
    public var composePath: String
    /// The one internal network every service joins.
    public var network: Network
    /// The service the host talks to, at a fixed address.
    public var gateway: Gateway
    /// Images the compose file uses, exactly (non-empty, unique, pinned).
    public var images: [Image]
    /// Model files carried into `models/`.
    public var models: [Model]
    /// Folder whose files are copied into the bundle root, if any.
    public var templatePath: String?
    /// SQL migrations, if any.
    public var migrations: Migrations?
    /// Export commands used by `export`.
    public var exports: [Export]
    /// Compose profiles the bundle runs (`profiles:`; services of other profiles are
    /// left out, as `docker compose` leaves them out without `--profile`).
    public var profiles: [String] = []

    /// `<name>-<version>`: the bundle file stem and the `io.frostbyte.bundle` label.
    public var bundleStem: String { "\(name)-\(version)" }

    /// Where each value came from, for errors raised after loading.
    public var marks: Marks

    /// The spec's `network` section.
    public struct Network: Sendable, Equatable {
        /// Compose key of the network (compose names it `<project>_<name>`).
        public var name: String
        /// Private IPv4 subnet.
        public var subnet: IPv4Network
    }

    /// The spec's `gateway` section.
    public struct Gateway: Sendable, Equatable, Codable {
        /// Compose service name.
        public var service: String
        /// Fixed address inside the subnet.
        public var ipv4Address: IPv4Address
        /// TCP port the gateway listens on inside the network.
        public var port: Int
        /// HTTP health path, default `/health`.
        public var healthPath: String

        enum CodingKeys: String, CodingKey {
            case service, port
            case ipv4Address = "ipv4_address"
            case healthPath = "health_path"
        }
    }

    /// One `images` entry.
    public struct Image: Sendable, Equatable {
        /// The reference as written (`frostbyte-demo/postgres:1.0`).
        public var reference: ImageReference
        /// A `docker save` archive already on disk (absolute), if given.
        public var archivePath: String?
        /// The compose file's `image:` text with variables (`app:${TAG:-1.0}`) that
        /// `reference` resolves, so `render` needs no environment (docs/SPEC.md).
        public var written: String? = nil
        /// The compose service that only `build:`s this image (no `image:`);
        /// `render` gives that service `reference`.
        public var builtBy: String? = nil
        /// Where the entry is in the spec.
        public var mark: YAMLMark
    }

    /// One `models` entry.
    public struct Model: Sendable, Equatable {
        /// Model name (unique).
        public var name: String
        /// Absolute path of the model file.
        public var path: String
        /// Where the entry is in the spec.
        public var mark: YAMLMark
    }

    /// The `migrations` section.
    public struct Migrations: Sendable, Equatable {
        /// Absolute folder holding `*.sql`.
        public var path: String
        /// Service that runs psql.
        public var service: String
        /// Database name (may be `${VAR}` from the secrets .env).
        public var database: String
        /// Database user (may be `${VAR}`).
        public var user: String
    }

    /// One `exports` entry.
    public struct Export: Sendable, Equatable, Codable {
        /// File name inside the export bundle (`data/<name>`).
        public var name: String
        /// Service the command runs in.
        public var service: String
        /// The command, as an argument vector.
        public var command: [String]
    }

    /// Source positions of values checked against the compose file later.
    public struct Marks: Sendable, Equatable {
        /// The `compose` value.
        public var compose: YAMLMark
        /// The `gateway.service` value.
        public var gatewayService: YAMLMark
        /// The `migrations.service` value, if any.
        public var migrationsService: YAMLMark?
        /// Each `exports[].service` value, in order.
        public var exportServices: [YAMLMark]
        /// The `network.subnet` value.
        public var subnet: YAMLMark
        /// The `template` value, if any.
        public var template: YAMLMark?
        /// The `migrations.path` value, if any.
        public var migrationsPath: YAMLMark?
    }

    /// Checks that every input file the build reads exists: image archives and
    /// model files as regular files, template and migrations as folders.
    /// - Throws: `SpecError.missingFile` naming the spec line.
    public func checkInputFiles() throws {
        for (index, image) in images.enumerated() {
            if let archive = image.archivePath {
                try Self.requireFile(archive, directory: false, path: "images[\(index)].archive", at: image.mark)
            }
        }
        for (index, model) in models.enumerated() {
            try Self.requireFile(model.path, directory: false, path: "models[\(index)].path", at: model.mark)
        }
        if let templatePath {
            try Self.requireFile(templatePath, directory: true, path: "template", at: marks.template ?? marks.compose)
        }
        if let migrations {
            try Self.requireFile(migrations.path, directory: true, path: "migrations.path", at: marks.migrationsPath ?? marks.compose)
        }
    }

    static func requireFile(_ file: String, directory: Bool, path: String, at mark: YAMLMark) throws {
        var isDirectory = false
        let exists = FileManager.default.fileExists(atPath: file, isDirectory: &isDirectory)
        guard exists, isDirectory == directory else {
            throw SpecError.missingFile(path: path, file: file, expected: directory ? "a folder" : "a regular file", at: mark)
        }
    }
}
