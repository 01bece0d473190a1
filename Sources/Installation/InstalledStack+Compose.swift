import Engine
import InstallationState

extension InstalledStack {
    /// The compose driver of this installed project (`docker compose -p <project> -f
    /// <compose file> --env-file <secrets> ...` with the FROSTBYTE_* variables).
    func compose(engine: DockerEngine = DockerEngine()) -> ComposeDriver {
        ComposeDriver(engine: engine, project: project, composeFile: composeFile, envFile: envFile,
                      environment: environment)
    }
}
