import Foundation
import FrostbyteCrypto

extension DemoBundle {
    /// The demo bundle under `repository`'s image names, signed with a fresh key whose
    /// public half is written beside it: (bundle path, `--trust` path), both in `folder`.
    static func signed(repository: String, in folder: String) throws -> (bundle: String, trust: String) {
        let key = try SigningKey.generate()
        let trust = "\(folder)/release.pub"
        try key.publicPEM().write(to: URL(fileURLWithPath: trust))
        var spec = DemoBundle(signingKey: key)
        spec.repository = repository
        return (try spec.write(in: folder), trust)
    }
}
