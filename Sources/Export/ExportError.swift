import FrostbyteCore
import FoundationEssentials
import Glibc

/// Everything `export` refuses or fails with. Each case says what went wrong, where,
/// and what to do; the exit status follows the command contract (1 a step failed,
/// 2 bad input, 3 environment).
public enum ExportError: UserFacingError, Equatable {
    // Bad input (2)
    case notInstalled(prefix: String)
    case noExports(bundleId: String)
    case invalidStepName(name: String)
    case duplicateStepName(name: String)
    case outputExists(path: String)
    case outputFolderMissing(path: String)
    /// A Swarm install: the export steps' services run on other nodes (service → nodes).
    case dataOnAnotherNode(stack: String, placement: [String: [String]], here: String, prefix: String)
    case noLocalStack(prefix: String, services: [String], here: String)
    case severalStacks(stacks: [String])

    // Environment (3)
    case inconsistentInstallation(receipt: String, current: String)
    case unreadable(path: String, reason: String)
    case workspace(path: String, reason: String)
    case spoolWrite(step: String, path: String, reason: String)
    case startFailed(step: String, reason: String)

    // A step failed (1)
    case stepFailed(step: String, service: String, status: Int32, stderrTail: String)
    case stepTimedOut(step: String, service: String, seconds: Int)

    public var message: String {
        switch self {
        case .notInstalled(let prefix):
            return "nothing is installed under \(prefix) (no state/receipt.json or current/MANIFEST.json); pass the --prefix the bundle was installed with"
        case .noExports(let bundleId):
            return "the installed bundle \(bundleId) declares no export steps ('exports' in its spec); add them to the bundle spec, build and install it, then export"
        case .invalidStepName(let name):
            return "export step name '\(name)' cannot be a file name under data/ (it must be one path component, not '.' or '..', without control characters); fix 'exports' in the bundle spec"
        case .duplicateStepName(let name):
            return "two export steps are named '\(name)'; export names must be unique, fix 'exports' in the bundle spec"
        case .outputExists(let path):
            return "\(path) already exists; an export never overwrites an earlier one, choose another -o or move the old file away"
        case .outputFolderMissing(let path):
            return "the folder \(path) for the output does not exist; create it or choose another -o"
        case .dataOnAnotherNode(let stack, let placement, let here, let prefix):
            let nodes = Set(placement.values.flatMap { $0 })
            let places = placement.sorted { $0.key < $1.key }
                .map { "\($0.key) on \($0.value.isEmpty ? "no node (not running)" : $0.value.joined(separator: ", "))" }.joined(separator: ", ")
            if nodes.count == 1, let node = nodes.first, !placement.values.contains(where: \.isEmpty) {
                return "the export steps of stack \(stack) read \(places), not this node (\(here)); nothing was written: run 'frostbyte-bundle export --prefix \(prefix) -o OUT' on \(node), where prepare kept the release"
            }
            return "the export steps of stack \(stack) read \(places), and export runs on one node with all of them (this is \(here)); nothing was written: start the stopped services, or pin them to one node ('install --swarm --pin SERVICE=NODE' on a first install), then run export there"
        case .noLocalStack(let prefix, let services, let here):
            return "no stack prepared under \(prefix) runs \(services.joined(separator: ", ")) on this node (\(here)); nothing was written: run export on the node where they run ('frostbyte-bundle status --prefix PREFIX' on a manager names it), with the prefix prepare used there"
        case .severalStacks(let stacks):
            return "several stacks on this node run the export's services (\(stacks.joined(separator: ", "))); nothing was written: name one with --project"
        case .inconsistentInstallation(let receipt, let current):
            return "the installation is inconsistent: state/receipt.json names \(receipt) but current/MANIFEST.json is \(current); re-run install (or rollback) before exporting"
        case .unreadable(let path, let reason):
            return "cannot read \(path): \(reason)"
        case .workspace(let path, let reason):
            return "cannot use the spool folder \(path): \(reason); export spools every step to disk next to -o, so that folder must be writable with room for the dumps"
        case .spoolWrite(let step, let path, let reason):
            return "writing the output of step '\(step)' to \(path) failed: \(reason); export spools each step to disk next to -o, free space there or choose another -o"
        case .startFailed(let step, let reason):
            return "could not start step '\(step)': \(reason); check that docker and the compose plugin are installed"
        case .stepFailed(let step, let service, let status, let stderrTail):
            let detail = stderrTail.isEmpty ? "" : ": \(stderrTail)"
            return "export step '\(step)' (service \(service)) exited with status \(status)\(detail); no export was written"
        case .stepTimedOut(let step, let service, let seconds):
            return "export step '\(step)' (service \(service)) did not finish within \(seconds) s and was stopped; no export was written (raise --timeout for large data)"
        }
    }

    public var exitStatus: ExitStatus {
        switch self {
        case .notInstalled, .noExports, .invalidStepName, .duplicateStepName, .outputExists, .outputFolderMissing,
             .dataOnAnotherNode, .noLocalStack, .severalStacks:
            return .badInput
        case .inconsistentInstallation, .unreadable, .workspace, .spoolWrite, .startFailed:
            return .environment
        case .stepFailed, .stepTimedOut:
            return .checkFailed
        }
    }
}
