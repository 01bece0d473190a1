import Engine
import FoundationEssentials
import Glibc

/// Points of a run at which `IsolationChecker.phaseHook` is called. Other projects'
/// containers and networks may come and go at any of them; tests use the hook to
/// make such a race happen at an exact point.
public enum IsolationPhase: String, Sendable, CaseIterable {
    /// Container IDs are listed, not yet inspected.
    case containersListed
    /// Containers are inspected, networks not yet listed or inspected.
    case containersInspected
    /// The snapshot of containers and networks is complete.
    case snapshotTaken
    /// Probes are planned (PIDs and listening ports read), not yet run.
    case probesPlanned
}

/// A container or network that existed when the run found it and was gone (removed,
/// stopped or restarted) when the run used it. Another project's object vanishing
/// is that project's business and is recorded as `info`; this project's is a
/// failure: its stack is not stable while it is being checked.
struct VanishedObject: Sendable, Equatable {
    enum Kind: String, Sendable { case container, network }
    /// When in the run it was found gone.
    enum Phase: Sendable, Equatable {
        /// Listed, then not found by `docker inspect`.
        case inspecting
        /// Inspected (running, with this PID), then stopped, removed or restarted
        /// before the probes were done.
        case probing(observed: String)
    }

    var kind: Kind
    var id: String
    /// The name as listed or as a container's endpoint names it; may be empty.
    var name: String
    /// Its project, when known.
    var project: String?
    /// True when it belongs to the project being checked.
    var ownedByTarget: Bool
    var phase: Phase

    /// The name, else the short ID.
    var label: String { name.isEmpty ? String(id.prefix(12)) : name }

    var observation: String {
        switch phase {
        case .inspecting:
            return "listed, then gone when inspected (docker \(kind.rawValue) inspect: not found)"
        case .probing(let observed):
            return "running when the probes were planned, then \(observed) before they finished"
        }
    }
}

extension IsolationChecker {
    /// Inspects the containers the probes used once more, after the probes: a
    /// container that is gone, stopped or running under another PID vanished during
    /// the check, and what its probes observed cannot be trusted either way.
    func containersVanishedDuringProbes(
        _ snapshot: IsolationSnapshot, inspector: DockerEngine
    ) -> [VanishedObject] {
        let probed = snapshot.runningContainers + snapshot.foreignContainers
        guard !probed.isEmpty else { return [] }
        let now: DockerInspection<DockerContainer>
        do {
            now = try inspector.inspectContainers(probed.map(\.id))
        } catch {
            return []  // the engine did not answer: the probe outcomes stand as observed
        }
        var vanished: [VanishedObject] = []
        for container in probed {
            let observed: String
            if let current = now.found.first(where: { $0.id == container.id }) {
                if !current.state.running || current.state.pid <= 0 {
                    observed = "\(current.state.status.isEmpty ? "stopped" : current.state.status)"
                } else if current.state.pid != container.state.pid {
                    observed = "restarted (PID \(container.state.pid) → \(current.state.pid))"
                } else {
                    continue
                }
            } else {
                observed = "removed"
            }
            let own = IsolationSnapshot.belongs(container.config.labels, to: target.project)
            vanished.append(VanishedObject(
                kind: .container, id: container.id, name: container.name,
                project: own ? target.project : IsolationSnapshot.projectName(of: container),
                ownedByTarget: own, phase: .probing(observed: observed)))
        }
        return vanished
    }

    /// One check per vanished object: `fail` for this project's, `info` for another's.
    func recordVanished(_ vanished: [VanishedObject], into checks: inout CheckList) {
        var seen = Set<String>()
        for object in vanished where seen.insert("\(object.kind)/\(object.id)").inserted {
            let subject = "\(object.kind.rawValue) \(object.label)"
            if object.ownedByTarget {
                checks.add(
                    "configuration.vanished/\(object.kind.rawValue)/\(object.label)", "configuration",
                    "\(subject) of project \(target.project) vanished during the check",
                    probe: "docker \(object.kind.rawValue) inspect \(object.id)",
                    expected: "every container and network of the project stays up while it is checked",
                    observed: object.observation, status: .fail,
                    remedy: "the stack is not healthy: something removed, stopped or restarted its \(object.kind.rawValue) while it was checked; look at 'docker compose -p \(target.project) ps' and its logs, and re-run the check once the stack is stable")
            } else {
                let owner = object.project.map { " of project \($0)" } ?? " of another project"
                checks.add(
                    "cross-project.vanished/\(object.kind.rawValue)/\(object.label)", "cross-project",
                    "\(subject)\(owner) vanished during the check",
                    probe: "docker \(object.kind.rawValue) inspect \(object.id)",
                    expected: "(other projects' objects may come and go; not counted)",
                    observed: object.observation + "; skipped", status: .info)
            }
        }
    }
}
