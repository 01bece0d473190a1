import FrostbyteCore
import FoundationEssentials
import Glibc

/// Errors that stop an isolation run before it can produce evidence.
public enum IsolationError: UserFacingError, Equatable {
    case notRoot
    case notInstalled(prefix: String, missing: String)
    case unreadableInstallation(path: String, detail: String)
    case projectNotFound(project: String)
    case invalidProjectName(String)
    case fixNeedsPrefix
    case evidenceWrite(path: String, reason: String)
    case canary(detail: String)
    case firewall(detail: String)

    public var message: String {
        switch self {
        case .notRoot:
            return "check-isolation enters container network namespaces and needs root; run it with sudo"
        case .notInstalled(let prefix, let missing):
            return "no installation at \(prefix): \(missing) is missing; pass the --prefix used at install, or --project NAME"
        case .unreadableInstallation(let path, let detail):
            return "cannot read \(path): \(detail); reinstall the bundle or pass --project NAME"
        case .projectNotFound(let project):
            return "no container or network of compose project '\(project)' exists on this host; check the name with 'docker compose ls'"
        case .invalidProjectName(let name):
            return "'\(name)' is not a compose project name (lowercase letters, digits, '_' and '-', starting with a letter or digit)"
        case .fixNeedsPrefix:
            return "--fix-host-exposure records its firewall rule under <prefix>/state so uninstall can remove it; pass --prefix"
        case .evidenceWrite(let path, let reason):
            return "cannot write the evidence file \(path): \(reason); check the folder exists and is writable"
        case .canary(let detail):
            return "cannot set up the egress canary: \(detail); check that 'ip' (iproute2) works as root"
        case .firewall(let detail):
            return "cannot change the host firewall: \(detail)"
        }
    }

    public var exitStatus: ExitStatus {
        switch self {
        case .notRoot, .evidenceWrite, .canary, .firewall: return .environment
        case .notInstalled, .unreadableInstallation, .projectNotFound, .invalidProjectName, .fixNeedsPrefix:
            return .badInput
        }
    }
}

/// Small file helpers of the isolation checker.
enum IsolationFiles {
    /// Replaces `path` with `data` (see `AtomicFile.write`), creating its folder; any
    /// failure is an `IsolationError.evidenceWrite` naming the path.
    static func writeAtomically(_ data: Data, to path: String, mode: mode_t = 0o644) throws {
        do {
            let folder = PathText.deletingLastComponent(path)
            if !folder.isEmpty { try AtomicFile.makeFolder(folder) }
            try AtomicFile.write(data, to: path, mode: mode)
        } catch let error as FileSystemError {
            throw IsolationError.evidenceWrite(path: path, reason: error.reason)
        }
    }
}
