import FrostbyteCore
import FrostbyteCrypto
import Dispatch
import Synchronization
import FoundationEssentials
import Glibc

extension BundleWriter {
    /// Threads of the hashing pre-pass. Two, because the manifest (which lists every
    /// digest) is the first entry: every file is hashed before the archive starts,
    /// and the machine this targets has two cores that zstd uses afterwards.
    public static let hashingThreads = 2

    /// Fills in the digest and size of every entry that lacks them, reading each file
    /// once in 1 MiB chunks; files are spread over `threads` threads, largest first.
    /// Entries already hashed (staged while hashing) are not read again.
    /// - Throws: `FileReadError` for an unreadable file (the first one met).
    public static func hash(_ entries: [BundleEntry], threads: Int = hashingThreads,
                            progress: ProgressReporter = SilentProgress()) throws -> [BundleEntry] {
        var result = entries
        var pending: [(index: Int, path: String, size: Int64)] = []
        for (index, entry) in entries.enumerated() where !entry.isHashed {
            switch entry.source {
            case .data(let data):
                result[index].digest = SHA256Hasher.hash(data)
                result[index].size = Int64(data.count)
            case .file(let path):
                var info = stat()
                let size = stat(path, &info) == 0 ? Int64(info.st_size) : 0
                pending.append((index, path, size))
            case .directory:
                break
            case .zstdFile(let path):
                preconditionFailure("BundleWriter.hash: \(path) is a staged blob, handed over hashed")
            }
        }
        guard !pending.isEmpty else { return result }
        pending.sort { $0.size != $1.size ? $0.size > $1.size : $0.index < $1.index }
        progress.begin("hashing", totalBytes: pending.reduce(0) { $0 + $1.size })
        defer { progress.end() }

        let state = HashingState(count: pending.count)
        let work = pending
        DispatchQueue.concurrentPerform(iterations: max(1, min(threads, work.count))) { _ in
            while let next = state.take() {
                let item = work[next]
                do {
                    let reader = try ChunkedFileReader(path: item.path)
                    let hasher = SHA256Hasher()
                    let size = try reader.forEachChunk { chunk in
                        hasher.update(chunk)
                        progress.advance(by: Int64(chunk.count))
                    }
                    state.store(next, hasher.finalize(), size)
                } catch {
                    state.fail(error)
                }
            }
        }
        if let error = state.firstError { throw error }
        for (slot, item) in work.enumerated() {
            guard let (digest, size) = state.results[slot] else { continue }
            result[item.index].digest = digest
            result[item.index].size = size
        }
        return result
    }
}

/// Work queue and results of the hashing pre-pass, shared by its threads. Nothing
/// waits on it, so one `Mutex` guards the whole state.
private final class HashingState: Sendable {
    private struct State {
        var nextIndex = 0
        var results: [(SHA256Digest, Int64)?]
        var firstError: Error?
    }

    private let count: Int
    private let state: Mutex<State>

    init(count: Int) {
        self.count = count
        state = Mutex(State(results: Array(repeating: nil, count: count)))
    }

    var results: [(SHA256Digest, Int64)?] { state.withLock { $0.results } }
    var firstError: Error? { state.withLock { $0.firstError } }

    /// The next item to hash, or nil when done or after a failure.
    func take() -> Int? {
        state.withLock { state in
            guard state.firstError == nil, state.nextIndex < count else { return nil }
            defer { state.nextIndex += 1 }
            return state.nextIndex
        }
    }

    func store(_ index: Int, _ digest: SHA256Digest, _ size: Int64) {
        state.withLock { $0.results[index] = (digest, size) }
    }

    func fail(_ error: Error) {
        state.withLock { state in
            if state.firstError == nil { state.firstError = error }
        }
    }
}
