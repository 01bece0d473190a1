import FrostbyteCore
import Dispatch
import FoundationEssentials
import Glibc
import Synchronization

/// One probe to run: a key to find its outcome by, the namespace to run it in, and
/// the blocking work (a `SocketProbe` call, bounded by its own timeout).
struct ProbeTask: Sendable {
    let key: String
    let namespace: ProbeNamespace
    let body: @Sendable () -> ProbeOutcome
}

/// Runs probes in parallel, each on its own fresh thread inside its namespace, and
/// waits for all of them at most `watchdog` seconds.
///
/// Guarantees:
/// - At most `concurrency` probes run at once (default 256, far above what a stack
///   needs: every container × target of a run starts together, so a phase whose
///   blocked probes each wait out their timeout (Engine 20.10 drops packets on
///   internal networks) costs one timeout, not one per wave of probes).
/// - Every task has exactly one outcome under its key: its own, `.failed` when its
///   namespace could not be entered, or `.hung` when the watchdog passed first.
///   Outcomes are looked up by key, so the order probes finish in never shows in
///   the evidence.
/// - Probes not yet started when the watchdog passes are cancelled, so nothing
///   touches the network after `run` returns except a hung probe finishing its own
///   bounded wait.
/// - `run` returns no sooner than `settle` seconds after the last probe started, so
///   a datagram or handshake a probe sent at its start has had that long to reach a
///   listener before the caller counts what arrived. Probes that waited out their
///   timeout have already given it that long, and then `run` adds nothing.
enum ProbeRunner {
    static let defaultConcurrency = 256

    static func run(_ tasks: [ProbeTask], watchdog: Double, settle: Double = 0,
                    concurrency: Int = defaultConcurrency) -> [String: ProbeOutcome] {
        let state = Mutex(RunState())
        let gate = DispatchSemaphore(value: max(1, concurrency))
        let group = DispatchGroup()
        for task in tasks {
            group.enter()
            DetachedThread.start(name: "probe", stackSize: 512 * 1024) {
                defer { group.leave() }
                gate.wait()
                defer { gate.signal() }
                let started = ContinuousClock.now
                guard state.withLock({ state in
                    guard !state.cancelled else { return false }
                    state.lastStart = max(state.lastStart ?? started, started)
                    return true
                }) else { return }
                let outcome: ProbeOutcome
                do {
                    let previous = try NetworkNamespace.enter(task.namespace)
                    defer { NetworkNamespace.leave(previous) }
                    outcome = task.body()
                } catch {
                    outcome = .failed(reason: "\(error)")
                }
                state.withLock { $0.outcomes[task.key] = outcome }
            }
        }
        let finished = group.wait(timeout: .now() + watchdog) == .success
        var outcomes = state.withLock { state in
            if !finished { state.cancelled = true }
            return state.outcomes
        }
        for task in tasks where outcomes[task.key] == nil {
            outcomes[task.key] = .hung(seconds: watchdog)
        }
        if settle > 0, let lastStart = state.withLock({ $0.lastStart }) {
            let left = lastStart + .milliseconds(Int(settle * 1000)) - ContinuousClock.now
            if left > .zero {
                usleep(UInt32(left.components.seconds * 1_000_000 + left.components.attoseconds / 1_000_000_000_000))
            }
        }
        return outcomes
    }

    /// What the probe threads share: their outcomes, the watchdog's cancellation and
    /// when the last probe started.
    private struct RunState: Sendable {
        var outcomes: [String: ProbeOutcome] = [:]
        var cancelled = false
        var lastStart: ContinuousClock.Instant?
    }
}
