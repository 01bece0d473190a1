import FrostbyteCore
import FoundationEssentials
import Glibc

/// Shows progress on stderr: a redrawn bar (at most 10 times a second) when stderr
/// is a terminal, otherwise one line when a phase starts and one when it ends, so
/// logs stay short. Thread-safe: the hashing pre-pass reports from two threads.
final class TerminalProgress: ProgressReporter, @unchecked Sendable {
    private let lock = ConditionLock()
    private let isTTY: Bool
    private var phase = ""
    private var total: Int64?
    private var done: Int64 = 0
    private var started = Date()
    private var lastDraw = Date.distantPast
    private var active = false

    /// - Parameter isTTY: draw a bar (true) or print plain lines (false).
    init(isTTY: Bool = Console.stderrIsTTY) {
        self.isTTY = isTTY
    }

    func begin(_ phase: String, totalBytes: Int64?) {
        lock.lock(); defer { lock.unlock() }
        self.phase = phase
        total = totalBytes
        done = 0
        started = Date()
        active = true
        if isTTY {
            draw(force: true)
        } else {
            let size = totalBytes.map { " (\(formatBytes($0)))" } ?? ""
            emit("\(phase)\(size)...\n")
        }
    }

    func advance(by bytes: Int64) {
        lock.lock(); defer { lock.unlock() }
        done += bytes
        if isTTY { draw(force: false) }
    }

    func end() {
        lock.lock(); defer { lock.unlock() }
        guard active else { return }
        active = false
        let seconds = Date().timeIntervalSince(started)
        let rate = seconds > 0.05 ? ", " + TextFormat.fixed(Double(done) / seconds / 1e6, digits: 0) + " MB/s" : ""
        let summary = "\(phase): \(formatBytes(done)) in \(TextFormat.fixed(seconds, digits: 1)) s\(rate)"
        emit(isTTY ? "\r\u{1B}[2K\(summary)\n" : "\(summary)\n")
    }

    private func draw(force: Bool) {
        let now = Date()
        guard force || now.timeIntervalSince(lastDraw) >= 0.1 else { return }
        lastDraw = now
        let width = 30
        var line = "\r\u{1B}[2K"
        if let total, total > 0 {
            let fraction = min(1, Double(done) / Double(total))
            let filled = Int(fraction * Double(width))
            line += "[" + String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled) + "] "
            line += TextFormat.padded(TextFormat.fixed(fraction * 100, digits: 0), width: 3) + "% " + "\(formatBytes(done))/\(formatBytes(total))"
        } else {
            line += formatBytes(done)
        }
        emit(line + "  " + phase)
    }

    private func emit(_ text: String) {
        FileDescriptorIO.writeStandardError(Data(text.utf8))
    }
}
