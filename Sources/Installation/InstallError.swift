import FrostbyteCore
import BundleFormat
import FoundationEssentials
import Glibc

/// Everything `install`, `status` and `uninstall` refuse or fail with. Each case names
/// what went wrong, where, and what the operator can do; the exit status follows the
/// command contract (2 bad input, 3 environment, 1 a check failed).
public enum InstallError: UserFacingError, Equatable {
    // Environment (3)
    case notRoot
    case dockerUnreachable(detail: String)
    case composeMissing(detail: String)
    case composeV1Only(version: String)
    case composeTooOld(version: String, minimum: String)
    case notEnoughSpace(path: String, needed: Int64, available: Int64)
    case locked(path: String, holder: String)
    case filesystem(operation: String, path: String, reason: String)
    case docker(operation: String, detail: String)

    // Bad input (2)
    case bundleNotFound(path: String)
    case notABundle(path: String, detail: String)
    case trustRequired
    /// The bundle is an older version of the installed bundle (rollback attack guard).
    case downgrade(name: String, installed: String, offered: String)
    case trustAndUnsigned
    case notAStackBundle(kind: String)
    case bundleLacks(field: String)
    case invalidProject(name: String)
    case projectOwned(project: String, owner: String)
    case prefixHoldsOtherProject(prefix: String, project: String)
    case invalidSubnet(text: String, reason: String)
    case subnetNotPrivate(subnet: String)
    case subnetOverlaps(subnet: String, other: String, owner: String)
    case gatewayDoesNotFit(gateway: String, subnet: String)
    /// `--publish` is not `PORT` or `IPV4:PORT`.
    case invalidPublish(text: String, reason: String)
    /// Something on this host already listens at the `--publish` address.
    case publishBusy(publish: String, holder: String)
    /// The `--publish` address is not one of this host's.
    case publishAddressNotLocal(publish: String)
    /// `--ingress-subnet` is not a private IPv4 CIDR of /29 or larger.
    case invalidIngressSubnet(text: String, reason: String)
    /// No /29 of the automatic block is free for the ingress network.
    case noFreeIngressSubnet(block: String)
    case invalidTimeout(seconds: Double)
    case notInstalled(prefix: String)
    case secretsUnreadable(path: String, line: Int)
    case migrationName(path: String)
    /// A delta bundle whose base release is not installed here (or not as it was built).
    case deltaBaseMissing(base: Manifest.Base, release: String, prefix: String, reason: String)

    // Check failed (1)
    case verificationFailed(detail: String)
    case imageIDMismatch(image: String, expected: String, found: String)
    case unhealthy(service: String, state: String, logs: String)
    case healthTimeout(services: [String], seconds: Int, logs: String)
    case migrationFailed(file: String, detail: String)
    case migrationChanged(file: String, recorded: String, now: String)
    case isolationFailed(detail: String, evidence: String?)
    case rolledBack(reason: String, restored: String)
    case rollbackFailed(reason: String, rollbackError: String)

    public var message: String {
        switch self {
        case .notRoot:
            return "install must run as root (it loads images, writes under the prefix and changes firewall rules); run it with sudo or as root"
        case .dockerUnreachable(let detail):
            return "the Docker engine does not answer (\(detail)); start dockerd (systemctl start docker) and check 'docker info'"
        case .composeMissing(let detail):
            return "Docker Compose v2 is not installed as 'docker compose' (\(detail)); install the compose plugin >= \(Preflight.minimumCompose) into /usr/local/lib/docker/cli-plugins/"
        case .composeV1Only(let version):
            return "only Compose v1 ('docker-compose' \(version)) is installed; v1 is end-of-life, pins an old Engine API and does not honour 'internal: true' on existing networks. Install the Compose v2 plugin >= \(Preflight.minimumCompose) as 'docker compose'"
        case .composeTooOld(let version, let minimum):
            return "Docker Compose \(version) is older than \(minimum), the minimum this bundle format needs; install a newer compose plugin"
        case .notEnoughSpace(let path, let needed, let available):
            return "not enough free space on the filesystem of \(path): \(Self.megabytes(needed)) needed, \(Self.megabytes(available)) available; free space or choose another --prefix"
        case .locked(let path, let holder):
            return "another install or uninstall holds the lock \(path)\(holder.isEmpty ? "" : " (\(holder))"); wait for it to finish"
        case .filesystem(let operation, let path, let reason):
            return "cannot \(operation) \(path): \(reason)"
        case .docker(let operation, let detail):
            return "docker failed to \(operation): \(detail)"

        case .bundleNotFound(let path):
            return "bundle \(path) does not exist or is not a readable file"
        case .notABundle(let path, let detail):
            return "\(path) is not a frostbyte bundle (\(detail)); pass the .tar.zst that 'frostbyte-bundle build' wrote"
        case .downgrade(let name, let installed, let offered):
            return "\(name) \(offered) is older than the installed \(name) \(installed); refused so that an old, signed release cannot be replayed onto this host. To roll back on purpose, add --allow-downgrade"
        case .trustRequired:
            return "no --trust key given: pass the release engineer's public key with --trust PUB.pem, or --allow-unsigned to install a bundle whose origin you checked otherwise"
        case .trustAndUnsigned:
            return "--trust and --allow-unsigned exclude each other; give one"
        case .notAStackBundle(let kind):
            return "this bundle is of kind '\(kind)', not a deployable stack; only stack bundles can be installed"
        case .bundleLacks(let field):
            return "the bundle's MANIFEST.json has no '\(field)'; it cannot be installed (rebuild it with 'frostbyte-bundle build')"
        case .invalidProject(let name):
            return "project name '\(name)' is invalid: Compose v2 accepts only lowercase letters, digits, '_' and '-', starting with a letter or digit"
        case .projectOwned(let project, let owner):
            return "compose project '\(project)' already exists on this host and belongs to \(owner); choose another --project"
        case .prefixHoldsOtherProject(let prefix, let project):
            return "\(prefix) already holds compose project '\(project)'; one prefix holds one project: use --project \(project), or another --prefix for a second tenant"
        case .invalidSubnet(let text, let reason):
            return "--subnet '\(text)' \(reason)"
        case .subnetNotPrivate(let subnet):
            return "subnet \(subnet) is not inside an RFC 1918 private block (10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16); choose a private subnet with --subnet"
        case .subnetOverlaps(let subnet, let other, let owner):
            return "subnet \(subnet) overlaps \(other) used by \(owner); choose a free subnet with --subnet (internal network) or --ingress-subnet (ingress network)"
        case .invalidPublish(let text, let reason):
            return "--publish '\(text)' \(reason); give PORT (loopback) or IPV4-ADDRESS:PORT, e.g. 127.0.0.1:8080 or 0.0.0.0:8443"
        case .publishBusy(let publish, let holder):
            return "--publish \(publish): \(holder) already listens there, so the gateway could not be published; choose a free port with --publish, or stop that service first"
        case .publishAddressNotLocal(let publish):
            return "--publish \(publish): the address is not one of this host's; give one of them (ip -4 addr), 127.0.0.1 or 0.0.0.0"
        case .invalidIngressSubnet(let text, let reason):
            return "--ingress-subnet '\(text)' \(reason)"
        case .noFreeIngressSubnet(let block):
            return "no /29 of \(block) is free for the ingress network; choose one with --ingress-subnet"
        case .gatewayDoesNotFit(let gateway, let subnet):
            return "the gateway's fixed address (offset of \(gateway) in the bundle's subnet) does not fit in \(subnet); choose a larger --subnet"
        case .invalidTimeout(let seconds):
            return "--timeout \(seconds) must be a positive number of seconds"
        case .notInstalled(let prefix):
            return "nothing is installed at \(prefix) (no state/receipt.json); check --prefix"
        case .secretsUnreadable(let path, let line):
            return "\(path) line \(line) is not KEY=VALUE; fix that line by hand (the file holds secrets and is never rewritten)"
        case .migrationName(let path):
            return "migration \(path) has a name other than letters, digits, '.', '_' and '-'; rename it in the bundle spec"
        case .deltaBaseMissing(let base, let release, let prefix, let reason):
            return "this bundle (\(release)) is a delta of \(base.name) \(base.version) (\(base.bundleId)) and installs only over that release with its images in the engine, but \(reason); install \(base.name) \(base.version) under \(prefix) first, or install the full bundle of \(release) instead"

        case .verificationFailed(let detail):
            return "bundle verification failed, nothing was installed: \(detail)"
        case .imageIDMismatch(let image, let expected, let found):
            return "after docker load, \(image) is \(found) in the engine, but the bundle's manifest names \(expected); another image took that name during the install, or the engine changed the image while loading it; run the install again and check 'docker image inspect \(image)'"
        case .unhealthy(let service, let state, let logs):
            return "service '\(service)' is \(state)\(Self.logTail(logs))"
        case .healthTimeout(let services, let seconds, let logs):
            return "service(s) \(services.joined(separator: ", ")) not healthy within \(seconds) s; raise --timeout or look at the logs\(Self.logTail(logs))"
        case .migrationFailed(let file, let detail):
            return "migration \(file) failed and was rolled back: \(detail)"
        case .migrationChanged(let file, let recorded, let now):
            return "migration \(file) was applied with sha256 \(recorded.prefix(12)) but the bundle now carries \(now.prefix(12)); applied migrations must never change, add a new migration instead"
        case .isolationFailed(let detail, let evidence):
            return "isolation check failed: \(detail)" + (evidence.map { "; evidence: \($0)" } ?? "")
        case .rolledBack(let reason, let restored):
            return "\(reason); rolled back to \(restored), which is running again"
        case .rollbackFailed(let reason, let rollbackError):
            return "\(reason); rolling back to the previous release failed too: \(rollbackError)"
        }
    }

    public var exitStatus: ExitStatus {
        switch self {
        case .notRoot, .dockerUnreachable, .composeMissing, .composeV1Only, .composeTooOld,
             .notEnoughSpace, .locked, .filesystem, .docker:
            return .environment
        case .bundleNotFound, .notABundle, .trustRequired, .downgrade, .trustAndUnsigned, .notAStackBundle, .bundleLacks,
             .invalidProject, .projectOwned, .prefixHoldsOtherProject, .invalidSubnet,
             .subnetNotPrivate, .subnetOverlaps, .gatewayDoesNotFit, .invalidTimeout,
             .invalidPublish, .publishBusy, .publishAddressNotLocal, .invalidIngressSubnet, .noFreeIngressSubnet,
             .notInstalled, .secretsUnreadable, .migrationName, .deltaBaseMissing:
            return .badInput
        case .verificationFailed, .imageIDMismatch, .unhealthy, .healthTimeout, .migrationFailed,
             .migrationChanged, .isolationFailed, .rolledBack, .rollbackFailed:
            return .checkFailed
        }
    }

    private static func megabytes(_ bytes: Int64) -> String {
        TextFormat.fixed(Double(bytes) / 1_000_000, digits: 1) + " MB"
    }

    private static func logTail(_ logs: String) -> String {
        let trimmed = logs.trimmed()
        return trimmed.isEmpty ? "" : "; its last log lines:\n\(trimmed)"
    }
}
