import Foundation
import Testing
@testable import Spec

/// `api:` and `modems[].link` (DESIGN §10): formats, inheritance of `minInterval`, and tokens that
/// are checked like every secret and never shown.
@Suite struct APIKeysTests {
    static let tokens = ["API_TOKEN": "api-token-0123456789abcdef", "LINK_M01": "link-m01-0123456789abcdef", "ALICE_PW": "alice-test-password"]

    private func farm(api: String = "api: { listen: \"127.0.0.1:8080\", token: { env: API_TOKEN } }", defaults: String = "",
                      link: String = "link: { token: { env: LINK_M01 } }") -> String {
        """
        version: 1
        \(api)
        defaults:
          apn: internet
          proxy: { users: [alice] }
        \(defaults)
        users:
          alice: { password: { env: ALICE_PW } }
        modems:
          - serial: "1"
            name: m01
            \(link)
          - serial: "2"
            name: m02

        """
    }

    @Test func apiAndLinksResolve() throws {
        let spec = try #require(load(farm(defaults: "  link: { minInterval: 5m }"), environment: Self.tokens).spec)
        #expect(spec.api == APISettings(listen: ListenAddress(host: "127.0.0.1", port: 8080), token: .env("API_TOKEN")))
        #expect(spec.modems[0].link == LinkSettings(token: .env("LINK_M01"), minInterval: .seconds(300)))
        #expect(spec.modems[1].link == nil, "minInterval alone makes no link")
        #expect(try #require(load(farm(api: ""), environment: Self.tokens).spec).api == nil)
        let own = try #require(load(farm(defaults: "  link: { minInterval: 5m }", link: "link: { token: { env: LINK_M01 }, minInterval: 30s }"),
                                    environment: Self.tokens).spec)
        #expect(own.modems[0].link?.minInterval == .seconds(30))
        #expect(load(farm(), environment: Self.tokens).spec?.modems[0].link?.minInterval == .seconds(60))
    }

    @Test func listenAddresses() {
        #expect(ListenAddress("[::1]:8080") == ListenAddress(host: "::1", port: 8080))
        #expect(ListenAddress("[::1]:8080")?.description == "[::1]:8080")
        for bad in ["localhost:8080", "127.0.0.1", "127.0.0.1:0", "127.0.0.1:70000", "::1:8080", "[127.0.0.1]:80"] {
            #expect(ListenAddress(bad) == nil, "\(bad)")
        }
        #expect(report(farm(api: "api: { listen: \"localhost:8080\", token: { env: API_TOKEN } }"), environment: Self.tokens) == [
            "farm.yaml:2:16: error: api.listen: 'localhost:8080' is not an IP address and port such as \"127.0.0.1:8080\" or \"[::1]:8080\"",
        ])
    }

    @Test func tokensMustBeLongURLSafeAndAreNeverShown() {
        let short = ["API_TOKEN": "tiny-secret", "LINK_M01": "link-m01-0123456789abcdef", "ALICE_PW": "x-pw"]
        #expect(report(farm(), environment: short) == [
            "farm.yaml:2:48: error: api.token.env: the token from env must be at least 16 characters long, so that it cannot be guessed",
        ])
        let unsafe = report(farm(link: "link: { token: { value: \"has spaces/and-more-than-16\" } }"), environment: Self.tokens)
        #expect(unsafe == [
            "farm.yaml:12:29: warning: modems[0].link.token.value: plain-text token in farm.yaml; prefer file or env",
            "farm.yaml:12:29: error: modems[0].link.token.value: the token may hold only letters, digits, '-', '.', '_' and '~' (it goes into a URL)",
        ])
        #expect(!unsafe.joined().contains("has spaces"))
        #expect(report(farm(link: "link: { token: { env: UNSET_LINK } }"), environment: Self.tokens) == [
            "farm.yaml:12:27: error: modems[0].link.token.env: the environment variable named here is not set (its name is not shown, in case a secret was put under env: by mistake)",
        ])
    }

    @Test func tokensBelongToModemsNotDefaults() {
        #expect(report(farm(defaults: "  link: { token: { env: LINK_M01 } }"), environment: Self.tokens).first?
            .hasPrefix("farm.yaml:6:11: error: defaults.link.token: unknown key 'token'") == true)
    }

    /// `reconcile serve` reads only the tokens, the reconciler only the passwords and PINs: neither
    /// stops on a secret only the other has at hand.
    @Test func eachProcessReadsOnlyItsOwnSecrets() {
        let environment = ["API_TOKEN": "api-token-0123456789abcdef", "LINK_M01": "link-m01-0123456789abcdef"]
        let yaml = farm(link: "link: { token: { env: LINK_M01 } }\n    pin: { file: secrets/absent.pin }")
        #expect(load(yaml, environment: environment).spec == nil)
        let served = FarmFile.parse(yaml: yaml, file: "farm.yaml", baseDirectory: "/nonexistent", environment: environment, reading: .api)
        #expect(served.errors.isEmpty, "\(served.errors)")
        let noToken = FarmFile.parse(yaml: yaml, file: "farm.yaml", baseDirectory: "/nonexistent", environment: [:], reading: .api)
        #expect(noToken.errors.map(\.path) == ["api.token.env", "modems[0].link.token.env"])
        #expect(noToken.errors.allSatisfy { $0.message.hasPrefix("the environment variable named here is not set") })
        let reconciled = FarmFile.parse(yaml: farm(), file: "farm.yaml", baseDirectory: "/nonexistent", environment: ["ALICE_PW": "alice-pw"])
        #expect(reconciled.errors.isEmpty && reconciled.spec?.modems[0].link?.token == .env("LINK_M01"), "\(reconciled.errors)")
    }
}
