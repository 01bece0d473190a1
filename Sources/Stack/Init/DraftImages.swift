import FrostbyteCore

extension ComposeSurvey {
    /// Every image the services use, once each (compared after Docker Hub
    /// normalisation, as the spec compares them): interpolated ones resolved,
    /// build-only services given Compose's `<project>-<service>` name; notes for
    /// `latest`, obstacles for what `render` would refuse.
    mutating func images(_ services: [YAMLPair], project: String, facts: InitHostFacts) -> [SpecDraft.DraftImage] {
        var images: [SpecDraft.DraftImage] = []
        var index: [String: Int] = [:]
        /// Where each image is first named (its `image:` value, else the service).
        var marks: [YAMLMark] = []
        for pair in services {
            let name = pair.key.scalarValue ?? ""
            guard let image = resolveImage(service: name, pair.value, project: project, facts: facts) else { continue }
            guard let reference = ImageReference(image.ref) else { continue }
            if let at = index[reference.normalized] {
                images[at].services.append(name)
                if let written = image.written {
                    if let existing = images[at].written, existing != written {
                        obstacles.append(InitFinding(service: name, message: "image '\(written)' resolves to '\(image.ref)', like '\(existing)' of service '\(images[at].services[0])'; the spec can map one spelling per image, so write both the same way.", at: pair.value["image"]?.mark ?? pair.key.mark))
                    } else {
                        images[at].written = written
                        images[at].resolution = image.resolution
                    }
                }
                continue
            }
            index[reference.normalized] = images.count
            images.append(image)
            marks.append(pair.value["image"]?.mark ?? pair.key.mark)
        }
        // The engine is asked about up to 8 images at once (one `docker image inspect` each).
        for batch in stride(from: 0, to: images.count, by: 8) {
            let range = batch..<min(batch + 8, images.count)
            let lookups = images[range].map { image in BackgroundWork { [lookup = facts.imageID] in lookup(image.ref) } }
            for (i, work) in zip(range, lookups) { images[i].engineID = (try? work.join()) ?? nil }
        }
        // One note per missing image, at the line that names it.
        for (image, mark) in zip(images, marks) where facts.engineReachable && image.engineID == nil && image.builtBy == nil {
            notes.append(InitFinding(service: image.services[0], message: "image \(image.ref) is not in the local engine; pull or build it before frostbyte-bundle build", at: mark))
        }
        return images
    }

    private mutating func resolveImage(service: String, _ node: YAMLNode, project: String, facts: InitHostFacts) -> SpecDraft.DraftImage? {
        guard let pair = node.pair("image"), let text = pair.value.scalarValue, !pair.value.isNull else {
            if node.pair("build") != nil {
                let ref = "\(project)-\(service.lowercased()):latest"
                guard ImageReference(ref) != nil else {
                    obstacles.append(InitFinding(service: service, message: "only builds, and Compose's image name '\(ref)' is not a valid reference; give it image: with a tagged name.", at: node.mark))
                    return nil
                }
                notes.append(InitFinding(service: service, message: "only builds its image; the spec names it '\(ref)' as Compose tags it: run 'docker compose -f \(PathText.lastComponent(request.composePath)) build \(service)' before frostbyte-bundle build (better: give it image: with a version)", at: node.pair("build")?.key.mark ?? node.mark))
                return .init(ref: ref, written: nil, builtBy: service, services: [service], resolution: nil, engineID: nil)
            }
            obstacles.append(InitFinding(service: service, message: "has neither image: nor build:, so there is no image to carry; give it image: with a tagged reference.", at: node.mark))
            return nil
        }
        let mark = pair.value.mark
        var refText = text
        var written: String?
        var resolution: String?
        var variables = ""
        if text.contains("$") {
            let resolved: ComposeInterpolation.Resolved
            do {
                resolved = try interpolation.resolve(text)
            } catch let failure as ComposeInterpolation.Failure {
                obstacles.append(InitFinding(service: service, message: "image '\(text)': \(failure.reason).", at: mark))
                return nil
            } catch {
                return nil
            }
            variables = resolved.uses.map(\.name).joined(separator: ", ")
            resolution = resolved.uses.map { use in
                switch use.source {
                case .environment: return "\(use.name)=\(use.value ?? "") from the environment"
                case .envFile: return "\(use.name)=\(use.value ?? "") from \(envFileName)"
                case .unset: return "\(use.name) unset, the default applies"
                }
            }.joined(separator: ", ")
            if resolved.text.isEmpty || resolved.hasEmptyVariable && ImageReference(resolved.text)?.isPinned != true {
                obstacles.append(InitFinding(service: service, message: "image '\(text)' resolves to '\(resolved.text)' because \(variables) \(resolved.uses.count == 1 ? "is" : "are") not set; set \(variables) in \(envFileName) beside the compose file or in the environment.", at: mark))
                return nil
            }
            refText = resolved.text
            written = text
        }
        let via = written.map { " ('\($0)' with \(resolution ?? ""))" } ?? ""
        guard let reference = ImageReference(refText) else {
            let fix = written == nil ? "write a valid reference (lower-case repository, then :tag)" : "set \(variables) so that it resolves to a valid reference"
            obstacles.append(InitFinding(service: service, message: "image '\(refText)'\(via) is not a valid image reference; \(fix).", at: mark))
            return nil
        }
        let engine = facts.imageID(refText).map { " The local engine holds it as \($0): pin by digest or tag that image with a version." } ?? ""
        if !reference.isPinned {
            let fix = written == nil ? "pin it in the compose file, e.g. '\(refText):1.0'" : "set \(variables) to a tag or digest"
            obstacles.append(InitFinding(service: service, message: "image '\(refText)'\(via) has no tag, which means ':latest' and is refused by render; \(fix).\(engine)", at: mark))
            return nil
        }
        if reference.tag == "latest" && reference.digest == nil {
            let fix = written == nil ? "pin a version in the compose file" : "set \(variables) to a version"
            notes.append(InitFinding(service: service, message: "image '\(refText)'\(via) is ':latest', which names whatever was pulled last; \(fix) so the next build carries the same image.\(engine)", at: mark))
        }
        return .init(ref: reference.text, written: written, builtBy: nil, services: [service], resolution: resolution, engineID: nil)
    }
}
