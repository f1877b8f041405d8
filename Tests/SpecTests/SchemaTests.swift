import Foundation
import Testing
@testable import Spec

/// The JSON Schema comes from the validator's key table; python3's `jsonschema` checks it against
/// the example (CI installs python3-jsonschema and python3-yaml).
@Suite struct SchemaTests {
    static let pythonReady = run(["-c", "import jsonschema, yaml"]).status == 0
    static let inCI = ProcessInfo.processInfo.environment["CI"] == "true"

    @Test func schemaIsDeterministicAndMatchesTheCheckedInCopy() throws {
        let schema = FarmSchema.jsonSchema()
        #expect(schema == FarmSchema.jsonSchema())
        let checkedIn = try String(contentsOfFile: repositoryRoot.appendingPathComponent("examples/farm.schema.json").path, encoding: .utf8)
        #expect(schema == checkedIn, "examples/farm.schema.json is stale: run `reconcile schema > examples/farm.schema.json`")
        let parsed = try JSONSerialization.jsonObject(with: Data(schema.utf8)) as? [String: Any]
        #expect(parsed?["$schema"] as? String == "https://json-schema.org/draft/2020-12/schema")
        #expect((parsed?["required"] as? [String]) == ["version", "modems"])
    }

    /// Each pattern compiles for the validator (Swift's Regex) and for the schema's readers (ICU, as editors' validators use).
    @Test func everyFormatPatternCompiles() {
        for format in TextFormat.allCases {
            if let pattern = format.pattern {
                #expect(Pattern(pattern).compiles, "\(format)")
                #expect((try? NSRegularExpression(pattern: pattern)) != nil, "\(format)")
            }
        }
    }

    // Outside CI a machine without python3's jsonschema skips this; in CI (CI=true) it must run.
    @Test(.enabled(if: pythonReady || inCI, "needs python3 with the jsonschema and yaml modules"))
    func jsonschemaAcceptsTheExampleAndRejectsMistakes() throws {
        try #require(Self.pythonReady, "python3 -c 'import jsonschema, yaml' failed; install python3-jsonschema python3-yaml")
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let schemaPath = directory.appendingPathComponent("farm.schema.json").path
        try Data(FarmSchema.jsonSchema().utf8).write(to: URL(fileURLWithPath: schemaPath))
        let example = try String(contentsOfFile: examplePath, encoding: .utf8)
        let mistakes = [
            "unknown-key": example + "colour: blue\n",
            "wrong-type": example.replacingOccurrences(of: "enabled: false", with: "enabled: 3"),
            "bad-duration": example.replacingOccurrences(of: "interval: 30s", with: "interval: 30 seconds"),
            "two-rotations": example.replacingOccurrences(of: "rotation: { every: 10m }", with: "rotation: { every: 10m, at: [\"01:00\"] }"),
        ]
        var paths = ["example": examplePath]
        for (name, text) in mistakes {
            #expect(!load(text, base: repositoryRoot.appendingPathComponent("examples").path).errors.isEmpty, "validator accepts \(name)")
            let path = directory.appendingPathComponent(name + ".yaml").path
            try Data(text.utf8).write(to: URL(fileURLWithPath: path))
            paths[name] = path
        }
        let script = """
            import json, sys, yaml, jsonschema
            schema = json.load(open(sys.argv[1]))
            jsonschema.Draft202012Validator.check_schema(schema)
            validator = jsonschema.Draft202012Validator(schema)
            for arg in sys.argv[2:]:
                name, path = arg.split("=", 1)
                print(name, "valid" if validator.is_valid(yaml.safe_load(open(path))) else "invalid")
            """
        let result = Self.run(["-c", script, schemaPath] + paths.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" })
        #expect(result.status == 0, "\(result.output)")
        #expect(result.output == """
            bad-duration invalid
            example valid
            two-rotations invalid
            unknown-key invalid
            wrong-type invalid

            """)
    }

    static func run(_ arguments: [String]) -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3"] + arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        do {
            try process.run()
        } catch {
            return (-1, "\(error)")
        }
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }
}
