import Foundation
import Testing
@testable import Spec

/// Secret sources: read only to validate them, and never shown.
@Suite struct SecretTests {
    private func farm(password: String, pin: String = "") -> String {
        """
        version: 1
        defaults: { apn: internet, proxy: { users: [alice] } }
        users:
          alice:
            password: \(password)
        modems:
          - serial: "1"
            name: m01
        \(pin)
        """
    }

    @Test func missingSecretFileIsAnError() {
        #expect(report(farm(password: "{ file: secrets/nope }"), base: "/nonexistent") == [
            "farm.yaml:5:23: error: users.alice.password.file: the secret file named here does not exist (looked in /nonexistent; its name is not shown)",
        ])
    }

    @Test func secretFileReadableByOthersIsAWarning() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        try writeSecret("alice-file-password\n", named: "alice", in: directory, mode: 0o640)
        let result = load(farm(password: "{ file: alice }"), base: directory.path)
        #expect(result.diagnostics.map(\.description) == [
            "farm.yaml:5:23: warning: users.alice.password.file: secret file alice can be read by group or others (mode 0640); run chmod 600 on it",
        ])
        #expect(result.spec?.users == [User(name: "alice", password: .file("alice"))])
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: directory.appendingPathComponent("alice").path)
        #expect(load(farm(password: "{ file: alice }"), base: directory.path).diagnostics.isEmpty)
    }

    @Test func plainTextValuesWarn() {
        let result = load(farm(password: "{ value: \"plain-text-pw\" }", pin: "    pin: { value: \"1234\" }"))
        #expect(result.diagnostics.map(\.description) == [
            "farm.yaml:5:24: warning: users.alice.password.value: plain-text password in farm.yaml; prefer file or env",
            "farm.yaml:9:19: warning: modems[0].pin.value: plain-text PIN in farm.yaml; prefer file or env",
        ])
        #expect(result.spec?.modems.first?.pin == .value("1234"))
    }

    @Test func unsetEnvironmentVariableIsAnError() {
        #expect(report(farm(password: "{ env: NOT_SET_ANYWHERE }")) == [
            "farm.yaml:5:22: error: users.alice.password.env: the environment variable named here is not set (its name is not shown, in case a secret was put under env: by mistake)",
        ])
        #expect(report(farm(password: "{ env: 1BAD }")) == [
            "farm.yaml:5:22: error: users.alice.password.env: the value (not shown: it may be a secret) is not an environment variable name such as PROXY_PASSWORD",
        ])
    }

    @Test func hashesMustBe3proxyCryptOfAtMost63Characters() {
        let long = "$1$" + String(repeating: "a", count: 61)
        #expect(report(farm(password: "{ hash: \"$2y$10$abc\" }")) == [
            "farm.yaml:5:23: error: users.alice.password.hash: the hash is not a 3proxy crypt hash $1$... or $3$... of at most 63 characters, in quotes",
        ])
        #expect(report(farm(password: "{ hash: \"\(long)\" }")) == [
            "farm.yaml:5:23: error: users.alice.password.hash: the hash is 64 characters long; 3proxy silently ignores hashes longer than 63",
        ])
        #expect(load(farm(password: "{ hash: \"$1$pfexampl$ZQIW7vhM700KNCzIIiVXE0\" }")).diagnostics.isEmpty)
    }

    @Test func onlyOneSourcePerSecret() {
        #expect(report(farm(password: "{ env: ALICE_PW, value: \"x\" }")) == [
            "farm.yaml:5:32: error: users.alice.password: give only one of file, hash, env, value; found env and value",
        ])
        #expect(report(farm(password: "{}")) == ["farm.yaml:5:15: error: users.alice.password: expected exactly one of file, hash, env, value"])
    }

    @Test func passwordsThatCannotBeRenderedSafelyAreErrors() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        try writeSecret("pass\"word\n", named: "quoted", in: directory)
        try writeSecret("first\nsecond\n", named: "twolines", in: directory)
        try writeSecret("with:colons$and spaces\r\n", named: "fine", in: directory)
        let quoteMessage = "contains a double quote (\"), which cannot be written safely into a 3proxy config; choose another password"
        let controlMessage = "contains a line break or another control character, which cannot be written safely into a 3proxy config; choose another password"
        #expect(report(farm(password: "{ file: quoted }"), base: directory.path) == [
            "farm.yaml:5:23: error: users.alice.password.file: the password from file \(quoteMessage)",
        ])
        #expect(report(farm(password: "{ file: twolines }"), base: directory.path) == [
            "farm.yaml:5:23: error: users.alice.password.file: the password from file \(controlMessage)",
        ])
        #expect(report(farm(password: "{ env: ALICE_PW }"), environment: ["ALICE_PW": "tab\there"]) == [
            "farm.yaml:5:22: error: users.alice.password.env: the password from env \(controlMessage)",
        ])
        #expect(report(farm(password: "{ value: \"\" }")) == [
            "farm.yaml:5:24: error: users.alice.password.value: expected a non-empty text in quotes",
        ])
        #expect(load(farm(password: "{ file: fine }"), base: directory.path).diagnostics.isEmpty)
    }

    /// 3proxy cuts HTTP Basic's decoded `user:password` at 255 bytes: "alice" leaves 249 for the password.
    @Test func passwordsMustFitHTTPBasicWithTheirUserName() {
        let fits = String(repeating: "p", count: 249)
        #expect(load(farm(password: "{ env: ALICE_PW }"), environment: ["ALICE_PW": fits]).diagnostics.isEmpty)
        #expect(report(farm(password: "{ env: ALICE_PW }"), environment: ["ALICE_PW": fits + "é"]) == [
            "farm.yaml:5:22: error: users.alice.password.env: the password from env is 251 bytes; 3proxy cuts "
                + "HTTP Basic's user:password at 255 bytes, so a password of user alice may have at most 249",
        ])
        #expect(report(farm(password: "{ value: \"\(fits)p\" }")).contains { $0.contains("is 250 bytes;") && !$0.contains(fits) })
    }

    /// The daemon watches these: file passwords and PINs, relative to farm.yaml, each once.
    @Test func secretFilesAreListedWhole() {
        var spec = FarmSpec(portRange: 20000...20999, routing: RoutingSettings(), users: [
            User(name: "alice", password: .file("secrets/alice")), User(name: "bob", password: .env("BOB_PW")),
            User(name: "carol", password: .file("/etc/proxyfarm/carol")),
        ], modems: [])
        spec.modems = [ModemSpec(serial: "1", name: "m01", apn: "internet", pin: .file("secrets/alice"), proxy: ProxySettings())]
        #expect(spec.secretFiles(baseDirectory: "/srv/farm") == ["/etc/proxyfarm/carol", "/srv/farm/secrets/alice"])
    }

    @Test func pinsAreFourToEightDigits() {
        #expect(report(farm(password: "{ env: ALICE_PW }", pin: "    pin: { env: SIM_PIN }"),
                       environment: ["ALICE_PW": "pw", "SIM_PIN": "12ab"]) == [
            "farm.yaml:9:17: error: modems[0].pin.env: the PIN from env must be 4-8 digits",
        ])
        #expect(report(farm(password: "{ env: ALICE_PW }", pin: "    pin: { hash: \"$1$x\" }")) == [
            "farm.yaml:9:10: error: modems[0].pin: expected exactly one of file, env, value",
            "farm.yaml:9:12: error: modems[0].pin: unknown key (not shown: it may hold a secret); expected one of: file, env, value",
        ])
    }

    @Test func resolveReadsEachSource() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        try writeSecret("from-file\n", named: "pw", in: directory)
        #expect(try SecretSource.file("pw").resolve(baseDirectory: directory.path, environment: [:]) == "from-file")
        #expect(try SecretSource.file(directory.path + "/pw").resolve(baseDirectory: "/elsewhere", environment: [:]) == "from-file")
        #expect(try SecretSource.env("PW").resolve(baseDirectory: "", environment: ["PW": "from-env"]) == "from-env")
        #expect(try SecretSource.value("v").resolve(baseDirectory: "", environment: [:]) == "v")
        #expect(try SecretSource.hash("$1$a$b").resolve(baseDirectory: "", environment: [:]) == "$1$a$b")
        #expect(throws: SecretError(reason: "SecretEnvUnset", message: "the environment variable named here is not set (its name is not shown, in case a secret was put under env: by mistake)")) {
            try SecretSource.env("PW").resolve(baseDirectory: "", environment: [:])
        }
        let missing = #expect(throws: SecretError.self) {
            try SecretSource.file("gone").resolve(baseDirectory: directory.path, environment: [:])
        }
        #expect(missing?.reason == "SecretFileMissing")
    }

    /// Invalid secrets are reported, but their text never appears in any diagnostic.
    @Test func secretsNeverAppearInDiagnostics() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        try writeSecret("FileSecret\"Quoted\n", named: "carol", in: directory, mode: 0o644)
        let yaml = """
            version: 1
            defaults: { apn: internet, proxy: { users: [alice, bob, carol, dave] } }
            users:
              alice: { password: { value: "ValueSecret\\"Quoted" } }
              bob: { password: { env: BOB_PW } }
              carol: { password: { file: carol } }
              dave: { password: 31415926535 }
              erin: { password: { valeu: "TypoSecret" } }
            modems:
              - serial: "1"
                name: m01
                pin: { value: 27182818 }
              - serial: "2"
                name: m02
                pin: { value: "SecretPin1" }
              - serial: "3"
                name: m03
                pin: { env: PIN3 }
            """
        let environment = ["BOB_PW": "EnvSecret\nNewline", "PIN3": "123456789"]
        let result = load(yaml, environment: environment, base: directory.path)
        #expect(result.spec == nil)
        #expect(result.errors.count == 9, "\(result.errors)")
        let text = result.diagnostics.map(\.description).joined(separator: "\n")
        for secret in ["ValueSecret", "EnvSecret", "Newline", "FileSecret", "31415926535", "TypoSecret", "27182818", "SecretPin1", "123456789"] {
            #expect(!text.contains(secret), "diagnostics show \(secret)")
        }
    }
}
