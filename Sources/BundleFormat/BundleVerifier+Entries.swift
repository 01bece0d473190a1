import FrostbyteArchive

/// Where an entry sits in the bundle once its path has been checked.
enum EntryPlace: Equatable {
    /// The root folder entry itself (`<name>-<version>/`).
    case root
    /// A path relative to the root folder, components joined by "/".
    case inside(String)
}

/// The per-entry rules of bundle format v1: safe relative UTF-8 paths under one
/// root folder, only regular files and directories, modes 0644/0755 only.
enum EntryRules {
    /// Checks the path of an archive entry. `root` is the root folder seen so far
    /// (the first entry defines it). Returns the entry's place, or the problem.
    static func place(of header: ArchiveEntryHeader, root: String?, hasRootFolder: Bool)
        -> Result<EntryPlace, VerificationProblem>
    {
        let shown = header.displayPath
        guard let path = header.utf8Path else {
            return .failure(VerificationProblem(
                .nonUTF8Path, path: shown, "entry name is not valid UTF-8; bundle paths must be UTF-8"))
        }
        if path.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) {
            return .failure(VerificationProblem(.unsafePath, path: shown, "entry name contains control characters"))
        }
        if path.hasPrefix("/") {
            return .failure(VerificationProblem(.absolutePath, path: shown, "entry has an absolute path"))
        }
        var trimmed = Substring(path)
        if header.kind == .directory, trimmed.hasSuffix("/") { trimmed = trimmed.dropLast() }
        let parts = trimmed.split(separator: "/", omittingEmptySubsequences: false)
        if parts.contains("..") {
            return .failure(VerificationProblem(.parentTraversal, path: shown, "entry path contains '..'"))
        }
        if trimmed.isEmpty || parts.contains(where: { $0.isEmpty || $0 == "." }) {
            return .failure(VerificationProblem(
                .unsafePath, path: shown, "entry path has empty or '.' components"))
        }
        guard hasRootFolder else { return .success(.inside(String(trimmed))) }
        let first = String(parts[0])
        if let root, first != root {
            return .failure(VerificationProblem(
                .outsideRoot, path: shown, expected: "\(root)/...", actual: path,
                "entry lies outside the bundle's root folder"))
        }
        if parts.count == 1 {
            if header.kind == .directory { return .success(.root) }
            return .failure(VerificationProblem(
                .outsideRoot, path: shown, expected: "\(first)/...", actual: path,
                "entry lies outside the bundle's root folder"))
        }
        return .success(.inside(parts.dropFirst().joined(separator: "/")))
    }

    /// Problems with the entry's kind: only regular files and directories are allowed.
    static func kindProblem(_ header: ArchiveEntryHeader, path: String) -> VerificationProblem? {
        let target = header.linkTarget.map { " -> \($0)" } ?? ""
        switch header.kind {
        case .regular, .directory:
            return nil
        case .symlink:
            return VerificationProblem(.symlink, path: path, expected: "regular file or directory",
                                       actual: "symlink\(target)", "symbolic links are not allowed in a bundle")
        case .hardLink:
            return VerificationProblem(.hardLink, path: path, expected: "regular file or directory",
                                       actual: "hard link\(target)", "hard links are not allowed in a bundle")
        case .characterDevice, .blockDevice:
            return VerificationProblem(.device, path: path, expected: "regular file or directory",
                                       actual: header.kind.rawValue, "device nodes are not allowed in a bundle")
        case .fifo:
            return VerificationProblem(.fifo, path: path, expected: "regular file or directory",
                                       actual: "fifo", "FIFOs are not allowed in a bundle")
        case .socket, .unknown:
            return VerificationProblem(.unsupportedEntry, path: path, expected: "regular file or directory",
                                       actual: header.kind.rawValue, "this entry type is not allowed in a bundle")
        }
    }

    /// Problems with the permission bits: no setuid/setgid/sticky; 0644 or 0755 for
    /// files, 0755 for directories. `lenient` (extracted folders, where a umask may
    /// have narrowed modes) only rejects special bits and group/world-writable modes.
    static func modeProblem(_ header: ArchiveEntryHeader, path: String, lenient: Bool) -> VerificationProblem? {
        // Other kinds are rejected by `kindProblem`; their mode bits mean nothing.
        guard header.kind == .regular || header.kind == .directory else { return nil }
        let mode = header.permissions
        if mode & 0o7000 != 0 {
            return VerificationProblem(.specialModeBits, path: path, expected: "no setuid, setgid or sticky bit",
                                       actual: octal(mode), "setuid, setgid and sticky bits are not allowed")
        }
        let allowed: Set<UInt32> = header.kind == .directory ? [0o755] : [0o644, 0o755]
        if lenient {
            guard mode & 0o022 != 0 else { return nil }
        } else if allowed.contains(mode) {
            return nil
        }
        return VerificationProblem(.mode, path: path, expected: allowed.sorted().map(octal).joined(separator: " or "),
                                   actual: octal(mode), "mode is not one of the modes bundle format v1 allows")
    }

    /// `0o644` → "0644".
    static func octal(_ mode: UInt32) -> String {
        String(mode, radix: 8).leftPadded(to: 4)
    }
}
