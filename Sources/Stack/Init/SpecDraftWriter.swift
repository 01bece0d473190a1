import FrostbyteCore

/// Writes a `SpecDraft` as bundle spec text (docs/SPEC.md), each field with a
/// one-line comment saying what it is and where the value came from.
enum SpecDraftWriter {
    static let commentColumn = 34

    static func text(_ draft: SpecDraft, composeFileName: String) -> String {
        var lines: [String] = [
            "# Bundle spec drafted by `frostbyte-bundle init` from \(composeFileName) (format: docs/SPEC.md).",
            "# Check it with `frostbyte-bundle render` (this file), then `frostbyte-bundle build`.",
        ]
        func line(_ indent: Int, _ body: String, _ comment: String?) {
            let text = String(repeating: " ", count: indent) + body
            guard let comment else { return lines.append(text) }
            let pad = max(1, commentColumn - text.count)
            lines.append(text + String(repeating: " ", count: pad) + "# " + comment)
        }
        line(0, "name: \(scalar(draft.name))", "bundle name: <name>-<version>.tar.zst and the io.frostbyte.name label")
        line(0, "version: \(scalar(draft.version))", "release version; raise it for every bundle you ship")
        lines.append("# created_at is left out: build takes SOURCE_DATE_EPOCH (or --source-date-epoch), else 0")
        line(0, "project: \(scalar(draft.project))", "compose project name on the host (the compose file's name:, else its folder)")
        line(0, "compose: \(scalar(draft.compose))", "the source compose file, relative to this spec; it is not edited")
        line(0, "network:", "the one internal network every service joins")
        line(2, "subnet: \(scalar(draft.subnet.description))", "private, and overlaps no engine network or host route here")
        lines.append("  # name: \(draft.networkName) is the default (<name>-internal)")
        if let gateway = draft.gateway {
            line(0, "gateway:", "the service the host reaches, through one published port")
            line(2, "service: \(scalar(gateway.service))", gateway.reason)
            line(2, "port: \(gateway.port)", gateway.portSource)
            line(2, "health_path: \(scalar(gateway.healthPath))", gateway.healthSource)
            lines.append("  # ipv4_address: \(gateway.ipv4Address) is the default (the subnet's tenth address)")
        }
        if !draft.profiles.isEmpty {
            line(0, "profiles: [\(draft.profiles.map(scalar).joined(separator: ", "))]", "Compose profiles whose services are bundled")
        }
        line(0, "images:", "every image the services use, exactly once")
        for image in draft.images {
            var comment = "service \(image.services.joined(separator: ", "))"
            if let id = image.engineID { comment += "; local engine: \(id.prefix(19))" }
            line(2, "- ref: \(scalar(image.ref))", comment)
            if let written = image.written {
                line(4, "written: \(scalar(written))", "as the compose file writes it; \(image.resolution ?? "resolved")")
            }
            if let service = image.builtBy {
                line(4, "built_by: \(scalar(service))", "build it first: docker compose build \(service)")
            }
        }
        lines.append("# Not drafted (add them by hand when the stack needs them): models:, template:, migrations:, exports:.")
        if !draft.files.isEmpty {
            lines.append("# Files the compose file refers to:")
            for file in draft.files {
                lines.append("#   \(file.kind) \(file.path)\(file.service.map { " (service \($0))" } ?? ""): \(file.note)")
            }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// `value` as a YAML scalar that reads back as the same string: plain when
    /// that is safe (colons allowed inside, as in image references), else double-quoted.
    static func scalar(_ value: String) -> String {
        let colonFree = value.replacing(":", with: "_")
        if !value.hasSuffix(":"), !value.contains(": "), ScalarResolution.isSafePlainString(colonFree),
           ScalarResolution.kind(ofPlain: value) == .string {
            return value
        }
        var quoted = "\""
        for c in value.unicodeScalars {
            switch c {
            case "\"": quoted += "\\\""
            case "\\": quoted += "\\\\"
            case "\n": quoted += "\\n"
            case "\t": quoted += "\\t"
            default:
                if c.value < 0x20 || c.value == 0x7f { quoted += "\\x" + String(c.value, radix: 16).leftPadded(2) }
                else { quoted.unicodeScalars.append(c) }
            }
        }
        return quoted + "\""
    }
}

extension String {
    fileprivate func leftPadded(_ width: Int) -> String {
        String(repeating: "0", count: max(0, width - count)) + self
    }
}
