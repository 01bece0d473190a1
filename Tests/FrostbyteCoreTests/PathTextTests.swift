import FrostbyteCore
import Foundation
import Testing

/// PathText replaces NSString's path methods in BundleFormat and Stack (which
/// moved to FoundationEssentials): it must give NSString's answers on the paths
/// the tool handles.
@Suite("PathText: NSString's path arithmetic without Foundation")
struct PathTextTests {
    static let paths = ["", "/", "a", "/a", "a/", "/a/", "a/b", "/a/b", "/a/b/", "a/b/c.txt", "/x/y/../z",
                        "./a", "a/./b", "//a//b", "/a//", "spec.yaml", "/work/manifests/demo.yaml"]

    @Test("lastComponent and deletingLastComponent equal NSString's", arguments: paths)
    func components(path: String) {
        #expect(PathText.lastComponent(path) == (path as NSString).lastPathComponent)
        // NSString also collapses "//" inside a path (the tool's paths have none),
        // and Foundation 6.3.1's deletingLastPathComponent traps (illegal
        // instruction) on a path of one relative component ("", "a", "a/"):
        // there PathText answers "" (nothing before the component).
        let single = !path.dropLast(path.hasSuffix("/") ? 1 : 0).contains("/")
        if single && !path.hasPrefix("/") {
            #expect(PathText.deletingLastComponent(path) == "")
        } else if !path.contains("//") {
            #expect(PathText.deletingLastComponent(path) == (path as NSString).deletingLastPathComponent)
        }
    }

    @Test("join equals NSString's appendingPathComponent", arguments: ["", "/", "a", "/a", "a/", "/a/b"])
    func join(folder: String) {
        for name in ["b", "b.txt", "c/d"] {
            #expect(PathText.join(folder, name) == (folder as NSString).appendingPathComponent(name))
        }
    }
}
