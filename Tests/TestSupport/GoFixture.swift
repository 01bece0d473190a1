import FrostbyteCore
import Foundation

/// The Go module of Tests/Fixtures/go-hello built by the real Go toolchain, and
/// `go version -m` as the oracle of what a Go binary's build info lists.
public enum GoFixture {
    /// Builds the module offline (`GOPROXY=off`, vendored) into `folder/hello-bin`; returns its path.
    public static func binary(in folder: String) throws -> String {
        let module = TestRun.repositoryRoot + "/Tests/Fixtures/go-hello"
        let binary = folder + "/hello-bin"
        let environment = ["HOME": folder, "GOPATH": folder + "/gopath", "GOCACHE": folder + "/gocache",
                           "GOPROXY": "off", "GOFLAGS": "-mod=vendor", "CGO_ENABLED": "0", "GOTOOLCHAIN": "local"]
        try CommandRunner.check(["sh", "-c", "cd \"$1\" && go build -trimpath -o \"$2\" .", "sh", module, binary],
                                extraEnvironment: environment)
        return binary
    }

    /// The modules `go version -m` lists for `binary`, as sorted `pkg:golang` purls:
    /// the stdlib (its Go version without `go`), the main module, each dependency
    /// or its `=>` replacement (a local-folder replacement keeps the module's path).
    public static func versionOracle(_ binary: String) throws -> [String] {
        let output = try CommandRunner.check(["go", "version", "-m", binary])
        var purls: [String] = []
        var lastDep: String?
        for line in output.split(separator: "\n") {
            let fields = line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
            if fields.count == 1, let colon = line.range(of: ": go") {
                purls.append("pkg:golang/stdlib@" + line[colon.upperBound...].split(separator: " ")[0])
            }
            guard fields.count >= 4, fields[0].isEmpty else { continue }
            let version = fields[3].replacingOccurrences(of: "(", with: "%28").replacingOccurrences(of: ")", with: "%29")
            switch fields[1] {
            case "mod", "dep":
                purls.append("pkg:golang/\(fields[2])@\(version)")
                lastDep = fields[1] == "dep" ? fields[2] : nil
            case "=>":
                let path = fields[2].hasPrefix(".") || fields[2].hasPrefix("/") ? (lastDep ?? fields[2]) : fields[2]
                purls[purls.count - 1] = "pkg:golang/\(path)@\(version)"
            default: break
            }
        }
        return purls.sorted()
    }
}
