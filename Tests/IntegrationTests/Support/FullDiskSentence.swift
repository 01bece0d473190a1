import Foundation
import TestSupport
import Testing

/// The full-disk failure of any command (install, export, build): exit 3 and exactly
/// one error line saying the filesystem at `mount` is full, with the system's reason,
/// what is free and the option that moves the work elsewhere.
enum FullDiskSentence {
    /// Checks `output` and returns the sentence (printed, so a passing run shows it).
    @discardableResult
    static func expect(_ output: CommandOutput, mount: String, option: String) -> String {
        #expect(output.status == 3, "\(output.stderr)")
        let errors = output.stderr.split(separator: "\n").filter { $0.hasPrefix("frostbyte-bundle: ") }
        #expect(errors.count == 1, "\(output.stderr)")
        let sentence = String(errors.first ?? "")
        print("full disk: \(sentence)")
        #expect(sentence.contains("the filesystem mounted at \(mount) is full"), "\(sentence)")
        #expect(sentence.contains("No space left on device"), "\(sentence)")
        #expect(sentence.range(of: #"[0-9.]+ [kM]B is free"#, options: .regularExpression) != nil, "\(sentence)")
        #expect(sentence.contains("(or choose another \(option)) and run the same command again"), "\(sentence)")
        return sentence
    }
}
