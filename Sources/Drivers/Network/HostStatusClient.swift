import Foundation

/// Reads another host's `GET /v1/status` (its `reconcile serve`) for `reconcile status --farm` on
/// the gateway. The same bounded exchange as the health probe, with the operator's token.
public enum HostStatusClient {
    /// The JSON body of a 200 answer, or why there is none (`connection refused`, `HTTP 401`, a timeout).
    public static func fetch(address: String, port: Int, token: String, timeout: Duration) async -> Result<Data, HostStatusError> {
        await withCheckedContinuation { continuation in
            Thread.detachNewThread {
                continuation.resume(returning: fetchOnThisThread(address: address, port: port, token: token, timeout: timeout))
            }
        }
    }

    private static func fetchOnThisThread(address: String, port: Int, token: String, timeout: Duration) -> Result<Data, HostStatusError> {
        do throws(ProbeFailure) {
            let connection = ProbeConnection(deadline: .now + timeout, timeoutText: SocketHealthProbe.seconds(timeout))
            let host = address.contains(":" as Character) ? "[\(address)]" : address
            let request = "GET /v1/status HTTP/1.1\r\nHost: \(host):\(port)\r\nAuthorization: Bearer \(token)\r\n"
                + "User-Agent: proxyfarm-status\r\nAccept: application/json\r\nConnection: close\r\n\r\n"
            let bytes = try connection.exchange(address: try connection.resolve(address), port: UInt16(clamping: port),
                                                request: Array(request.utf8), limit: 16 << 20)
            let answer = try HTTPProbeResponse(bytes)
            guard answer.status == 200 else { return .failure(HostStatusError(reason: "HTTP \(answer.status)")) }
            return .success(Data(answer.body.utf8))
        } catch {
            return .failure(HostStatusError(reason: error.reason))
        }
    }
}

public struct HostStatusError: Error, Sendable, Equatable {
    public var reason: String
}
