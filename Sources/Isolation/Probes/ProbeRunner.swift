import FrostbyteCore
import BundleFormat
import Stack
import Engine
import InstallationState
import Dispatch
import FoundationEssentials
import Glibc

/// One probe to run: a key to find its outcome by, the namespace to run it in, and
/// the blocking work (a `SocketProbe` call, bounded by its own timeout).
struct ProbeTask: Sendable {
    let key: String
    let namespace: ProbeNamespace
    let body: @Sendable () -> ProbeOutcome
}

/// Runs probes in parallel, each on its own thread inside its namespace, and waits
/// for all of them at most `watchdog` seconds. A probe still running then is
/// reported as `.hung`; probes not yet started are cancelled, so nothing touches the
/// network after `run` returns except a hung probe finishing its own bounded wait.
enum ProbeRunner {
    static func run(_ tasks: [ProbeTask], watchdog: Double, concurrency: Int = 24) -> [String: ProbeOutcome] {
        let results = ResultsBox()
        let gate = DispatchSemaphore(value: max(1, concurrency))
        let group = DispatchGroup()
        let cancelled = Flag()
        for task in tasks {
            group.enter()
            DetachedThread.start(name: "probe", stackSize: 512 * 1024) {
                defer { group.leave() }
                gate.wait()
                defer { gate.signal() }
                guard !cancelled.isSet else { return }
                let outcome: ProbeOutcome
                do {
                    let previous = try NetworkNamespace.enter(task.namespace)
                    defer { NetworkNamespace.leave(previous) }
                    outcome = task.body()
                } catch {
                    outcome = .failed(reason: "\(error)")
                }
                results.set(task.key, outcome)
            }
        }
        if group.wait(timeout: .now() + watchdog) == .timedOut { cancelled.set() }
        var outcomes = results.snapshot()
        for task in tasks where outcomes[task.key] == nil {
            outcomes[task.key] = .hung(seconds: watchdog)
        }
        return outcomes
    }
}

/// Probe outcomes by key, written from many threads.
private final class ResultsBox: @unchecked Sendable {
    private let lock = ConditionLock()
    private var values: [String: ProbeOutcome] = [:]
    func set(_ key: String, _ value: ProbeOutcome) { lock.lock(); values[key] = value; lock.unlock() }
    func snapshot() -> [String: ProbeOutcome] { lock.lock(); defer { lock.unlock() }; return values }
}

/// A one-way boolean shared between threads.
final class Flag: @unchecked Sendable {
    private let lock = ConditionLock()
    private var value = false
    var isSet: Bool { lock.lock(); defer { lock.unlock() }; return value }
    func set() { lock.lock(); value = true; lock.unlock() }
}
