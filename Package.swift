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

        // hypot/hypotf and two more symbols bound to versions glibc 2.34 / GCC 11 have, so
        // the release binary loads there (scripts/release-binary compiles them in; see
        // Sources/CGlibcCompat/include/CGlibcCompat.h).
        .target(name: "CGlibcCompat"),

        // The leaf core: exit classes, user-facing errors, atomic files, signal cleanup,
        // progress, the one process spawner. FoundationEssentials only.
        .target(name: "FrostbyteCore", dependencies: ["CGlibcCompat"]),
        // The on-disk contract: hashing, signing, manifest, archive read/write, verification.
        .target(name: "BundleFormat", dependencies: ["FrostbyteCore", "CArchive", "CLibCrypto", "CZstd", "CGlibcCompat"]),
        // Bundle specs and compose hardening (YAML in, hardened compose YAML out).
        .target(name: "Stack", dependencies: ["FrostbyteCore", "CYAML"]),
        // The engine client: every docker and docker compose call, typed results,
        // one binary choice, one capability query.
        .target(name: "Engine", dependencies: ["FrostbyteCore", "BundleFormat"]),
        // What an installation is on disk (prefix layout, receipt, ownership labels).
        .target(name: "InstallationState", dependencies: ["FrostbyteCore", "BundleFormat", "Engine"]),
        // build: stage images, models and files, write the bundle.
        .target(name: "Builder", dependencies: ["FrostbyteCore", "BundleFormat", "Stack", "Engine"]),
        // check-isolation: probes, canary, evidence.
        .target(name: "Isolation", dependencies: ["FrostbyteCore", "BundleFormat", "Stack", "Engine", "InstallationState"]),
        // install, status, uninstall.
        .target(name: "Installation",
                dependencies: ["FrostbyteCore", "BundleFormat", "Stack", "Engine", "InstallationState", "Isolation"]),
        // export: audit tables, dumps, one export bundle.
        .target(name: "Export", dependencies: ["FrostbyteCore", "BundleFormat", "Engine", "InstallationState"]),
        // The thin command-line front end.
        .executableTarget(
            name: "frostbyte-bundle",
            dependencies: [
                "FrostbyteCore", "BundleFormat", "Stack", "Engine", "InstallationState", "Builder",
                "Isolation", "Installation", "Export",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]),

        .testTarget(name: "BundleFormatTests", dependencies: ["FrostbyteCore", "BundleFormat"]),
        .testTarget(name: "StackTests", dependencies: ["FrostbyteCore", "Stack"]),
        .testTarget(name: "FrostbyteCoreTests", dependencies: ["FrostbyteCore"]),
        .testTarget(name: "HostTests", dependencies: ["FrostbyteCore", "BundleFormat", "Engine", "InstallationState", "Isolation", "Installation", "Export"]),
        // Runs the real binary (FROSTBYTE_BIN or .build/debug) against real tools and dockerd.
        .testTarget(name: "IntegrationTests", dependencies: ["BundleFormat"]),
    ],
    swiftLanguageModes: [.v6]
)

// The libFuzzer targets (docs/FUZZING.md) exist only when scripts/fuzz builds them
// (FROSTBYTE_FUZZ=1, its own scratch path, -sanitize=fuzzer,address): plain
// `swift build`, `swift test` and scripts/release-binary never see them.
if Context.environment["FROSTBYTE_FUZZ"] == "1" {
    package.products.append(.executable(name: "frostbyte-fuzz", targets: ["frostbyte-fuzz"]))
    package.targets.append(.executableTarget(
        name: "frostbyte-fuzz",
        dependencies: ["FrostbyteCore", "BundleFormat", "Stack", "Isolation"],
        path: "Fuzz/Sources/frostbyte-fuzz"))
}
