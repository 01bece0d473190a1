import FoundationEssentials
import Glibc

/// The label keys that mark what a bundle owns (DESIGN: compose hardening).
public enum OwnershipLabels {
    public static let project = "io.frostbyte.project"
    public static let bundle = "io.frostbyte.bundle"
    /// The bundle's name (without version), on services, networks and volumes.
    public static let name = "io.frostbyte.name"
    public static let composeProject = "com.docker.compose.project"
}
