import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import Synchronization

/// `ControlAPI` on a socket, served by Hummingbird. Routing, limits and answers are all the
/// API's; this only translates requests and responses.
public struct APIServer: Sendable {
    let api: ControlAPI
    let logger: Logger
    static let maximumConnections = 256

    public init(api: ControlAPI, logger: Logger) {
        self.api = api
        self.logger = logger
    }

    /// Serves until the task is cancelled (the caller owns the signals); `onListening` gets the bound port.
    public func run(onListening: @escaping @Sendable (Int) async -> Void = { _ in }) async throws {
        let listening = Mutex(false)
        do {
            try await serve { port in
                listening.withLock { $0 = true }
                await onListening(port)
            }
        } catch where !listening.withLock({ $0 }) {
            throw APIServerError.cannotListen(api.configuration.listen.description, String(describing: error))
        }
    }

    private func serve(onListening: @escaping @Sendable (Int) async -> Void) async throws {
        let responder = Responder(api: api)
        let app = Application(
            responder: responder,
            // Idle connections close after a minute; at most 256 connections at once (the dashboard polls every 2 s).
            server: .http1(configuration: .init(idleTimeout: .seconds(60))),
            configuration: ApplicationConfiguration(address: .hostname(api.configuration.listen.host, port: api.configuration.listen.port),
                                                    serverName: "proxyfarm",
                                                    availableConnectionsDelegate: MaximumAvailableConnections(Self.maximumConnections)),
            onServerRunning: { channel in await onListening(channel.localAddress?.port ?? 0) },
            logger: logger)
        try await app.runService(gracefulShutdownSignals: [])
    }

    struct Context: RequestContext {
        var coreContext: CoreRequestContextStorage
        let client: String

        init(source: ApplicationRequestContextSource) {
            coreContext = .init(source: source)
            client = source.channel.remoteAddress?.ipAddress ?? "unknown"
        }
    }

    struct Responder: HTTPResponder {
        let api: ControlAPI

        func respond(to request: Request, context: Context) async throws -> Response {
            var headers: [String: String] = [:]
            for field in request.headers {
                let name = field.name.canonicalName
                headers[name] = headers[name].map { $0 + (name == "cookie" ? "; " : ", ") + field.value } ?? field.value
            }
            var body: [UInt8] = []
            let limit = ControlAPI.maximumBodySize
            if let length = headers["content-length"].flatMap(Int.init), length > limit {
                body = [UInt8](repeating: 0, count: limit + 1)
            } else {
                for try await buffer in request.body {
                    body += buffer.readableBytesView.prefix(limit + 1 - body.count)
                    if body.count > limit { break }
                }
            }
            let answer = await api.respond(to: APIRequest(method: request.method.rawValue, path: request.uri.path, headers: headers,
                                                          body: body, client: context.client))
            var fields = HTTPFields()
            for (name, value) in answer.headers + [("X-Content-Type-Options", "nosniff")] {
                if let field = HTTPField.Name(name) { fields.append(HTTPField(name: field, value: value)) }
            }
            let bytes = request.method == .head ? [] : answer.body
            return Response(status: .init(code: answer.status), headers: fields,
                            body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
        }
    }
}

public enum APIServerError: Error, CustomStringConvertible {
    /// The address is taken, not this host's, or needs privileges serve does not have.
    case cannotListen(String, String)

    public var description: String {
        switch self {
        case .cannotListen(let address, let why): "cannot listen on \(address) (api.listen): \(why)"
        }
    }
}
