import FrostbyteCore
import FrostbyteCrypto
import FoundationEssentials

/// The build provenance of a signed v2 bundle (docs/FORMAT.md, "Provenance"): an
/// in-toto Statement v1 with a SLSA provenance v1 predicate, in a DSSE envelope
/// signed with the bundle key, stored as `provenance/build.intoto.json`, a file of
/// `files[]` (so MANIFEST.json.sig covers it too).
///
/// Guarantees: the same inputs give the same bytes (keys sorted, subjects and
/// dependencies in a fixed order, times from the source date, never the wall clock).
public enum BuildProvenance {
    public static let path = "provenance/build.intoto.json"
    public static let folder = "provenance"
    public static let statementType = "https://in-toto.io/Statement/v1"
    public static let predicateType = "https://slsa.dev/provenance/v1"
    public static let buildType = "https://frostbyte-bundle.invalid/build/v1"
    public static let builderID = "https://frostbyte-bundle.invalid/builder"

    public struct Statement: Codable, Sendable, Equatable {
        public var type: String
        public var subject: [ResourceDescriptor]
        public var predicateType: String
        public var predicate: Predicate
        enum CodingKeys: String, CodingKey {
            case type = "_type"
            case subject, predicateType, predicate
        }
    }

    /// An in-toto ResourceDescriptor: a name or uri and its digests.
    public struct ResourceDescriptor: Codable, Sendable, Equatable {
        public var name: String?
        public var uri: String?
        public var digest: [String: String]
        public var annotations: [String: String]?
        public init(name: String? = nil, uri: String? = nil, sha256 hex: String, annotations: [String: String]? = nil) {
            self.name = name; self.uri = uri; self.digest = ["sha256": hex]; self.annotations = annotations
        }
    }

    public struct Predicate: Codable, Sendable, Equatable {
        public var buildDefinition: BuildDefinition
        public var runDetails: RunDetails
    }

    public struct BuildDefinition: Codable, Sendable, Equatable {
        public var buildType: String
        public var externalParameters: [String: String]
        public var resolvedDependencies: [ResourceDescriptor]
    }

    public struct RunDetails: Codable, Sendable, Equatable {
        public var builder: Builder
        public var metadata: Metadata
    }

    public struct Builder: Codable, Sendable, Equatable {
        public var id: String
        public var version: [String: String]
    }

    public struct Metadata: Codable, Sendable, Equatable {
        public var startedOn: String
        public var finishedOn: String
    }

    /// The subject: every regular file `files[]` lists except the provenance itself
    /// (in_base entries too: the release), by path, with its SHA-256, in path order.
    public static func subject(of files: [Manifest.File]) -> [ResourceDescriptor] {
        subject(files.compactMap { file in file.sha256.map { (file.path, $0) } })
    }

    /// The subject of these (path, SHA-256) files, the provenance itself left out.
    public static func subject(_ files: [(path: String, sha256: SHA256Digest)]) -> [ResourceDescriptor] {
        files.filter { $0.path != path }.map { ResourceDescriptor(name: $0.path, sha256: $0.sha256.hex) }
            .sorted { $0.name!.utf8.lexicographicallyPrecedes($1.name!.utf8) }
    }

    /// The statement's bytes (the DSSE payload).
    /// - Parameters:
    ///   - parameters: the build's external parameters (spec file name, format, SOURCE_DATE_EPOCH).
    ///   - dependencies: every input with its digest, in the order given.
    ///   - createdAt: the source date, `YYYY-MM-DDTHH:MM:SSZ`.
    public static func statement(subject: [ResourceDescriptor], parameters: [String: String],
                                 dependencies: [ResourceDescriptor], builder: Manifest.Builder,
                                 createdAt: String) throws -> Data {
        let statement = Statement(
            type: statementType, subject: subject, predicateType: predicateType,
            predicate: Predicate(
                buildDefinition: BuildDefinition(buildType: buildType, externalParameters: parameters,
                                                 resolvedDependencies: dependencies),
                runDetails: RunDetails(builder: Builder(id: builderID, version: [builder.name: builder.version]),
                                       metadata: Metadata(startedOn: createdAt, finishedOn: createdAt))))
        return try DeterministicJSON.encode(statement)
    }
}
