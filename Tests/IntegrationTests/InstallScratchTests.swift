import BundleFormat
import Foundation
import Glibc
import Synchronization
import TestSupport
import Testing

/// Install's scratch disk (issue 25): verified blobs leave the staging folder as soon
/// as the engine holds every image that reads them, so the prefix holds the release's
/// other files plus about two images' payload at once (the image loading and the next
/// one extracted), never the whole bundle, and preflight's figure
/// (`prefix_needed_bytes`) covers what was measured. The prefix is sampled every 5 ms
/// during a real install of the v2 demo bundle (every image new to the engine).
@Suite("install: scratch disk of about one image (real dockerd)", .serialized,
       .enabled(if: Docker.demoImagesPresent, "needs scripts/make-demo-images"), .requiresDocker)
struct InstallScratchTests {
    @Test func stagedPayloadStaysNearTheLargestImage() throws {
        let project = InstallHarness.project("scratch"), prefix = InstallHarness.prefix("scratch")
        defer { InstallHarness.cleanup(project: project, prefix: prefix) }
        let repository = "\(InstallHarness.repository)-scratch"
        let images = ["gateway", "postgres", "redis", "worker"]
        let bundle = try V2Bundles.write("v2-scratch") {
            V2DemoBundle(repository: repository,
                         extraLayers: Dictionary(uniqueKeysWithValues: images.map { ($0, "scratch \($0) \(TestRun.id)") }))
        }.path
        let manifest = try V2Bundles.manifest(of: bundle)

        let sampler = FolderSampler(prefix)
        let install = try TestCommand.tool(["install", bundle, "--allow-unsigned", "--prefix", prefix, "--project", project,
                                           "--subnet", "10.214.66.0/24", "--timeout", "180", "--json"])
        let peak = sampler.stop()
        #expect(install.status == 0, "\(install.stderr)")
        try V2Bundles.expectImagesPresent(manifest)

        var size: [String: Int64] = [:]
        for file in manifest.files { size[file.path] = file.size }
        func payload(_ image: Manifest.Image) -> Set<String> {
            Set(([image.manifestDigest ?? "", image.digest] + (image.layers ?? [])).filter { !$0.isEmpty }
                .map(OCILayout.blobPath).filter { size[$0] != nil })
        }
        func bytes(_ paths: Set<String>) -> Int64 { paths.reduce(0) { $0 + (size[$1] ?? 0) } }
        let allPayload = manifest.images.reduce(into: Set<String>()) { $0.formUnion(payload($1)) }
        let others = manifest.files.filter { !$0.isDirectory && !allPayload.contains($0.path) }.reduce(Int64(0)) { $0 + $1.size }
        let largestImage = manifest.images.map { bytes(payload($0)) }.max() ?? 0
        let largestPair = zip(manifest.images, manifest.images.dropFirst())
            .map { bytes(payload($0).union(payload($1))) }.max() ?? 0
        let preflight = InstallHarness.json(install)["preflight"] as? [String: Any] ?? [:]
        let needed = (preflight["prefix_needed_bytes"] as? NSNumber)?.int64Value ?? 0
        print("install scratch: prefix peak \(peak) B = other files \(others) B + staged payload \(peak - others) B;"
              + " largest image \(largestImage) B, largest two neighbours \(largestPair) B, whole payload \(bytes(allPayload)) B;"
              + " preflight prefix_needed_bytes \(needed)")
        // What was staged at once: at most the largest two neighbouring images (the one
        // loading, the next extracted), and what preflight promised covers it.
        // Beside them: MANIFEST.json, its signature and SHA256SUMS (not in files[]) and the
        // install's own state files, a few KiB each.
        let slack = Int64(try V2Bundles.manifestData(of: bundle).count) * 2 + 64 << 10
        #expect(peak - others <= largestPair + slack, "peak \(peak), others \(others), pair \(largestPair)")
        #expect(peak <= needed, "peak \(peak) > preflight's \(needed)")
        // The control: keeping every blob until the end (as before) would reach the whole payload.
        #expect(peak - others < bytes(allPayload), "peak \(peak), others \(others), payload \(bytes(allPayload))")
        #expect(needed < others + bytes(allPayload))
        #expect(!FileManager.default.fileExists(atPath: "\(prefix)/releases/\(manifest.bundleId)/images"))
    }
}

/// The largest apparent size of a folder's files (`lstat` of every entry), sampled on a
/// thread of its own every 5 ms until `stop()`.
final class FolderSampler: Sendable {
    private let folder: String
    private let state = Mutex<(stop: Bool, peak: Int64)>((false, 0))
    private let done = Mutex<Bool>(false)

    init(_ folder: String) {
        self.folder = folder
        Thread.detachNewThread { [self] in
            while !state.withLock({ $0.stop }) {
                let now = Self.size(of: folder)
                state.withLock { $0.peak = max($0.peak, now) }
                usleep(5_000)
            }
            done.withLock { $0 = true }
        }
    }

    /// Stops sampling; returns the peak in bytes.
    func stop() -> Int64 {
        state.withLock { $0.stop = true }
        while !done.withLock({ $0 }) { usleep(1_000) }
        return state.withLock { $0.peak }
    }

    static func size(of folder: String) -> Int64 {
        guard let walker = FileManager.default.enumerator(atPath: folder) else { return 0 }
        var total: Int64 = 0
        while let relative = walker.nextObject() as? String {
            var info = stat()
            if lstat("\(folder)/\(relative)", &info) == 0, (info.st_mode & S_IFMT) == S_IFREG { total += Int64(info.st_size) }
        }
        return total
    }
}
