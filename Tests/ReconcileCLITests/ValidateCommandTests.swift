import Foundation
import Testing

/// `reconcile validate` and `reconcile schema` as an operator runs them: exit codes, where the
/// words go (summary on stdout, diagnostics on stderr) and their `file:line:col` form.
struct ValidateCommandTests {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static func scratch(_ farm: String) throws -> String {
        let directory = NSTemporaryDirectory() + "pf-validate-\(getpid())-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try farm.write(toFile: directory + "/farm.yaml", atomically: true, encoding: .utf8)
        return directory
    }

    @Test func theExampleIsValidAndSummarised() throws {
        let run = try Subprocess.run(try Subprocess.reconcile, ["validate", "--file", "examples/farm.yaml"], in: Self.repository.path)
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stdout == "examples/farm.yaml: valid — 4 modems (3 enabled), 3 users\n")
        #expect(!run.stderr.contains("error:"))
    }

    @Test func everyProblemIsReportedOnStderrWithItsPositionAndExitIsOne() throws {
        let directory = try Self.scratch("""
            version: 1
            users:
              alice: { password: { value: "s3cret-not-shown\\"" } }
            modems:
              - serial: "1"
                name: m01
                apn: internet
                users: [alice]
                ports: { http: 70000 }
              - serial: "1"
                name: m01
                apn: internet
                users: [alice]
                rotaton: { every: 10m }

            """)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let run = try Subprocess.run(try Subprocess.reconcile, ["validate"], in: directory)
        #expect(run.status == 1)
        #expect(run.stdout.isEmpty)
        let errors = run.stderr.split(separator: "\n").filter { $0.contains(": error: ") }
        #expect(errors.count >= 4, "\(run.stderr)")
        #expect(errors.allSatisfy { $0.hasPrefix("farm.yaml:") })
        #expect(run.stderr.contains("farm.yaml:9:20: error: modems[0].ports.http: 70000 is outside 1-65535"), "\(run.stderr)")
        #expect(run.stderr.contains("modems[1].rotaton"), "\(run.stderr)")
        #expect(run.stderr.contains("did you mean 'rotation'?"), "\(run.stderr)")
        #expect(!run.stderr.contains("s3cret-not-shown"))
    }

    @Test func aMissingFileSaysHowToNameAnother() throws {
        let directory = try Self.scratch("")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try FileManager.default.removeItem(atPath: directory + "/farm.yaml")
        let run = try Subprocess.run(try Subprocess.reconcile, ["validate"], in: directory)
        #expect(run.status == 1)
        #expect(run.stderr.contains("farm.yaml"))
        #expect(run.stderr.contains("--file"), "\(run.stderr)")
    }

    @Test func theSchemaIsJSONAndNamesTheKeys() throws {
        let run = try Subprocess.run(try Subprocess.reconcile, ["schema"])
        #expect(run.status == 0)
        let schema = try #require(try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any])
        #expect(schema["$schema"] as? String == "https://json-schema.org/draft/2020-12/schema")
        let properties = try #require(schema["properties"] as? [String: Any])
        #expect(Set(properties.keys).isSuperset(of: ["version", "defaults", "ports", "routing", "users", "modems"]))
    }
}
