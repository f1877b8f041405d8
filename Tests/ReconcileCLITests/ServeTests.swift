import Foundation
import Testing

/// `reconcile serve` as an operator starts it: refusals before it listens, and `--simulated`
/// serving a converged farm whose links and buttons work.
@Suite struct ServeTests {
    static let apiToken = "serve-api-token-5e0a93c1d8"
    static let linkToken = "serve-link-m01-7b2f64e0a1"

    static func farm(port: Int, api: Bool = true) -> String {
        """
        version: 1
        defaults:
          apn: internet
          proxy: { users: [alice] }
        \(api ? "api: { listen: \"127.0.0.1:\(port)\", token: { env: PF_TEST_API } }" : "")
        users:
          alice: { password: { env: PF_TEST_ALICE } }
        modems:
          - serial: "860000000000001"
            name: m01
            \(api ? "link: { token: { env: PF_TEST_LINK }, minInterval: 30s }" : "")
          - serial: "860000000000002"
            name: m02

        """
    }

    static let environment = ["PF_TEST_API": apiToken, "PF_TEST_LINK": linkToken, "PF_TEST_ALICE": "alice-serve-password"]

    @Test func withoutAPISectionItSaysSoAndExitsOne() throws {
        let directory = try ReconcileCommandTests.scratch(Self.farm(port: 1, api: false))
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let run = try ReconcileCommandTests.reconcile(["serve"], in: directory)
        #expect(run.status == 1)
        #expect(run.stderr.contains("farm.yaml has no api: section; add api: { listen: \"127.0.0.1:8080\""))
    }

    @Test func anUnreadableTokenStopsItWithoutShowingAnyToken() throws {
        let directory = try ReconcileCommandTests.scratch(Self.farm(port: 1))
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let run = try ReconcileCommandTests.reconcile(["serve"], in: directory)
        #expect(run.status == 1)
        #expect(run.stderr.contains("api.token.env: the environment variable named here is not set"), "\(run.stderr)")
        #expect(!run.stderr.contains("PF_TEST_API"), "not even the variable's name")
        #expect(!run.stderr.contains(ReconcileCommandTests.alice))
    }

    @Test func simulatedFarmIsServedConvergedAndItsLinkRotates() throws {
        let port = try ServeProcess.freePort()
        let directory = try ReconcileCommandTests.scratch(Self.farm(port: port))
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let serve = try ServeProcess(["--simulated"], in: directory, port: port, environment: Self.environment)
        defer { _ = serve.stop() }
        let status = try serve.get("/v1/status", token: Self.apiToken)
        #expect(status.status == 200)
        let modems = status.json?["modems"] as? [[String: Any]] ?? []
        #expect(modems.map { $0["phase"] as? String } == ["Ready", "Ready"], "\(status.body)")
        #expect((status.json?["daemon"] as? [String: Any])?["running"] as? Bool == true)
        let before = modems.first?["ip"] as? String
        let rotated = try serve.get("/v1/link/" + Self.linkToken, method: "POST")
        #expect(rotated.status == 200, "\(rotated.body)")
        #expect(rotated.json?["oldIP"] as? String == before && rotated.json?["newIP"] as? String != before)
        #expect(try serve.get("/v1/modems/m01", token: Self.apiToken).json?["ip"] as? String == rotated.json?["newIP"] as? String)
        #expect(try serve.get("/v1/link/" + Self.linkToken).json?["error"] as? String == "TooSoon")
        #expect(try serve.get("/healthz/m02").status == 200)
        let filed = try serve.get("/v1/modems/m02/reset", method: "POST", token: Self.apiToken)
        #expect(filed.status == 202)
        let large = try serve.get("/login", method: "POST", body: "token=" + String(repeating: "x", count: 100_000))
        #expect(large.status == 413 && large.json?["error"] as? String == "BodyTooLarge")
        #expect(try serve.get("/nowhere").json?["error"] as? String == "NotFound")
        // Root options before the subcommand are the subcommand's (`reconcile --simulated serve`).
        let second = try Subprocess.run(try Subprocess.reconcile, ["--simulated", "serve"], in: directory, environment: Self.environment)
        #expect(second.status == 1 && second.stderr.contains("reconcile: error: cannot listen on 127.0.0.1:\(port) (api.listen): "), "\(second.stderr)")
        #expect(!serve.output.contains(Self.apiToken) && !serve.output.contains(Self.linkToken))
        let temporaryState = serve.output.split(separator: " ").first { $0.hasPrefix(NSTemporaryDirectory() + "proxyfarm-serve-") }
            .map { String($0.dropLast()) }
        #expect(serve.stop() == 0, "\(serve.output)")
        #expect(temporaryState.map { !FileManager.default.fileExists(atPath: $0) } == true, "the simulated state is removed at exit")
        #expect(!FileManager.default.fileExists(atPath: directory + "/state"), "a simulated serve leaves --state alone")
    }
}
