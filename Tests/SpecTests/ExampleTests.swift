import Foundation
import Testing
@testable import Spec

/// examples/farm.yaml is the operator's template: it must stay valid and complete.
@Suite struct ExampleTests {
    @Test func exampleValidatesWithoutErrors() throws {
        let result = FarmFile.load(path: examplePath, environment: [:])
        #expect(result.errors.isEmpty, "\(result.errors)")
        #expect(result.spec?.modems.count == 4)
        // Plain-text secrets are in the example on purpose; a fresh clone may also have 0644 secret files.
        for warning in result.warnings {
            #expect(warning.message.hasPrefix("plain-text ") || warning.message.contains("can be read by group or others"),
                    "\(warning)")
        }
        #expect(result.warnings.filter { $0.message.hasPrefix("plain-text ") }.count == 2)
    }

    /// Every key of the table appears in the example (the issue asks it to exercise every key).
    @Test func exampleUsesEveryKey() throws {
        let text = try String(contentsOfFile: examplePath, encoding: .utf8)
        var missing: [String] = []
        func visit(_ type: ValueType) {
            switch type {
            case .object(let keys), .oneOf(let keys, _):
                for key in keys {
                    if !text.contains(key.name + ":") { missing.append(key.name) }
                    visit(key.type)
                }
            case .list(let element, _, _): visit(element)
            case .dictionary(_, let values): visit(values)
            case .wordOr(_, let other): visit(other)
            case .text, .integer, .boolean: break
            }
        }
        visit(FarmKeys.root)
        #expect(missing.isEmpty, "example lacks \(missing)")
    }

    @Test func missingFileSaysHowToNameAnother() {
        let result = FarmFile.load(path: "/nonexistent/farm.yaml")
        #expect(result.spec == nil)
        #expect(result.diagnostics.map(\.description) == [
            "/nonexistent/farm.yaml:1:1: error: no such file (/nonexistent/farm.yaml); name another farm file with --file PATH",
        ])
    }

    @Test func fileThatIsNotUTF8() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("farm.yaml").path
        try Data("version: 1\nmodems:\n  - name: \u{00e9}\n".utf8.map { $0 == 0xA9 ? 0xFF : $0 }).write(to: URL(fileURLWithPath: path))
        #expect(FarmFile.load(path: path).diagnostics.map(\.description) == ["\(path):3:1: error: the file is not UTF-8 text"])
    }

    @Test func loadKeepsTheSourceForRevisionHashing() throws {
        let result = FarmFile.load(path: examplePath, environment: [:])
        #expect(result.source == (try String(contentsOfFile: examplePath, encoding: .utf8)))
    }
}
