import FoundationEssentials

/// The OS packages and the distribution of one image, from its layers' scans.
///
/// Guarantees: the result depends only on the scans and diff IDs, in layer order;
/// packages are those the squashed image's databases list as installed (dpkg
/// `status` and `status.d/*`, apk `installed`, rpm `rpmdb.sqlite`) and the language packages
/// (`LanguagePackages`), sorted by type, name, architecture, location;
/// each names the lowest layer from which on its version stayed installed in every
/// layer's view (an upgrade or a reinstall after a removal moves it up).
public struct ImageCatalogue: Sendable, Equatable {
    public var distribution: OSRelease?
    /// The diff ID of the layer that wrote the os-release file read.
    public var distributionLayer: String?
    public var packages: [CataloguedPackage]

    /// Squashes `layers` (bottom first: diff ID and scan; a nil scan is a layer that
    /// was not read as a tar, which hides nothing) and catalogues the result.
    public init(layers: [(diffID: String, scan: LayerScan?)]) {
        var view = SquashedView()
        var current: [String: CataloguedPackage] = [:]
        for (index, layer) in layers.enumerated() {
            guard let scan = layer.scan, !scan.isEmpty else { continue }
            view.apply(scan, layer: index)
            var next: [String: CataloguedPackage] = [:]
            for found in Self.packages(in: view, diffIDs: layers.map(\.diffID)) {
                if let before = current[found.key], before.version == found.version {
                    next[found.key] = before
                } else {
                    next[found.key] = found
                }
            }
            current = next
        }
        packages = current.values.sorted {
            ($0.type, $0.name, $0.architecture, $0.location ?? "") < ($1.type, $1.name, $1.architecture, $1.location ?? "")
        }
        let release = view.file("etc/os-release") ?? view.file("usr/lib/os-release")
        distribution = release.flatMap { OSRelease($0.data) }
        distributionLayer = distribution == nil ? nil : release.map { layers[$0.layer].diffID }
    }

    /// Every installed package the view's databases list, each attributed to the
    /// layer that wrote its database file.
    private static func packages(in view: SquashedView, diffIDs: [String]) -> [CataloguedPackage] {
        var result: [CataloguedPackage] = []
        func add(_ type: String, _ entries: [(name: String, version: String, architecture: String)], layer: Int) {
            for entry in entries {
                result.append(CataloguedPackage(type: type, name: entry.name, version: entry.version,
                                                architecture: entry.architecture, layer: diffIDs[layer]))
            }
        }
        if let status = view.file("var/lib/dpkg/status") {
            add("deb", PackageDatabases.dpkg(status.data), layer: status.layer)
        }
        for file in view.files(in: "var/lib/dpkg/status.d") where !file.path.hasSuffix(".md5sums") {
            add("deb", PackageDatabases.dpkg(file.data, requireStatus: false), layer: file.layer)
        }
        if let installed = view.file("lib/apk/db/installed") {
            add("apk", PackageDatabases.apk(installed.data), layer: installed.layer)
        }
        if let rpmdb = view.file("usr/lib/sysimage/rpm/rpmdb.sqlite") ?? view.file("var/lib/rpm/rpmdb.sqlite") {
            add("rpm", PackageDatabases.rpm(rpmdb.data), layer: rpmdb.layer)
        }
        for found in LanguagePackages.all(in: view) {
            result.append(CataloguedPackage(type: found.type, name: found.name, version: found.version, architecture: "",
                                            layer: diffIDs[found.layer], location: found.path))
        }
        return result
    }
}
