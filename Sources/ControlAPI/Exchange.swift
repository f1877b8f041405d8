import Foundation
import Reconciler

/// One HTTP request as the control API sees it: the server adapter fills it in, tests build it
/// directly. Header names are lower case; the body has already been cut at the size limit.
public struct APIRequest: Sendable {
    public var method: String
    /// The path without the query string, percent-encoding kept.
    public var path: String
    public var headers: [String: String]
    public var body: [UInt8]
    /// Who asks (the peer's IP address): the key of the rate limits.
    public var client: String

    public init(method: String, path: String, headers: [String: String] = [:], body: [UInt8] = [], client: String = "local") {
        self.method = method
        self.path = path
        self.headers = Dictionary(headers.map { ($0.key.lowercased(), $0.value) }, uniquingKeysWith: { _, last in last })
        self.body = body
        self.client = client
    }
}

/// One HTTP response. Every refusal carries a JSON `APIError` body.
public struct APIResponse: Sendable {
    public var status: Int
    public var headers: [(String, String)]
    public var body: [UInt8]

    public init(status: Int, headers: [(String, String)], body: [UInt8]) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    public func header(_ name: String) -> String? { headers.first { $0.0.lowercased() == name.lowercased() }?.1 }

    static func json(_ value: some Encodable, status: Int = 200, headers: [(String, String)] = []) -> APIResponse {
        let body = (try? JSONCoding.encoder.encode(value)).map { Array($0) + [UInt8(ascii: "\n")] } ?? Array("{}\n".utf8)
        // Answers are live state (and link URLs hold a token): nothing may keep them.
        return APIResponse(status: status, headers: [("Content-Type", "application/json"), ("Cache-Control", "no-store"),
                                                     ("Referrer-Policy", "no-referrer")] + headers, body: body)
    }

    static func text(_ text: String, contentType: String, status: Int = 200, headers: [(String, String)] = []) -> APIResponse {
        APIResponse(status: status, headers: [("Content-Type", contentType)] + headers, body: Array(text.utf8))
    }

    static func refusal(_ error: APIError) -> APIResponse {
        var headers: [(String, String)] = []
        if let seconds = error.retryAfterSeconds { headers.append(("Retry-After", String(seconds))) }
        if error.status == 401 { headers.append(("WWW-Authenticate", "Bearer realm=\"proxyfarm\"")) }
        if let allowed = error.allowedMethods { headers.append(("Allow", allowed)) }
        return json(error, status: error.status, headers: headers)
    }
}

/// The body of every refusal: `{"error": "TooSoon", "message": "…", "retryAfterSeconds": 42}`.
/// `error` is a stable CamelCase code (docs/api/openapi.yaml lists them); nothing here is ever a secret.
public struct APIError: Error, Sendable, Encodable, Equatable {
    public var status: Int
    public var error: String
    public var message: String
    public var retryAfterSeconds: Int?
    public var modem: String?
    public var phase: String?
    var allowedMethods: String?

    enum CodingKeys: String, CodingKey {
        case error, message, retryAfterSeconds, modem, phase
    }

    init(_ status: Int, _ error: String, _ message: String, retryAfterSeconds: Int? = nil, modem: String? = nil, phase: String? = nil,
         allowedMethods: String? = nil) {
        self.status = status
        self.error = error
        self.message = message
        self.retryAfterSeconds = retryAfterSeconds
        self.modem = modem
        self.phase = phase
        self.allowedMethods = allowedMethods
    }

    static let notFound = APIError(404, "NotFound", "no such endpoint; see docs/api/openapi.yaml")
    static let unauthorized = APIError(401, "Unauthorized", "send the operator's token as `Authorization: Bearer TOKEN` (api.token in farm.yaml)")
    /// The one answer for a link token that is wrong and for one that never existed.
    static let unknownLink = APIError(404, "UnknownLink", "this change-IP link is not valid; ask the farm's operator for yours")
    static let bodyTooLarge = APIError(413, "BodyTooLarge", "the request body is larger than \(ControlAPI.maximumBodySize) bytes")

    static func methodNotAllowed(_ allowed: [String]) -> APIError {
        APIError(405, "MethodNotAllowed", "use \(allowed.joined(separator: " or "))", allowedMethods: allowed.joined(separator: ", "))
    }

    static func tooManyRequests(_ seconds: Int) -> APIError {
        APIError(429, "TooManyRequests", "too many requests from this address; try again in \(seconds)s", retryAfterSeconds: seconds)
    }

    static func unknownModem(_ name: String) -> APIError {
        APIError(404, "UnknownModem", "no modem named '\(name)' has a status file", modem: ModemRequest.isValidModemName(name) ? name : nil)
    }
}

enum JSONCoding {
    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        return encoder
    }()
}
