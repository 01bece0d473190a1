import FrostbyteCore
import Engine
import FoundationEssentials
import Glibc

/// Which nodes of a swarm hold a release's images, asked of the swarm itself from a
/// manager, so that a deploy can name the nodes that are not prepared and keep tasks
/// off them. No file of a node is read and nothing inside an image runs:
///
/// for each image, a one-shot global job with `image: sha256:<id>` (never resolved or
/// pulled) and an entrypoint that exists in no image starts one task on every node that
/// takes tasks. On a node without the image the task is rejected with "No such image";
/// on a node holding it the container is created and its start fails at the exec of
/// that entrypoint. The first finished task per node and image is the answer; the jobs
/// are removed before `check` returns.
///
/// Guarantees: a node is `prepared` only when, for every image, its task got as far as
/// the exec, which needs the image with that ID in the node's store; a node that gives
/// no answer within the timeout, or another error, is never `prepared`. Nodes that are
/// down or drained get no task and are reported as `not-checked`.
public struct SwarmPreparedCheck: Sendable {
    public var engine: DockerEngine
    /// The entrypoint no image has; its exec error is the sign the image is there.
    public static let probeEntrypoint = "/nonexistent-frostbyte-prepared-check"

    public init(engine: DockerEngine) { self.engine = engine }

    /// One node's answer.
    public struct NodeReport: Codable, Sendable, Equatable {
        public var node: String
        public var nodeID: String
        /// `prepared`, `missing` (an image is not on the node), `no-answer`, `not-checked`
        /// (down or drained), `unknown` (another error, in `detail`).
        public var state: String
        /// Names of the images the node lacks.
        public var missing: [String]
        public var detail: [String]

        enum CodingKeys: String, CodingKey {
            case node, state, missing, detail
            case nodeID = "node_id"
        }
    }

    /// Checks every node for `images` (name → image ID, `sha256:…`), waiting at most
    /// `timeout` seconds for the answers.
    /// - Throws: `DockerEngineError` when this engine is not a manager or a job cannot be created.
    public func check(images: [String: String], timeout: Double) throws -> [NodeReport] {
        let nodes = try engine.swarmNodes()
        let run = TextFormat.hex(UInt64.random(in: 0...UInt64.max), width: 16).prefix(8)
        let probes = images.sorted { $0.key < $1.key }.enumerated().map { index, image in
            (name: image.key, id: image.value, job: "fbcheck-\(run)-\(index)")
        }
        defer { engine.removeServices(probes.map(\.job)) }
        // Created side by side: each creation is one CLI round trip to the manager.
        let engine = self.engine
        let creations = probes.map { probe in
            BackgroundWork {
                try engine.createGlobalJob(name: probe.job, image: probe.id, entrypoint: Self.probeEntrypoint,
                                           labels: ["io.frostbyte.check": "prepared"])
            }
        }
        for creation in creations { try creation.join() }
        let checked = nodes.filter(\.takesTasks)
        // (image name, node hostname) → the first finished task's verdict.
        var verdicts: [String: [String: Verdict]] = [:]
        let deadline = Date().addingTimeInterval(timeout)
        while true {
            // One `docker service ps` for every job still waiting for an answer.
            let waiting = probes.filter { (verdicts[$0.name]?.count ?? 0) < checked.count }
            let tasks = try engine.serviceTasks(ofEach: waiting.map(\.job))
            for probe in waiting {
                for task in tasks[probe.job] ?? [] where verdicts[probe.name]?[task.node] == nil {
                    if let verdict = Verdict(task) { verdicts[probe.name, default: [:]][task.node] = verdict }
                }
            }
            let answered = probes.allSatisfy { probe in checked.allSatisfy { verdicts[probe.name]?[$0.hostname] != nil } }
            if answered || Date() >= deadline { break }
            usleep(300_000)
        }
        return nodes.map { node in
            guard node.takesTasks else {
                return NodeReport(node: node.hostname, nodeID: node.id, state: "not-checked", missing: [],
                                  detail: ["\(node.status), \(node.availability)"])
            }
            var missing: [String] = [], detail: [String] = [], silent = false
            for probe in probes {
                switch verdicts[probe.name]?[node.hostname] {
                case .present: continue
                case .missing: missing.append(probe.name)
                case .other(let error): detail.append("\(probe.name): \(error)")
                case nil: silent = true
                }
            }
            let state = !missing.isEmpty ? "missing" : !detail.isEmpty ? "unknown" : silent ? "no-answer" : "prepared"
            return NodeReport(node: node.hostname, nodeID: node.id, state: state, missing: missing, detail: detail)
        }
    }

    /// What one finished task says about its node.
    enum Verdict: Equatable {
        case present, missing
        case other(String)

        /// Nil while the task has not finished.
        init?(_ task: SwarmTaskListing) {
            let state = task.currentState.split(separator: " ").first.map(String.init) ?? ""
            guard ["Failed", "Rejected", "Complete", "Shutdown", "Orphaned"].contains(state) else { return nil }
            if task.error.contains("No such image") {
                self = .missing
            } else if task.error.contains(SwarmPreparedCheck.probeEntrypoint) {
                self = .present
            } else {
                self = .other(task.error.isEmpty ? state : task.error)
            }
        }
    }
}
