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

        // hypot/hypotf bound to GLIBC_2.2.5 so the executable loads on glibc 2.34
        // (release-binary; see Sources/CGlibcCompat/include/CGlibcCompat.h).
        .target(name: "CGlibcCompat"),

        // The on-disk contract: hashing, signing, manifest, archive read/write, verification.
        .target(name: "BundleFormat", dependencies: ["CArchive", "CLibCrypto", "CZstd", "CGlibcCompat"]),
        // Bundle specs and compose hardening (YAML in, hardened compose YAML out).
        .target(name: "Stack", dependencies: ["BundleFormat", "CYAML"]),
        // Everything that touches the host: docker, compose, install, isolation, export.
        .target(name: "Host", dependencies: ["Stack", "BundleFormat"]),
        // The thin command-line front end.
        .executableTarget(
            name: "frostbyte-bundle",
            dependencies: [
                "BundleFormat", "Stack", "Host",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]),

        .testTarget(name: "BundleFormatTests", dependencies: ["BundleFormat"]),
        .testTarget(name: "StackTests", dependencies: ["Stack"]),
        .testTarget(name: "HostTests", dependencies: ["Host"]),
        // Runs the real binary (FROSTBYTE_BIN or .build/debug) against real tools and dockerd.
        .testTarget(name: "IntegrationTests", dependencies: ["BundleFormat"]),
    ],
    swiftLanguageModes: [.v6]
)
