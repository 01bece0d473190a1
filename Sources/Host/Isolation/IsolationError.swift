import BundleFormat
import Foundation

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
    /// Replaces `path` with `data` so a reader sees the old or the new bytes, never
    /// a torn file: temporary file in the same folder, fsync, rename, fsync folder.
    static func writeAtomically(_ data: Data, to path: String, mode: mode_t = 0o644) throws {
        let folder = (path as NSString).deletingLastPathComponent.isEmpty
            ? "." : (path as NSString).deletingLastPathComponent
        do {
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        } catch {
            throw IsolationError.evidenceWrite(path: path, reason: "\(error.localizedDescription)")
        }
        let temporary = "\(folder)/.\((path as NSString).lastPathComponent).tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode)
        guard fd >= 0 else { throw IsolationError.evidenceWrite(path: path, reason: String(cString: strerror(errno))) }
        var ok = true
        data.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                let written = Foundation.write(fd, raw.baseAddress! + offset, raw.count - offset)
                if written < 0 { if errno == EINTR { continue }; ok = false; return }
                offset += written
            }
        }
        if ok { ok = fchmod(fd, mode) == 0 && fsync(fd) == 0 }
        let reason = String(cString: strerror(errno))
        close(fd)
        guard ok, rename(temporary, path) == 0 else {
            unlink(temporary)
            throw IsolationError.evidenceWrite(path: path, reason: ok ? String(cString: strerror(errno)) : reason)
        }
        let folderFD = open(folder, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if folderFD >= 0 { fsync(folderFD); close(folderFD) }
    }
}
