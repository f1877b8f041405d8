@testable import ControlAPI
import Foundation
import Testing

/// The control API's scenarios; `OpenAPITests` runs them (and the link's) one after the other,
/// checks every answer against docs/api/openapi.yaml and then demands that every response the
/// document declares was seen.
enum ControlAPITests {
    static let document = try? OpenAPIDocument()

    struct Answer {
        var response: APIResponse
        var status: Int { response.status }
        var json: JSON? { try? JSONDecoder().decode(JSON.self, from: Data(response.body)) }
        var error: String? { json?["error"]?.text }
        var text: String { String(decoding: response.body, as: UTF8.self) }
    }

    /// Sends a request straight to the API and checks the answer against the document; no answer
    /// may contain a token.
    @discardableResult
    static func send(_ api: ControlAPI, _ method: String, _ path: String, token: String? = nil, cookie: String? = nil,
                     body: String = "", client: String = "198.51.100.1", sourceLocation: SourceLocation = #_sourceLocation) async -> Answer {
        var headers: [String: String] = [:]
        if let token { headers["Authorization"] = "Bearer " + token }
        if let cookie { headers["Cookie"] = cookie }
        let response = await api.respond(to: APIRequest(method: method, path: path, headers: headers, body: Array(body.utf8), client: client))
        document?.check(method: method, path: path, status: response.status, contentType: response.header("Content-Type"),
                        body: response.body, sourceLocation: sourceLocation)
        let text = String(decoding: response.body, as: UTF8.self) + response.headers.map { $0.0 + ": " + $0.1 }.joined()
        for secret in StatusFixture.allTokens { #expect(!text.contains(secret), "a token in the answer to \(method) \(path)", sourceLocation: sourceLocation) }
        return Answer(response: response)
    }

    static func dashboardNeedsALogIn() async throws {
        let farm = try StatusFixture()
        let api = try ControlAPI(farm.configuration())
        let login = await Self.send(api, "GET", "/")
        #expect(login.status == 200 && login.text.contains("<form method=\"post\" action=\"/login\""))
        #expect(!login.text.contains("m01"))
        #expect(await Self.send(api, "POST", "/login", body: "token=wrong").error == "Unauthorized")
        #expect(await Self.send(api, "GET", "/login").error == "MethodNotAllowed")
        #expect(await Self.send(api, "POST", "/", body: "").error == "MethodNotAllowed")
        let loggedIn = await Self.send(api, "POST", "/login", body: "token=" + StatusFixture.operatorToken)
        #expect(loggedIn.status == 303 && loggedIn.response.header("Location") == "/")
        let cookie = try #require(loggedIn.response.header("Set-Cookie")?.split(separator: ";").first.map(String.init))
        #expect(loggedIn.response.header("Set-Cookie")?.contains("HttpOnly; SameSite=Strict") == true)
        let page = await Self.send(api, "GET", "/", cookie: cookie)
        #expect(page.text.contains("<tr data-modem=\"m01\"><td>m01</td><td>Ready</td>"))
        #expect(page.text.contains("<tr data-modem=\"m02\"><td>m02</td><td>Missing</td><td>NotPluggedIn: not plugged in</td>"))
        #expect(page.text.contains("<td>1.2 GB down, 45.6 MB up</td><td>alice 1.2 MB, bob 94 % of 1MB per day, carol over quota (2MB per day)</td></tr>"),
                "m01's traffic and users")
        #expect(page.text.contains("<td>-</td><td>-</td></tr>"), "m02 has neither yet")
        #expect(page.text.contains("2 modems: 1 Ready, 1 Missing · daemon running"))
        #expect(!page.text.contains("http://") && !page.text.contains("https://"), "nothing loaded from elsewhere")
        for asset in [DashboardAssets.css, DashboardAssets.javascript] { #expect(!asset.contains("http:") && !asset.contains("https:") && !asset.contains("//cdn")) }
        #expect(page.response.header("Content-Security-Policy")?.hasPrefix("default-src 'self'") == true)
        #expect(await Self.send(api, "GET", "/v1/status", cookie: cookie).status == 200)
        #expect(await Self.send(api, "GET", "/v1/status", cookie: "proxyfarm_session=0123").status == 401)
        for asset in ["/static/dashboard.css", "/static/dashboard.js"] { #expect(await Self.send(api, "GET", asset).status == 200) }
        let tooLarge = await Self.send(api, "POST", "/login", body: String(repeating: "x", count: ControlAPI.maximumBodySize + 1))
        #expect(tooLarge.error == "BodyTooLarge" && tooLarge.status == 413)
    }

    static func statusAndModems() async throws {
        let farm = try StatusFixture()
        let api = try ControlAPI(farm.configuration())
        let token = StatusFixture.operatorToken
        #expect(await Self.send(api, "GET", "/v1/status").error == "Unauthorized")
        #expect(await Self.send(api, "GET", "/v1/status", token: token + "x").error == "Unauthorized")
        #expect(await Self.send(api, "POST", "/v1/status", token: token).error == "MethodNotAllowed")
        let lowerCase = await api.respond(to: APIRequest(method: "GET", path: "/v1/status", headers: ["authorization": "bearer " + token]))
        #expect(lowerCase.status == 200 && lowerCase.header("Cache-Control") == "no-store")
        let status = await Self.send(api, "GET", "/v1/status", token: token)
        #expect(status.json?["daemon"]?["running"] == .bool(true))
        #expect(status.json?["daemon"]?["pid"] == .number(Double(getpid())))
        guard case .array(let modems)? = status.json?["modems"] else { Issue.record("no modems"); return }
        #expect(modems.map { $0["name"]?.text } == ["m01", "m02"])
        #expect(modems[0]["readySince"] == .string("2026-11-30T02:00:00Z") && modems[1]["readySince"] == nil)
        #expect(await Self.send(api, "GET", "/v1/modems/m01", token: token).json?["ip"] == .string("100.64.1.10"))
        #expect(await Self.send(api, "GET", "/v1/modems/m01").status == 401)
        let unknown = await Self.send(api, "GET", "/v1/modems/m09", token: token)
        #expect(unknown.error == "UnknownModem" && unknown.json?["modem"] == .string("m09"))
        #expect(await Self.send(api, "GET", "/v1/modems/..%2Ffarm", token: token).json?["modem"] == nil)
        #expect(await Self.send(api, "GET", "/nothing/here").error == "NotFound")
        #expect(await Self.send(api, "GET", "/nothing").error == "NotFound")
        #expect(await Self.send(api, "GET", "/metrics").text == "proxyfarm_converged 1\nproxyfarm_modems{phase=\"Ready\"} 1\n")
    }

    static func requestsAreFiledForTheDaemon() async throws {
        let farm = try StatusFixture()
        let api = try ControlAPI(farm.configuration())
        let token = StatusFixture.operatorToken
        #expect(await Self.send(api, "POST", "/v1/modems/m01/rotate").status == 401)
        #expect(await Self.send(api, "POST", "/v1/modems/m01/reset").status == 401)
        #expect(await Self.send(api, "GET", "/v1/modems/m01/rotate", token: token).error == "MethodNotAllowed")
        #expect(await Self.send(api, "POST", "/v1/modems/m07/rotate", token: token).error == "UnknownModem")
        #expect(await Self.send(api, "POST", "/v1/modems/m07/reset", token: token).error == "UnknownModem")
        #expect(await Self.send(api, "POST", "/v1/modems/m01/explode", token: token).error == "NotFound")
        let rotate = await Self.send(api, "POST", "/v1/modems/m01/rotate", token: token)
        #expect(rotate.status == 202 && rotate.json?["daemonRunning"] == .bool(true))
        #expect(await Self.send(api, "POST", "/v1/modems/m02/reset", token: token).status == 202)
        #expect(farm.pendingRequests == ["reset-m02", "rotate-m01"])
        farm.stopDaemon()
        #expect(await Self.send(api, "POST", "/v1/modems/m01/rotate", token: token).json?["daemonRunning"] == .bool(false))
    }

    static func healthAndMetricsFollowTheStatusFiles() async throws {
        let farm = try StatusFixture()
        let api = try ControlAPI(farm.configuration())
        #expect(await Self.send(api, "GET", "/healthz/m01").json == .object(["modem": .string("m01"), "phase": .string("Ready")]))
        let missing = await Self.send(api, "GET", "/healthz/m02")
        #expect(missing.status == 503 && missing.error == "NotReady" && missing.json?["phase"] == .string("Missing"))
        #expect(await Self.send(api, "GET", "/healthz/m03").status == 404)
        try FileManager.default.removeItem(atPath: farm.root + "/status/metrics.prom")
        try FileManager.default.removeItem(atPath: farm.root + "/status/farm.json")
        #expect(await Self.send(api, "GET", "/metrics").error == "NoStatus")
        #expect(await Self.send(api, "GET", "/v1/status", token: StatusFixture.operatorToken).error == "NoStatus")
        let cookie = await Self.send(api, "POST", "/login", body: "token=" + StatusFixture.operatorToken).response.header("Set-Cookie")
        let page = await Self.send(api, "GET", "/", cookie: cookie?.split(separator: ";").first.map(String.init))
        #expect(page.status == 200 && page.text.contains("<p id=\"summary\">no status yet in "))
    }

    static func unreadableStatusAndUnwritableRequestsAreServerErrors(_ method: String) async throws {
        let farm = try StatusFixture()
        let api = try ControlAPI(farm.configuration())
        let token = StatusFixture.operatorToken
        try "{ not json".write(toFile: farm.root + "/status/modems/m01.json", atomically: true, encoding: .utf8)
        for path in ["/v1/status", "/v1/modems/m01", "/healthz/m01"] {
            let answer = await Self.send(api, "GET", path, token: token)
            #expect(answer.status == 500 && answer.error == "StatusUnreadable", "\(path)")
        }
        try farm.writeModem("m01", phase: "Ready", ip: "100.64.1.10")
        // A file where the request directory should be: no request can be filed.
        try FileManager.default.removeItem(atPath: farm.root + "/requests")
        try "".write(toFile: farm.root + "/requests", atomically: true, encoding: .utf8)
        for verb in ["rotate", "reset"] {
            #expect(await Self.send(api, "POST", "/v1/modems/m01/" + verb, token: token).error == "RequestNotFiled")
        }
        #expect(await Self.send(api, method, "/v1/link/" + (StatusFixture.linkTokens["m01"] ?? "")).error == "RequestNotFiled")
    }

    static func wrongTokensRunOutTheClientsBudget() async throws {
        let farm = try StatusFixture()
        let api = try ControlAPI(farm.configuration())
        for attempt in 0..<10 { #expect(await Self.send(api, "GET", "/v1/status", token: "guess-\(attempt)").status == 401) }
        let limited = await Self.send(api, "GET", "/v1/status", token: StatusFixture.operatorToken)
        #expect(limited.error == "TooManyRequests" && limited.response.header("Retry-After") == "6")
        #expect(await Self.send(api, "POST", "/login", body: "token=x").error == "TooManyRequests")
        #expect(await Self.send(api, "GET", "/v1/link/" + (StatusFixture.linkTokens["m01"] ?? "")).error == "TooManyRequests")
        #expect(await Self.send(api, "GET", "/v1/status", token: StatusFixture.operatorToken, client: "198.51.100.2").status == 200)
        // Sent faster than the refill: the burst runs out.
        var sent = 0
        while await Self.send(api, "GET", "/", client: "198.51.100.3").status == 200, sent < 10 * Int(RateLimits.requests.burst) { sent += 1 }
        #expect(sent >= Int(RateLimits.requests.burst) - 1 && sent < 10 * Int(RateLimits.requests.burst))
    }
}

@Suite struct OpenAPITests {
    @Test func everyAnswerIsDeclaredAndEveryDeclaredAnswerIsGiven() async throws {
        let document = try #require(ControlAPITests.document)
        #expect(document.template(for: "/v1/modems/m01/rotate") == "/v1/modems/{name}/rotate")
        #expect(document.template(for: "/nothing") == "/{anything}")
        try await ControlAPITests.dashboardNeedsALogIn()
        try await ControlAPITests.statusAndModems()
        try await ControlAPITests.requestsAreFiledForTheDaemon()
        try await ControlAPITests.healthAndMetricsFollowTheStatusFiles()
        try await ControlAPITests.wrongTokensRunOutTheClientsBudget()
        for method in ["GET", "POST"] {
            try await ControlAPITests.unreadableStatusAndUnwritableRequestsAreServerErrors(method)
            try await ChangeIPLinkTests.rotatesOnceThenSaysHowLongToWait(method)
            try await ChangeIPLinkTests.aRecentRotationCountsTowardsMinInterval(method)
            try await ChangeIPLinkTests.wrongAndUnknownTokensCannotBeToldApart(method)
            try await ChangeIPLinkTests.refusesWhenTheModemIsNotReadyOrNoDaemonRuns(method)
            try await ChangeIPLinkTests.aDaemonThatDoesNotActTimesOut(method)
            try await ChangeIPLinkTests.aFailedRotationSaysSo(method)
        }
        let missing = document.declared.subtracting(document.covered).sorted()
        #expect(missing.isEmpty, "declared but never answered: \(missing)")
    }
}
