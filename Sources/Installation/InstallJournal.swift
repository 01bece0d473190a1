import FrostbyteCore
import BundleFormat
import InstallationState
import FoundationEssentials
import Glibc

/// The record of one install in progress, `<prefix>/state/journal.json`, rewritten
/// atomically after every step. A re-run of the same bundle with the same project and
/// subnet resumes from it; anything else starts a fresh journal.
public struct InstallJournal: Codable, Sendable, Equatable {
    /// The steps of an install, in order.
    public enum Step: String, Codable, Sendable, CaseIterable {
        case extracted, imagesLoaded = "images_loaded", secrets, composeUp = "compose_up"
        case healthy, migrated, isolated, switched
    }

    /// Where the install stands.
    public enum Status: String, Codable, Sendable {
        case inProgress = "in_progress", failed, complete, rolledBack = "rolled_back"
    }

    public var bundleId: String
    public var project: String
    public var subnet: String
    public var gatewayIP: String?
    /// The release that was current when this install started.
    public var previousBundleId: String?
    public var startedAt: String
    public var updatedAt: String
    public var status: Status
    /// Step → ISO 8601 time it completed.
    public var completed: [String: String]
    /// The last failure's message (never a secret).
    public var failure: String?

    enum CodingKeys: String, CodingKey {
        case project, subnet, status, completed, failure
        case bundleId = "bundle_id"
        case gatewayIP = "gateway_ip"
        case previousBundleId = "previous_bundle_id"
        case startedAt = "started_at"
        case updatedAt = "updated_at"
    }

    /// A fresh journal for a new install.
    public init(bundleId: String, project: String, subnet: String, gatewayIP: String?, previousBundleId: String?) {
        let now = UTCTime.now()
        self.bundleId = bundleId; self.project = project; self.subnet = subnet
        self.gatewayIP = gatewayIP; self.previousBundleId = previousBundleId
        self.startedAt = now; self.updatedAt = now
        self.status = .inProgress; self.completed = [:]; self.failure = nil
    }

    /// True when `step` completed in this install.
    public func isDone(_ step: Step) -> Bool { completed[step.rawValue] != nil }

    /// True when this journal is an unfinished install of the same release, project and
    /// subnet, so its completed steps can be trusted.
    public func canResume(bundleId: String, project: String, subnet: String) -> Bool {
        status != .complete && self.bundleId == bundleId && self.project == project && self.subnet == subnet
    }

    /// Reads the journal at `layout`; nil when there is none or it is unreadable (a
    /// journal is only an optimisation: without it the install starts over).
    public static func load(_ layout: InstallationLayout) -> InstallJournal? {
        guard let data = FileManager.default.contents(atPath: layout.journal) else { return nil }
        return try? JSONDecoder().decode(InstallJournal.self, from: data)
    }

    /// Writes the journal atomically.
    public func save(_ layout: InstallationLayout) throws {
        try AtomicFile.write(try DeterministicJSON.encode(self), to: layout.journal, mode: 0o600)
    }

    /// Marks `step` done and saves.
    public mutating func complete(_ step: Step, in layout: InstallationLayout) throws {
        completed[step.rawValue] = UTCTime.now()
        updatedAt = UTCTime.now()
        try save(layout)
    }

    /// Records the final status (and failure message) and saves.
    public mutating func finish(_ status: Status, failure: String? = nil, in layout: InstallationLayout) throws {
        self.status = status
        self.failure = failure
        updatedAt = UTCTime.now()
        try save(layout)
    }
}

extension InstallationLayout {
    /// `state/journal.json`: the install in progress (or the last one).
    public var journal: String { "\(state)/journal.json" }
    /// `state/lock`: held with flock(2) by install and uninstall.
    public var lock: String { "\(state)/lock" }
    /// `secrets/`: the folder of the generated `.env` (0700).
    public var secrets: String { "\(prefix)/secrets" }
}

/// An exclusive, non-blocking flock(2) on `state/lock`, held for the life of the object.
/// The kernel drops it when the process dies, so a SIGKILLed install never leaves a
/// stale lock behind.
public final class InstallLock {
    private var descriptor: Int32

    /// Takes the lock or fails at once.
    /// - Throws: `InstallError.locked` naming the holder's pid when another process holds it.
    public init(layout: InstallationLayout) throws {
        try AtomicFile.makeFolder(layout.state, mode: 0o700)
        let descriptor = open(layout.lock, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard descriptor >= 0 else { throw FileSystemError.current("open", layout.lock) }
        guard flock(descriptor, LOCK_EX | LOCK_NB) == 0 else {
            let holder = (try? String(contentsOfFile: layout.lock, encoding: .utf8))?
                .trimmed() ?? ""
            close(descriptor)
            throw InstallError.locked(path: layout.lock, holder: holder.isEmpty ? "" : "pid \(holder)")
        }
        ftruncate(descriptor, 0)
        let pid = "\(getpid())\n"
        _ = pid.withCString { Glibc.write(descriptor, $0, strlen($0)) }
        self.descriptor = descriptor
    }

    /// Releases the lock now (also done on deinit).
    public func release() {
        guard descriptor >= 0 else { return }
        flock(descriptor, LOCK_UN)
        close(descriptor)
        descriptor = -1
    }

    deinit { release() }
}
