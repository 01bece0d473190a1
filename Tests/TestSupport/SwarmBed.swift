import Foundation

/// The `scripts/swarm` test bed a suite runs on, read from the environment
/// `scripts/swarm run NODE -- …` sets. Three beds can run side by side
/// (`FB_SWARM_BED=fbsw|fbsx|fbsy`); a suite names nodes through this type so it runs
/// on whichever bed started it.
public enum SwarmBed {
    /// The node this process runs on (`FROSTBYTE_SWARM_NODE`, e.g. `fbsw1`), or nil
    /// outside the test bed.
    public static var currentNode: String? { ProcessInfo.processInfo.environment["FROSTBYTE_SWARM_NODE"] }

    /// The bed's node-name prefix (`fbsw`, `fbsx` or `fbsy`): the current node's name
    /// without its number; `fbsw` outside the test bed.
    public static var prefix: String {
        guard let node = currentNode else { return "fbsw" }
        return String(node.prefix { !$0.isNumber })
    }

    /// The name of node `index` (1-based) of this bed: `node(1)` is its first manager.
    public static func node(_ index: Int) -> String { "\(prefix)\(index)" }

    /// True when this process runs on the bed's first node, the manager that formed
    /// the swarm.
    public static var onFirstManager: Bool { currentNode != nil && currentNode == node(1) }

    /// The bed's LAN, `198.18.40` for fbsw, `.41` for fbsx, `.42` for fbsy: node I is
    /// `\(lan).I`.
    public static var lan: String {
        switch prefix {
        case "fbsx": return "198.18.41"
        case "fbsy": return "198.18.42"
        default: return "198.18.40"
        }
    }

    /// The environment that points docker at `node`'s engine.
    public static func host(_ node: String) -> [String: String] {
        let suffix = prefix == "fbsw" ? "" : "-\(prefix)"
        return ["DOCKER_HOST": "unix:///run/frostbyte-swarm\(suffix)/\(node)/docker.sock"]
    }
}
