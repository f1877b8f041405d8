import Foundation
import Testing

/// `reconcile serve` against a lab whose daemon runs: the change-IP link as a customer uses it
/// (checked through the modem's own proxy port), and the dashboard in a real headless Chromium
/// driven by selenium (Tests/Support/dashboard_browser.py).
@Suite(.serialized) struct DashboardBrowserTests {
    static let inCI = ProcessInfo.processInfo.environment["CI"] == "true"
    /// The venv scripts/install-deps makes for selenium (PyPI); PROXYFARM_BROWSER_PYTHON names another python.
    static let python = ProcessInfo.processInfo.environment["PROXYFARM_BROWSER_PYTHON"] ?? "/opt/proxyfarm-browser-venv/bin/python3"
    static let browserTools = ["/usr/bin/chromium", "/usr/bin/chromedriver", python]
    static let hasBrowser = browserTools.allSatisfy { FileManager.default.isExecutableFile(atPath: $0) }
    static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Support/dashboard_browser.py").path

    /// A lab of three modems whose farm.yaml has `api:` and a link per modem, its daemon running
    /// and every modem Ready, and `reconcile serve` on it.
    struct ServedLab {
        let lab: EndToEndLab
        let serve: ServeProcess
        let apiToken: String
        func linkToken(_ modem: String) -> String { Self.linkToken(modem, apiToken) }
        static func linkToken(_ modem: String, _ apiToken: String) -> String { "lab-link-\(modem)-\(apiToken.suffix(8))" }

        init() throws {
            let apiToken = "lab-api-token-\(UUID().uuidString.prefix(8))"
            let lab = try EndToEndLab(modems: 3)
            self.apiToken = apiToken
            self.lab = lab
            do {
                try lab.prepareFarm()
                let port = try ServeProcess.freePort()
                try Self.write(apiToken, to: lab.directory + "/secrets/api-token")
                var farm = try String(contentsOfFile: lab.directory + "/farm.yaml", encoding: .utf8)
                for modem in lab.modemNames {
                    try Self.write(Self.linkToken(modem, apiToken), to: lab.directory + "/secrets/\(modem)-link")
                    farm = farm.replacingOccurrences(
                        of: "    name: \(modem)\n", with: "    name: \(modem)\n    link: { token: { file: secrets/\(modem)-link }, minInterval: 60s }\n")
                }
                farm += "api:\n  listen: \"127.0.0.1:\(port)\"\n  token: { file: secrets/api-token }\n"
                try farm.write(toFile: lab.directory + "/farm.yaml", atomically: true, encoding: .utf8)
                try lab.startDaemon()
                try lab.waitUntil("every modem Ready", timeout: .seconds(60)) { lab.allReady() }
                serve = try ServeProcess(["--file", lab.directory + "/farm.yaml", "--state", lab.state], in: lab.directory, port: port)
            } catch {
                lab.down()
                throw error
            }
        }

        private static func write(_ secret: String, to path: String) throws {
            try secret.write(toFile: path, atomically: true, encoding: .utf8)
            #expect(chmod(path, 0o600) == 0)
        }

        func down() {
            #expect(serve.stop() == 0, "serve did not stop cleanly:\n\(serve.output)")
            #expect(!serve.output.contains(apiToken) && !lab.modemNames.contains { serve.output.contains(linkToken($0)) })
            lab.down()
        }
    }

    @Test(.enabled(if: EndToEndLab.canRun, "\(EndToEndLab.requirement)"))
    func theChangeIPLinkGivesTheModemANewEgressAddress() throws {
        let served = try ServedLab()
        defer { served.down() }
        let before = try #require(served.lab.address("m01"))
        #expect(try served.lab.egress(1) == before)

        let answer = try served.serve.get("/v1/link/" + served.linkToken("m01"))
        #expect(answer.status == 200, "\(answer.body)\n\(served.lab.daemonLog.suffix(2000))")
        let newIP = try #require(answer.json?["newIP"] as? String)
        #expect(answer.json?["oldIP"] as? String == before && newIP != before)
        #expect(try served.lab.egress(1) == newIP, "the what-is-my-IP server sees the link's new address through m01's port")

        let again = try served.serve.get("/v1/link/" + served.linkToken("m01"), method: "POST")
        #expect(again.status == 429 && again.json?["error"] as? String == "TooSoon")
        #expect((again.json?["retryAfterSeconds"] as? Int).map { (50...60).contains($0) } == true, "\(again.body)")
        #expect(served.lab.address("m01") == newIP, "a refused call rotates nothing")

        let wrong = try served.serve.get("/v1/link/" + served.linkToken("m02").dropLast() + "x")
        let unknown = try served.serve.get("/v1/link/lab-link-never-issued-0000")
        #expect(wrong.status == 404 && wrong.status == unknown.status && wrong.body == unknown.body)
    }

    @Test(.enabled(if: EndToEndLab.canRun && (hasBrowser || inCI), "needs chromium, chromium-driver and selenium (scripts/install-deps); required when CI=true"))
    func theDashboardFollowsTheLabLiveInARealBrowser() throws {
        for tool in Self.browserTools {
            try #require(FileManager.default.isExecutableFile(atPath: tool), "\(tool) missing: run scripts/install-deps")
        }
        let served = try ServedLab()
        defer { served.down() }
        let tokenFile = served.lab.directory + "/secrets/api-token"
        let unplug = [try Subprocess.reconcile, "lab", "unplug", "2", "--name", served.lab.name, "--dir", served.lab.directory].joined(separator: " ")
        let run = try Subprocess.run(Self.python, [Self.script, "--url", "http://127.0.0.1:\(served.serve.port)/", "--token-file", tokenFile,
                                                   "--modems", served.lab.modemNames.joined(separator: ","), "--unplug", "m02",
                                                   "--unplug-command", unplug, "--rotate", "m03"])
        let seen = (try? JSONSerialization.jsonObject(with: Data(run.stdout.utf8))) as? [String: Any] ?? [:]
        #expect(run.status == 0 && seen["ok"] as? Bool == true,
                "browser: \(run.stdout)\n\(run.stderr.suffix(2000))\ndaemon:\n\(served.lab.daemonLog.suffix(2000))")
        #expect(served.lab.phase("m02") == "Missing")
        let newIP = try #require(seen["newIP"] as? String)
        #expect(newIP != seen["oldIP"] as? String)
        #expect(served.lab.address("m03") == newIP)
        #expect(try served.lab.egress(3) == newIP, "the IP the dashboard shows is the one m03's port leaves from")
        #expect((seen["unpluggedReason"] as? String)?.contains("NotPluggedIn") == true, "\(seen)")
        #expect((seen["tablePhases"] as? [String: String])?["m02"] == "Missing")
        // The lab's one user, as the card (dashboard.js) and the table (the server) write it; `-`
        // until 3proxy first wrote its counts (in the first minute of an hour, up to a minute).
        let users = /^(-|lab [0-9.]+ (B|kB|MB))$/
        for key in ["cardUsers", "tableUsers"] {
            let values = (seen[key] as? [String: String]) ?? [:]
            #expect(values.count == (seen["cards"] as? [String])?.count && values.values.allSatisfy { $0.wholeMatch(of: users) != nil }, "\(key): \(values)")
        }
        print("dashboard browser test stages (seconds since the browser started): \(seen["seconds"] ?? [:])")
    }
}
