import Foundation
import Testing
import Spec

/// Input that must be refused cheaply and without echoing what it holds (issue 12).
@Suite struct BoundedInputTests {
    private func scratch(_ name: String) throws -> String {
        let directory = NSTemporaryDirectory() + "pf-bounded-\(getpid())-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        return directory + "/" + name
    }

    private func messages(_ yaml: String) -> [String] {
        FarmFile.parse(yaml: yaml, file: "farm.yaml", baseDirectory: "/nonexistent", environment: [:]).diagnostics.map(\.description)
    }

    @Test func aFileOverTheSizeLimitIsRefusedBeforeItIsRead() throws {
        let path = try scratch("farm.yaml")
        defer { try? FileManager.default.removeItem(atPath: (path as NSString).deletingLastPathComponent) }
        // Valid YAML all the way (a million-modem list), only too big.
        var text = "version: 1\nmodems:\n"
        while text.utf8.count <= FarmFile.sizeLimit { text += "  - { serial: \"86000000000000\", name: m }\n" }
        try text.write(toFile: path, atomically: true, encoding: .utf8)

        let result = FarmFile.load(path: path)

        #expect(result.spec == nil)
        #expect(result.diagnostics.map(\.message) == ["the file is \(text.utf8.count) bytes; farm.yaml may be at most 262144 bytes (256 KiB)"])
        #expect(result.source.isEmpty)
        #expect(messages(text).count == 1)
    }

    @Test func noDiagnosticEchoesMoreThanAShortPrefix() {
        let huge = String(repeating: "x", count: 200_000)
        let problems = messages("""
            version: 1
            \(huge): 1
            ports: { range: \(huge) }
            modems:
              - { serial: "\(huge)", name: "\(huge)" }

            """)
        #expect(!problems.isEmpty)
        for problem in problems { #expect(problem.count < 700, "\(problem.prefix(200))") }
    }

    /// Nothing under users.<name> and no PIN is shown, however it is malformed.
    @Test(arguments: [
        "users:\n  bob: s3cret-Bare-1\n",
        "users:\n  bob: [s3cret-Bare-1]\n",
        "users:\n  bob: { password: { env: s3cret-Bare-1 } }\n",
        "users:\n  bob: { password: { env: s3cret_Bare_1 } }\n",
        "users:\n  bob: { password: { file: s3cret-Bare-1 } }\n",
        "users:\n  bob: { passwd: s3cret-Bare-1 }\n",
        "users:\n  bob: { s3cret-Bare-1: x }\n",
        "users:\n  bob: { password: 123456789012, s3cret-Bare-1: 1 }\n",
        "modems:\n  - { serial: \"860000000000001\", name: m01, pin: s3cret-Bare-1 }\n",
        "modems:\n  - { serial: \"860000000000001\", name: m01, pin: { env: s3cret_Bare_1 } }\n",
        "modems:\n  - { serial: \"860000000000001\", name: m01, pin: { valu: s3cret-Bare-1 } }\n",
    ])
    func secretsInMalformedPlacesAreNeverShown(_ fragment: String) {
        let problems = messages("version: 1\ndefaults: { apn: internet }\nports: { range: 20000-20999 }\n" + fragment)
        #expect(!problems.isEmpty)
        for problem in problems {
            #expect(!problem.contains("s3cret") && !problem.contains("123456789012"), "\(problem)")
        }
    }
}
