import FrostbyteCore
import Engine
import InstallationState
import FoundationEssentials

extension Installer {
    /// Runs `body`, a step that needs the engine; when it fails and the engine no
    /// longer answers, the failure is `HostStateError.engineDied` naming `step` and
    /// the engine (exit 3) instead of whatever the dying engine made the step print.
    /// The journal keeps the steps done, so the same command resumes once dockerd is back.
    func watchingEngine<T>(_ docker: DockerEngine, during step: String, _ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch {
            throw engineDeath(docker, during: step) ?? error
        }
    }

    /// `watchingEngine` for a step under `journal`: an engine that died is also recorded
    /// in the journal (status `failed`, the sentence as its failure), which `status`
    /// shows; the steps done stay, so the same command still resumes.
    func watchingEngine<T>(_ docker: DockerEngine, during step: String, journal: inout InstallJournal,
                           _ body: (inout InstallJournal) throws -> T) throws -> T {
        do {
            return try watchingEngine(docker, during: step) { try body(&journal) }
        } catch let died as HostStateError {
            if case .engineDied = died { try? journal.finish(.failed, failure: died.message, in: layout) }
            throw died
        }
    }

    /// `HostStateError.engineDied` when the engine does not answer now, else nil.
    func engineDeath(_ docker: DockerEngine, during step: String) -> HostStateError? {
        docker.answers() ? nil : .engineDied(step: step, endpoint: docker.endpoint, prefix: layout.prefix)
    }
}
