// swift-tools-version:6.1
import PackageDescription

let package = Package(
    name: "frostbyte-bundle",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "frostbyte-bundle", targets: ["frostbyte-bundle"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
    ],
    targets: [
        // C libraries from Debian's -dev packages, each wrapped in its own module.
        .systemLibrary(
            name: "CArchive", pkgConfig: "libarchive",
            providers: [.apt(["libarchive-dev"])]),
        .systemLibrary(
            name: "CLibCrypto", pkgConfig: "libcrypto",
            providers: [.apt(["libssl-dev"])]),
        .systemLibrary(
            name: "CYAML", pkgConfig: "yaml-0.1",
            providers: [.apt(["libyaml-dev"])]),
        .systemLibrary(
            name: "CZstd", pkgConfig: "libzstd",
            providers: [.apt(["libzstd-dev"])]),
        .systemLibrary(
            name: "CSQLite", pkgConfig: "sqlite3",
            providers: [.apt(["libsqlite3-dev"])]),

        // hypot/hypotf and two more symbols bound to versions glibc 2.34 / GCC 11 have, so
        // the release binary loads there (scripts/release-binary compiles them in; see
        // Sources/CGlibcCompat/include/CGlibcCompat.h).
        .target(name: "CGlibcCompat"),

        // The leaf core: exit classes, user-facing errors, atomic files, file reading,
        // signal cleanup, progress, the one process spawner. FoundationEssentials only.
        .target(name: "FrostbyteCore", dependencies: ["CGlibcCompat"]),
        // SHA-256 and Ed25519 signing: the only module that imports CLibCrypto.
        .target(name: "FrostbyteCrypto", dependencies: ["FrostbyteCore", "CLibCrypto"]),
        // tar and zstd mechanics (reader, writer, safe extraction, docker-archive
        // inspection), no bundle knowledge: the only module that imports CArchive and CZstd.
        .target(name: "FrostbyteArchive", dependencies: ["FrostbyteCore", "FrostbyteCrypto", "CArchive", "CZstd"]),
        // The bundle contract: manifest, layout, OCI documents, writers, verifier, split parts.
        .target(name: "BundleFormat", dependencies: ["FrostbyteCore", "FrostbyteCrypto", "FrostbyteArchive"]),
        // Bundle specs and compose hardening (YAML in, hardened compose YAML out).
        .target(name: "Stack", dependencies: ["FrostbyteCore", "CYAML"]),
        // The engine client: every docker and docker compose call, typed results,
        // one binary choice, one capability query.
        .target(name: "Engine", dependencies: ["FrostbyteCore", "FrostbyteCrypto", "FrostbyteArchive"]),
        // What an installation is on disk (prefix layout, receipt, ownership labels,
        // the description of an installed compose project). Does not drive compose.
        .target(name: "InstallationState", dependencies: ["FrostbyteCrypto", "BundleFormat"]),
        // The package catalogue: layer scans, the squashed view, dpkg/apk, CycloneDX and SPDX.
        .target(name: "SBOM", dependencies: ["FrostbyteCore", "CSQLite"]),
        // build: stage images, models and files, write the bundle.
        .target(name: "Builder",
                dependencies: ["FrostbyteCore", "FrostbyteCrypto", "FrostbyteArchive", "BundleFormat", "Stack", "Engine", "SBOM"]),
        // check-isolation: probes, canary, evidence.
        .target(name: "Isolation",
                dependencies: ["FrostbyteCore", "FrostbyteCrypto", "BundleFormat", "Stack", "Engine", "InstallationState"]),
        // install, status, uninstall.
        .target(name: "Installation",
                dependencies: ["FrostbyteCore", "FrostbyteCrypto", "FrostbyteArchive", "BundleFormat", "Stack", "Engine",
                               "InstallationState", "Isolation"]),
        // export: audit tables, dumps, one export bundle.
        .target(name: "Export",
                dependencies: ["FrostbyteCore", "FrostbyteCrypto", "FrostbyteArchive", "BundleFormat", "Engine",
                               "InstallationState"]),
        // The thin command-line front end.
        .executableTarget(
            name: "frostbyte-bundle",
            dependencies: [
                "FrostbyteCore", "FrostbyteCrypto", "FrostbyteArchive", "BundleFormat", "Stack", "Engine", "InstallationState",
                "Builder", "Isolation", "Installation", "Export", "SBOM",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]),

        // Shared by every test target: the binary under test (one rule), the command
        // runner on ChildProcess, the docker requirement trait, the stale-run sweep,
        // the hand-built v2 layout.
        .target(name: "TestSupport", dependencies: ["FrostbyteCore", "FrostbyteCrypto", "BundleFormat"],
                path: "Tests/TestSupport"),

        .testTarget(name: "TestSupportTests", dependencies: ["FrostbyteCore", "TestSupport"]),
        .testTarget(name: "FrostbyteCoreTests", dependencies: ["FrostbyteCore", "TestSupport"]),
        .testTarget(name: "BundleFormatTests",
                    dependencies: ["FrostbyteCore", "FrostbyteCrypto", "FrostbyteArchive", "BundleFormat", "TestSupport"]),
        .testTarget(name: "SBOMTests", dependencies: ["FrostbyteCore", "SBOM", "TestSupport"]),
        .testTarget(name: "StackTests", dependencies: ["FrostbyteCore", "Stack", "TestSupport"]),
        .testTarget(name: "BuilderTests",
                    dependencies: ["FrostbyteCore", "FrostbyteCrypto", "FrostbyteArchive", "BundleFormat", "Stack",
                                   "Engine", "Builder", "TestSupport"]),
        .testTarget(name: "IsolationTests",
                    dependencies: ["FrostbyteCore", "FrostbyteCrypto", "BundleFormat", "Engine", "InstallationState",
                                   "Isolation", "Installation", "TestSupport"]),
        .testTarget(name: "InstallationTests",
                    dependencies: ["FrostbyteCore", "FrostbyteCrypto", "FrostbyteArchive", "BundleFormat", "Stack", "Engine",
                                   "InstallationState", "Isolation", "Installation", "TestSupport"]),
        .testTarget(name: "ExportTests",
                    dependencies: ["FrostbyteCore", "FrostbyteCrypto", "BundleFormat", "Engine", "InstallationState",
                                   "Export", "TestSupport"]),
        // Runs the real binary (TestSupport's FrostbyteBinary) against real tools and dockerd.
        .testTarget(name: "IntegrationTests", dependencies: ["FrostbyteCrypto", "BundleFormat", "TestSupport"]),
    ],
    swiftLanguageModes: [.v6]
)
// Each file imports the modules it uses, members included: without this, a member of a
// type from a module that is only loaded indirectly would compile without its import.
for target in package.targets where target.type == .regular || target.type == .executable {
    target.swiftSettings = (target.swiftSettings ?? []) + [.enableUpcomingFeature("MemberImportVisibility")]
}

// The libFuzzer targets (docs/FUZZING.md) exist only when scripts/fuzz builds them
// (FROSTBYTE_FUZZ=1, its own scratch path, -sanitize=fuzzer,address): plain
// `swift build`, `swift test` and scripts/release-binary never see them.
if Context.environment["FROSTBYTE_FUZZ"] == "1" {
    package.products.append(.executable(name: "frostbyte-fuzz", targets: ["frostbyte-fuzz"]))
    package.targets.append(.executableTarget(
        name: "frostbyte-fuzz",
        dependencies: ["FrostbyteCore", "FrostbyteCrypto", "FrostbyteArchive", "BundleFormat", "Stack", "Isolation", "SBOM"],
        path: "Fuzz/Sources/frostbyte-fuzz"))
}
