import Foundation
import Testing
import Yams
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
        #expect(result.warnings.filter { $0.message.hasPrefix("plain-text ") }.count == 3)
    }

    /// Every key of the table is set in the examples (by defaults or a modem; the multi-host keys in farm-hosts.yaml), except `env`, which only appears in comments:
    /// an env secret would make the example invalid wherever the variable is unset. The one `api.token` shows `file`;
    /// `value` appears on a modem's link token.
    @Test func exampleUsesEveryKey() throws {
        let roots = try [examplePath, hostsExamplePath].map { try #require(try Yams.compose(yaml: String(contentsOfFile: $0, encoding: .utf8))) }
        var used: Set<String> = []
        func visit(_ node: Node, _ type: ValueType, _ path: String) {
            switch (type, node) {
            case (.object(let keys), .mapping(let mapping)), (.oneOf(let keys, _), .mapping(let mapping)),
                 (.wordOr(_, .oneOf(let keys, _)), .mapping(let mapping)):
                for (key, value) in mapping {
                    guard let name = key.string, let known = keys.first(where: { $0.name == name }) else { continue }
                    used.insert(KeyPath.child(path, name))
                    visit(value, known.type, KeyPath.child(path, name))
                }
            case (.list(let element, _, _), .sequence(let items)):
                items.forEach { visit($0, element, path) }
            case (.dictionary(_, let values), .mapping(let mapping)):
                mapping.forEach { visit($0.value, values, path + ".*") }
            default:
                break
            }
        }
        for root in roots { visit(root, FarmKeys.root, "") }
        var all: [String] = []
        func collect(_ type: ValueType, _ path: String) {
            switch type {
            case .object(let keys), .oneOf(let keys, _), .wordOr(_, .oneOf(let keys, _)):
                for key in keys {
                    all.append(KeyPath.child(path, key.name))
                    collect(key.type, KeyPath.child(path, key.name))
                }
            case .list(let element, _, _): collect(element, path)
            case .dictionary(_, let values): collect(values, path + ".*")
            default: break
            }
        }
        collect(FarmKeys.root, "")
        // An inheritable key counts as used whether defaults or a modem sets it.
        let usedByModems = Set(used.map { $0.hasPrefix("defaults.") ? "modems." + $0.dropFirst("defaults.".count) : $0 })
        let missing = all.filter { !$0.hasPrefix("defaults.") && !usedByModems.contains($0) && !$0.hasSuffix(".env") && $0 != "api.token.value" }
        #expect(missing.isEmpty, "examples/farm.yaml does not use \(missing)")
        #expect(all.count > 60)
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
