import FrostbyteCore
import FoundationEssentials
import Glibc
import Synchronization

/// Shows progress on stderr: a redrawn bar (at most 10 times a second) when stderr
/// is a terminal, otherwise one line when a phase starts and one when it ends, so
/// logs stay short. Thread-safe: the hashing pre-pass reports from two threads.
final class TerminalProgress: ProgressReporter, Sendable {
    private let isTTY: Bool
    /// What is drawn; nothing waits on it, so one `Mutex` guards it.
    private struct State {
        var phase = ""
        var total: Int64?
        var done: Int64 = 0
        var started = Date()
        var lastDraw = Date.distantPast
        var active = false
    }
    private let state = Mutex(State())

    /// - Parameter isTTY: draw a bar (true) or print plain lines (false).
    init(isTTY: Bool = Console.stderrIsTTY) {
        self.isTTY = isTTY
    }

    func begin(_ phase: String, totalBytes: Int64?) {
        state.withLock { state in
            state = State(phase: phase, total: totalBytes, done: 0, started: Date(), lastDraw: state.lastDraw, active: true)
            if isTTY {
                draw(&state, force: true)
            } else {
                let size = totalBytes.map { " (\(formatBytes($0)))" } ?? ""
                emit("\(phase)\(size)...\n")
            }
        }
    }

    func advance(by bytes: Int64) {
        state.withLock { state in
            state.done += bytes
            if isTTY { draw(&state, force: false) }
        }
    }

    func end() {
        state.withLock { state in
            guard state.active else { return }
            state.active = false
            let seconds = Date().timeIntervalSince(state.started)
            let rate = seconds > 0.05 ? ", " + TextFormat.fixed(Double(state.done) / seconds / 1e6, digits: 0) + " MB/s" : ""
            let summary = "\(state.phase): \(formatBytes(state.done)) in \(TextFormat.fixed(seconds, digits: 1)) s\(rate)"
            emit(isTTY ? "\r\u{1B}[2K\(summary)\n" : "\(summary)\n")
        }
    }

    private func draw(_ state: inout State, force: Bool) {
        let now = Date()
        guard force || now.timeIntervalSince(state.lastDraw) >= 0.1 else { return }
        state.lastDraw = now
        let width = 30
        var line = "\r\u{1B}[2K"
        if let total = state.total, total > 0 {
            let fraction = min(1, Double(state.done) / Double(total))
            let filled = Int(fraction * Double(width))
            line += "[" + String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled) + "] "
            line += TextFormat.padded(TextFormat.fixed(fraction * 100, digits: 0), width: 3) + "% " + "\(formatBytes(state.done))/\(formatBytes(total))"
        } else {
            line += formatBytes(state.done)
        }
        emit(line + "  " + state.phase)
    }

    private func emit(_ text: String) {
        FileDescriptorIO.writeStandardError(Data(text.utf8))
    }
}
