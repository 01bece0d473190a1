import FrostbyteCore
import InstallationState

extension Installer {
    /// What a release needs on disk, as the preflight measured it.
    struct SpaceNeeded {
        var bundleId: String
        /// The extracted release under the prefix (plus the preflight's margin).
        var prefixBytes: Int64
        /// The engine's data root (where `docker load` writes).
        var dockerRootDir: String
    }

    /// `error` unchanged, unless a filesystem filled up (the prefix's or the engine's,
    /// in verification, the release copy, the switch or anywhere else): then one
    /// sentence naming that filesystem, what the release needs and what is free, and
    /// which release is current now (an upgrade that failed leaves the previous one).
    func explainFullDisk(_ error: Error) -> Error {
        var state = ReleaseSwitcher.currentBundleId(layout).map { "\($0) is still current" }
            ?? "nothing is installed under \(layout.prefix) yet"
        var failure: String?
        if case InstallError.rolledBack(let reason, let restored)? = error as? InstallError {
            state = "the upgrade was rolled back and \(restored) is current and running again"
            failure = reason
        }
        let what = spaceNeeded.map { "the release \($0.bundleId)" } ?? "the install"
        return FullDisk.explain(error, folders: [layout.prefix] + (spaceNeeded.map { [$0.dockerRootDir] } ?? []),
                                what: what, neededBytes: spaceNeeded?.prefixBytes, state: state, option: "--prefix",
                                failure: failure)
    }
}
