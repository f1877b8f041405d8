import Foundation
import Testing
@testable import Spec

/// Validates `yaml` as "farm.yaml" with a controlled environment, secrets relative to `base`.
func load(_ yaml: String, environment: [String: String] = ["ALICE_PW": "alice-test-password"],
          base: String = "/nonexistent") -> FarmLoadResult {
    FarmFile.parse(yaml: yaml, file: "farm.yaml", baseDirectory: base, environment: environment, reading: .all)
}

/// The diagnostics of `yaml` as the operator reads them (`farm.yaml:L:C: error: path: message`).
func report(_ yaml: String, environment: [String: String] = ["ALICE_PW": "alice-test-password"],
            base: String = "/nonexistent") -> [String] {
    load(yaml, environment: environment, base: base).diagnostics.map(\.description)
}

/// A valid farm to start from: users come from the environment so no file is needed.
let minimalFarm = """
    version: 1
    defaults:
      apn: internet
      proxy:
        users: [alice]
    users:
      alice:
        password: { env: ALICE_PW }
    modems:
      - serial: "860000000000001"
        name: m01

    """

/// The repository's root, found from this file's path.
let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent()
let examplePath = repositoryRoot.appendingPathComponent("examples/farm.yaml").path
let hostsExamplePath = repositoryRoot.appendingPathComponent("examples/farm-hosts.yaml").path

/// A fresh directory for secret files, removed by the caller.
func temporaryDirectory() throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("pf-spec-\(getpid())-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

/// Writes a secret file with the given permissions.
func writeSecret(_ text: String, named name: String, in directory: URL, mode: Int = 0o600) throws {
    let path = directory.appendingPathComponent(name).path
    try Data(text.utf8).write(to: URL(fileURLWithPath: path))
    try FileManager.default.setAttributes([.posixPermissions: mode], ofItemAtPath: path)
}

/// A path inside Tests/SpecTests/Fixtures.
func fixture(_ name: String) -> String {
    repositoryRoot.appendingPathComponent("Tests/SpecTests/Fixtures/\(name)").path
}
