import FrostbyteCore
import FrostbyteArchive
import BundleFormat
import Stack
import FoundationEssentials
import Glibc

/// Errors in the build's inputs besides the spec itself.
public enum BuildInputError: UserFacingError, Equatable {
    /// A template entry that is neither a regular file nor a folder.
    case unsupportedTemplateEntry(path: String, kind: String)
    /// A file name that is not valid UTF-8 or contains control characters.
    case badName(path: String)
    /// Two models with the same file name would both be `models/<name>`.
    case duplicateModelFile(name: String)
    /// A negative or otherwise unusable SOURCE_DATE_EPOCH.
    case badEpoch(String)
    /// A template or migrations folder that cannot be listed.
    case unreadableFolder(path: String, reason: String)
    /// The installer binary to embed (`--installer`, else the running executable)
    /// cannot be read or is not a regular executable file.
    case unreadableInstaller(path: String, reason: String)

    public var message: String {
        switch self {
        case .unsupportedTemplateEntry(let path, let kind):
            return "\(path) is a \(kind); bundle templates may hold only regular files and folders, replace it with a copy"
        case .badName(let path):
            return "the name of \(path) is not valid UTF-8 or contains control characters; rename it"
        case .duplicateModelFile(let name):
            return "two models have the file name '\(name)' and would both be stored as models/\(name); rename one of them"
        case .badEpoch(let value):
            return "SOURCE_DATE_EPOCH '\(value)' is not a whole number of seconds >= 0"
        case .unreadableFolder(let path, let reason):
            return "cannot list \(path): \(reason)"
        case .unreadableInstaller(let path, let reason):
            return "cannot read the installer binary to embed as bin/frostbyte-bundle, \(path): \(reason); give a readable one with --installer PATH"
        }
    }

    public var exitStatus: ExitStatus { .badInput }
}

/// Collects the bundle entries that come straight from files: template, migrations,
/// models and the installer binary. Nothing is read here beyond `lstat`; contents are
/// streamed later by the hashing pre-pass and the archive writer.
enum BuildInputs {
    /// Every file and folder below `folder`, stored at the same relative paths.
    /// Symlinks, devices, sockets and FIFOs are refused.
    static func templateEntries(_ folder: String) throws -> [BundleEntry] {
        var entries: [BundleEntry] = []
        try walk(folder, relative: "", into: &entries)
        return entries
    }

    private static func walk(_ folder: String, relative: String, into entries: inout [BundleEntry]) throws {
        let names: [String]
        do {
            names = try FolderListing.names(in: folder).sorted()
        } catch let error as FileSystemError {
            throw BuildInputError.unreadableFolder(path: folder, reason: error.reason)
        }
        for name in names {
            let path = folder + "/" + name
            let stored = relative.isEmpty ? name : relative + "/" + name
            guard !name.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F || $0.value == 0xFFFD }) else {
                throw BuildInputError.badName(path: path)
            }
            var info = stat()
            guard lstat(path, &info) == 0 else {
                throw FileReadError.cannotOpen(path: path, reason: String(cString: strerror(errno)))
            }
            switch info.st_mode & S_IFMT {
            case S_IFDIR:
                entries.append(BundleEntry(path: stored, source: .directory, mode: .executable))
                try walk(path, relative: stored, into: &entries)
            case S_IFREG:
                entries.append(BundleEntry(path: stored, source: .file(path),
                                           mode: EntryMode(fromPermissions: UInt32(info.st_mode))))
            case S_IFLNK:
                throw BuildInputError.unsupportedTemplateEntry(path: path, kind: "symbolic link")
            default:
                throw BuildInputError.unsupportedTemplateEntry(path: path, kind: "special file")
            }
        }
    }

    /// `migrations/<name>.sql` for every regular `*.sql` file in `folder`, in lexical
    /// (application) order.
    static func migrationEntries(_ folder: String) throws -> [BundleEntry] {
        let names: [String]
        do {
            names = try FolderListing.names(in: folder)
        } catch let error as FileSystemError {
            throw BuildInputError.unreadableFolder(path: folder, reason: error.reason)
        }
        return names.filter { $0.hasSuffix(".sql") }
            .sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
            .compactMap { name -> BundleEntry? in
                var info = stat()
                guard stat(folder + "/" + name, &info) == 0, info.st_mode & S_IFMT == S_IFREG else { return nil }
                return BundleEntry(path: "migrations/\(name)", source: .file(folder + "/" + name), mode: .file)
            }
    }

    /// `models/<basename>` per model; each file is opened now so an unreadable model
    /// fails before anything is staged.
    static func modelEntries(_ models: [BundleSpec.Model]) throws -> [(model: BundleSpec.Model, entry: BundleEntry)] {
        var seen = Set<String>()
        return try models.map { model in
            let name = URL(fileURLWithPath: model.path).lastPathComponent
            guard seen.insert(name).inserted else { throw BuildInputError.duplicateModelFile(name: name) }
            let descriptor = open(model.path, O_RDONLY | O_CLOEXEC)
            guard descriptor >= 0 else {
                throw FileReadError.cannotOpen(path: model.path, reason: String(cString: strerror(errno)))
            }
            close(descriptor)
            return (model, BundleEntry(path: "models/\(name)", source: .file(model.path), mode: .file))
        }
    }

    /// The running executable: `/proc/self/exe`, which the kernel opens for this
    /// process whatever the permissions of the folders on the binary's path (a
    /// checkout under a 0700 `/root` is still readable by a build run as another user).
    static let runningExecutable = "/proc/self/exe"

    /// The `bin/frostbyte-bundle` entry: `installer` (`--installer`), else the running
    /// executable; opened now so that an unreadable binary fails before anything is staged.
    /// - Throws: `BuildInputError.unreadableInstaller`.
    static func installerEntry(_ installer: String?) throws -> BundleEntry {
        let path = installer ?? runningExecutable
        let shown = installer ?? (CommandLine.arguments.first ?? path)
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else {
            throw BuildInputError.unreadableInstaller(path: shown, reason: String(cString: strerror(errno)))
        }
        defer { close(descriptor) }
        var info = stat()
        guard fstat(descriptor, &info) == 0, info.st_mode & S_IFMT == S_IFREG else {
            throw BuildInputError.unreadableInstaller(path: shown, reason: "not a regular file")
        }
        var magic = [UInt8](repeating: 0, count: 4)
        guard read(descriptor, &magic, 4) == 4, magic == [0x7F, 0x45, 0x4C, 0x46] else {
            throw BuildInputError.unreadableInstaller(path: shown, reason: "not an ELF executable")
        }
        return BundleEntry(path: "bin/frostbyte-bundle", source: .file(path), mode: .executable)
    }

    /// The man page and shell completions that `scripts/release-binary` writes beside
    /// the binary (`../share/...`), as `share/...` entries of the bundle: exactly these
    /// files, and only when every one of them is there and readable (a binary in
    /// /usr/local/bin never drags /usr/local/share along).
    static func shareEntries(besides installer: String?) -> [BundleEntry] {
        var binary = installer ?? runningExecutable
        if installer == nil {
            var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
            let count = readlink(runningExecutable, &buffer, buffer.count - 1)
            guard count > 0 else { return [] }
            binary = String(decoding: buffer[0..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        }
        let share = PathText.deletingLastComponent(PathText.deletingLastComponent(binary)) + "/share"
        let files = ["man/man1/frostbyte-bundle.1", "bash-completion/completions/frostbyte-bundle",
                     "zsh/site-functions/_frostbyte-bundle", "fish/vendor_completions.d/frostbyte-bundle.fish"]
        let manPages = ((try? FolderListing.names(in: share + "/man/man1")) ?? [])
            .filter { $0.hasPrefix("frostbyte-bundle") && $0.hasSuffix(".1") }.sorted()
        let wanted = (files.dropFirst() + manPages.map { "man/man1/\($0)" }).sorted()
        guard manPages.contains("frostbyte-bundle.1"),
              wanted.allSatisfy({ access(share + "/" + $0, R_OK) == 0 }) else { return [] }
        // Their folders get entries of their own from the writer.
        return wanted.map { BundleEntry(path: "share/\($0)", source: .file(share + "/" + $0), mode: .file) }
    }

    /// `images/<name>.tar`: the reference with every character outside [a-z0-9._-]
    /// replaced by `_` (`frostbyte-demo/postgres:1.0` → `frostbyte-demo_postgres_1.0.tar`).
    static func imageFileName(_ reference: String) -> String {
        let safe = reference.lowercased().unicodeScalars.map { scalar -> String in
            switch scalar {
            case "a"..."z", "0"..."9", ".", "_", "-": return String(scalar)
            default: return "_"
            }
        }.joined()
        return "images/\(safe).tar"
    }

    /// The entries' mtime and the manifest's created_at: `--source-date-epoch`, else
    /// `SOURCE_DATE_EPOCH`, else the spec's `created_at`, else 0.
    static func sourceDateEpoch(option: Int64?, environment: [String: String], spec: BundleSpec) throws -> Int64 {
        if let option {
            guard option >= 0 else { throw BuildInputError.badEpoch("\(option)") }
            return option
        }
        if let text = environment["SOURCE_DATE_EPOCH"], !text.isEmpty {
            guard let value = Int64(text), value >= 0 else { throw BuildInputError.badEpoch(text) }
            return value
        }
        if let date = spec.createdAt { return max(0, Int64(date.timeIntervalSince1970.rounded(.down))) }
        return 0
    }

    /// `YYYY-MM-DDTHH:MM:SSZ` for `epoch`.
    static func iso8601(_ epoch: Int64) -> String {
        UTCTime.format(Date(timeIntervalSince1970: Double(epoch)), .seconds)
    }
}
