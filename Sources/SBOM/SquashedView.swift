import FoundationEssentials

/// The catalogued paths of an image's root filesystem: its layers' scans applied
/// bottom to top, as an overlay filesystem (and `umoci unpack`) applies the layers.
///
/// Guarantees: in each layer, opaque folders and whiteouts hide only what lower
/// layers put there (a `.wh..wh..opq` empties the folder of lower content, a
/// `.wh.<name>` deletes `<name>` and everything under it), then the layer's own
/// entries replace what was at their paths (a non-folder also hides everything under
/// its path); each path remembers the layer that last wrote it.
public struct SquashedView: Sendable {
    public struct Placed: Sendable, Equatable {
        public var node: LayerScan.Node
        /// Index of the layer (0 = bottom) that put it there.
        public var layer: Int
    }

    public private(set) var nodes: [String: Placed] = [:]

    public init() {}

    /// Applies the next layer (`layer` = its index, bottom first).
    public mutating func apply(_ scan: LayerScan, layer: Int) {
        if !scan.opaqueFolders.isEmpty || !scan.whiteouts.isEmpty {
            // A layer lists every whiteout; only those above a kept path cost a sweep.
            var folders = Set<Substring>()
            for path in nodes.keys {
                var end = path.endIndex
                while let slash = path[..<end].lastIndex(of: "/") {
                    guard folders.insert(path[..<slash]).inserted else { break }
                    end = slash
                }
            }
            for folder in scan.opaqueFolders where folder.isEmpty || folders.contains(Substring(folder)) {
                removeBelow(folder)
            }
            for hidden in scan.whiteouts where nodes[hidden] != nil || folders.contains(Substring(hidden)) {
                nodes[hidden] = nil
                removeBelow(hidden)
            }
        }
        for (path, node) in scan.nodes {
            if case .directory = node, case .directory? = nodes[path]?.node { continue }
            if case .directory = node {} else { removeBelow(path) }
            nodes[path] = Placed(node: node, layer: layer)
        }
    }

    private mutating func removeBelow(_ folder: String) {
        let prefix = folder.isEmpty ? "" : folder + "/"
        for path in nodes.keys where path.hasPrefix(prefix) { nodes[path] = nil }
    }

    /// The regular file at `path` after following symlinks in it (within the kept
    /// paths), with the layer that wrote it; nil when absent or not a regular file.
    public func file(_ path: String) -> (data: Data, layer: Int)? {
        guard let resolved = resolve(path), case .file(let data)? = nodes[resolved]?.node else { return nil }
        return (data, nodes[resolved]!.layer)
    }

    /// The regular files directly in `folder` (no symlinks followed), sorted by name.
    public func files(in folder: String) -> [(path: String, data: Data, layer: Int)] {
        let prefix = folder + "/"
        return nodes.compactMap { path, placed -> (String, Data, Int)? in
            guard path.hasPrefix(prefix), !path.dropFirst(prefix.count).contains("/"),
                  case .file(let data) = placed.node else { return nil }
            return (path, data, placed.layer)
        }.sorted { $0.0 < $1.0 }
    }

    /// `path` with every symlink among its components followed (at most 16).
    func resolve(_ path: String) -> String? {
        var parts = path.split(separator: "/").map(String.init)
        var hops = 0
        var index = 0
        while index < parts.count {
            let prefix = parts[0...index].joined(separator: "/")
            guard case .symlink(let target)? = nodes[prefix]?.node else { index += 1; continue }
            hops += 1
            guard hops <= 16 else { return nil }
            let base = target.hasPrefix("/") ? [] : Array(parts[0..<index])
            var joined: [String] = base
            for part in target.split(separator: "/") {
                if part == ".." { if !joined.isEmpty { joined.removeLast() } } else if part != "." { joined.append(String(part)) }
            }
            parts = joined + parts[(index + 1)...]
            index = 0
        }
        return parts.joined(separator: "/")
    }
}
