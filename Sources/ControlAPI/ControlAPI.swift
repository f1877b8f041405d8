import Foundation
import Reconciler

/// The control API of DESIGN §10 without the HTTP server around it: one request in, one response
/// out. `APIServer` puts it on a socket; tests call it directly and through the socket.
public struct ControlAPI: Sendable {
    /// No endpoint takes more than a log-in form.
    public static let maximumBodySize = 1024

    let configuration: APIConfiguration
    let view: FarmView
    let link: ChangeIPLink
    let state = GuardState()

    public init(_ configuration: APIConfiguration, pollInterval: Duration = .milliseconds(250)) throws(StateError) {
        self.configuration = configuration
        view = try FarmView(stateDirectory: configuration.stateDirectory)
        link = ChangeIPLink(view: view, inbox: RequestInbox(stateDirectory: configuration.stateDirectory),
                            wait: configuration.linkWait, pollInterval: pollInterval)
    }

    public func respond(to request: APIRequest) async -> APIResponse {
        let now = Date()
        if let wait = await state.admit(request.client, now: now) { return .refusal(.tooManyRequests(wait)) }
        guard request.body.count <= Self.maximumBodySize else { return .refusal(.bodyTooLarge) }
        do {
            return try await route(request, now: now)
        } catch {
            return .refusal(error)
        }
    }

    private func route(_ request: APIRequest, now: Date) async throws(APIError) -> APIResponse {
        let path = Route(request.path)
        if path.is([""]) {
            try allow(request, ["GET"])
            return await dashboard(request, now: now)
        } else if path.is(["login"]) {
            try allow(request, ["POST"])
            return try await logIn(request, now: now)
        } else if path.is(["static", "dashboard.css"]) {
            try allow(request, ["GET"])
            return .text(DashboardAssets.css, contentType: "text/css; charset=utf-8", headers: [("Cache-Control", "no-cache")])
        } else if path.is(["static", "dashboard.js"]) {
            try allow(request, ["GET"])
            return .text(DashboardAssets.javascript, contentType: "text/javascript; charset=utf-8", headers: [("Cache-Control", "no-cache")])
        } else if path.is(["metrics"]) {
            try allow(request, ["GET"])
            return .text(try view.metrics(), contentType: "text/plain; version=0.0.4; charset=utf-8")
        } else if let name = path.capture(["healthz", "*"]).first {
            try allow(request, ["GET"])
            return try health(name)
        } else if path.is(["v1", "status"]) {
            try allow(request, ["GET"])
            try await authorize(request, now: now)
            return .json(try view.report(now: now))
        } else if let name = path.capture(["v1", "modems", "*"]).first {
            try allow(request, ["GET"])
            try await authorize(request, now: now)
            let status = try view.modem(name)
            return .json(ModemReport(status, rotationsToday: view.rotations.today(now: now)[name] ?? 0))
        } else if let (name, verb) = path.capturePair(["v1", "modems", "*", "*"]) {
            guard let kind = ModemRequest.Kind(rawValue: verb) else { throw .notFound }
            try allow(request, ["POST"])
            try await authorize(request, now: now)
            return try file(kind, name)
        } else if let token = path.capture(["v1", "link", "*"]).first {
            try allow(request, ["GET", "POST"])
            return try await changeIP(token, client: request.client, now: now)
        }
        throw .notFound
    }

    /// HEAD is a GET without the body, except on the link, whose GET rotates (a link preview's HEAD must not).
    private func allow(_ request: APIRequest, _ methods: [String]) throws(APIError) {
        guard methods.contains(request.method) || (request.method == "HEAD" && methods == ["GET"]) else {
            throw .methodNotAllowed(methods)
        }
    }

    /// The operator: `Authorization: Bearer TOKEN`, or the dashboard's session cookie. Wrong tokens
    /// count against the client's failure budget; once spent, even a right one waits.
    private func authorize(_ request: APIRequest, now: Date) async throws(APIError) {
        if let wait = await state.failureWait(request.client, now: now) { throw .tooManyRequests(wait) }
        if let header = request.headers["authorization"], header.lowercased().hasPrefix("bearer "),
           ConstantTime.equal(String(header.dropFirst("bearer ".count)).trimmingCharacters(in: .whitespaces), configuration.operatorToken) {
            return
        }
        if let session = Self.cookie(Sessions.cookieName, in: request), await state.isSession(session, now: now) { return }
        await state.recordFailure(request.client, now: now)
        throw .unauthorized
    }

    private func health(_ name: String) throws(APIError) -> APIResponse {
        let status = try view.modem(name)
        let body = ["modem": name, "phase": status.phase.rawValue]
        guard status.phase == .ready else {
            throw APIError(503, "NotReady", "\(name) is \(status.phase.rawValue)", modem: name, phase: status.phase.rawValue)
        }
        return .json(body)
    }

    private func file(_ kind: ModemRequest.Kind, _ name: String) throws(APIError) -> APIResponse {
        _ = try view.modem(name)
        do {
            let request = try ModemRequest(kind: kind, modem: name)
            try link.inbox.file(request)
        } catch {
            throw APIError(500, "RequestNotFiled", "cannot file the request in \(link.inbox.directory)", modem: name)
        }
        let daemon = view.daemon()
        let note = daemon.running ? "the daemon acts on it within seconds" : "no daemon runs: it waits for `reconcile daemon`"
        return .json(FiledRequest(modem: name, request: kind.rawValue, daemonRunning: daemon.running, message: "\(kind.rawValue) \(name) filed; \(note)"),
                     status: 202)
    }

    private func changeIP(_ token: String, client: String, now: Date) async throws(APIError) -> APIResponse {
        if let wait = await state.failureWait(client, now: now) { throw .tooManyRequests(wait) }
        guard let chosen = ConstantTime.link(token, in: configuration.links) else {
            await state.recordFailure(client, now: now)
            throw .unknownLink
        }
        let before = try link.check(chosen)
        let lastRotation = [before.rotation.last, before.health.lastReset].compactMap { $0 }.max()
        try await state.acceptLink(chosen, lastRotation: lastRotation, now: now)
        return .json(try await link.rotate(chosen, from: before, requested: now))
    }

    private func logIn(_ request: APIRequest, now: Date) async throws(APIError) -> APIResponse {
        if let wait = await state.failureWait(request.client, now: now) { throw .tooManyRequests(wait) }
        let form = String(decoding: request.body, as: UTF8.self)
        let token = form.split(separator: "&").compactMap { pair -> String? in
            let parts = pair.split(separator: "=", maxSplits: 1)
            guard parts.count == 2, parts[0] == "token" else { return nil }
            return String(parts[1]).replacingOccurrences(of: "+", with: " ").removingPercentEncoding
        }.first ?? ""
        guard ConstantTime.equal(token, configuration.operatorToken) else {
            await state.recordFailure(request.client, now: now)
            throw .unauthorized
        }
        let session = await state.openSession(now: now)
        return APIResponse(status: 303, headers: [
            ("Location", "/"),
            ("Set-Cookie", "\(Sessions.cookieName)=\(session); Path=/; HttpOnly; SameSite=Strict; Max-Age=\(Int(Sessions.lifetime))"),
        ], body: [])
    }

    private func dashboard(_ request: APIRequest, now: Date) async -> APIResponse {
        let headers = [("Content-Security-Policy", "default-src 'self'; frame-ancestors 'none'"), ("Cache-Control", "no-store")]
        guard let session = Self.cookie(Sessions.cookieName, in: request), await state.isSession(session, now: now) else {
            return .text(DashboardPage.logIn(), contentType: "text/html; charset=utf-8", headers: headers)
        }
        let report = Result { () throws(APIError) in try view.report(now: now) }
        return .text(DashboardPage.render(report, now: now), contentType: "text/html; charset=utf-8", headers: headers)
    }

    static func cookie(_ name: String, in request: APIRequest) -> String? {
        for pair in (request.headers["cookie"] ?? "").split(separator: ";") {
            let parts = pair.trimmingCharacters(in: .whitespaces).split(separator: "=", maxSplits: 1)
            if parts.count == 2, parts[0] == name { return String(parts[1]) }
        }
        return nil
    }
}

struct FiledRequest: Sendable, Encodable {
    var modem: String
    var request: String
    var daemonRunning: Bool
    var message: String
}

/// Everything the API remembers between requests.
actor GuardState {
    private var limits = RateLimits()
    private var sessions = Sessions()
    /// When each modem's link was last accepted, and links in flight.
    private var linkAccepted: [String: Date] = [:]

    func admit(_ client: String, now: Date) -> Int? { limits.admit(client, now: now) }
    func failureWait(_ client: String, now: Date) -> Int? { limits.failureWait(client, now: now) }
    func recordFailure(_ client: String, now: Date) { limits.recordFailure(client, now: now) }
    func openSession(now: Date) -> String { sessions.open(now: now) }
    func isSession(_ id: String, now: Date) -> Bool { sessions.isValid(id, now: now) }

    /// Applies `minInterval` since the modem's last rotation and the last accepted link call,
    /// and records this one (so two calls at once cannot both rotate). An accepted call counts
    /// even when its rotation fails or outlasts the wait: the daemon may still be rotating.
    func acceptLink(_ link: APIConfiguration.Link, lastRotation: Date?, now: Date) throws(APIError) {
        let last = [lastRotation, linkAccepted[link.modem]].compactMap { $0 }.max()
        let interval = TimeInterval(link.minInterval.components.seconds)
        if let last, now.timeIntervalSince(last) < interval {
            let wait = max(1, Int((interval - now.timeIntervalSince(last)).rounded(.up)))
            throw APIError(429, "TooSoon", "\(link.modem) may change its IP once every \(Int(interval))s; wait \(wait)s",
                           retryAfterSeconds: wait, modem: link.modem)
        }
        linkAccepted[link.modem] = now
    }
}

/// A request path split at `/`, matched against fixed segments and `*` (any one segment).
struct Route {
    let parts: [String]

    init(_ path: String) {
        parts = path.split(separator: "/", omittingEmptySubsequences: false).dropFirst().map(String.init)
    }

    func `is`(_ pattern: [String]) -> Bool { parts == pattern }

    /// The segments at the `*`s, or none when the path does not match.
    func capture(_ pattern: [String]) -> [String] {
        guard parts.count == pattern.count, zip(pattern, parts).allSatisfy({ $0 == "*" || $0 == $1 }) else { return [] }
        return zip(pattern, parts).filter { $0.0 == "*" }.map(\.1)
    }

    func capturePair(_ pattern: [String]) -> (String, String)? {
        let captured = capture(pattern)
        return captured.count == 2 ? (captured[0], captured[1]) : nil
    }
}
