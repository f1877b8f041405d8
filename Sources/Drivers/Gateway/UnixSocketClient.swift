import Foundation
import Gateway

/// One command to HAProxy's master CLI or admin socket: connect, send the line, half-close (the
/// master CLI answers only then), read to the end. Blocking, so it runs on a thread of its own.
enum UnixSocketClient {
    static let timeout = 5

    static func exchange(_ command: String, at path: String) async throws(GatewayError) -> String {
        let result: Result<String, GatewayError> = await withCheckedContinuation { continuation in
            Thread.detachNewThread { continuation.resume(returning: exchangeBlocking(command, at: path)) }
        }
        return try result.get()
    }

    private static func exchangeBlocking(_ command: String, at path: String) -> Result<String, GatewayError> {
        func failure(_ what: String) -> Result<String, GatewayError> {
            .failure(GatewayError(reason: "GatewayIOError", message: "\(what) \(path): \(String(cString: strerror(errno)))"))
        }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else {
            return .failure(GatewayError(reason: "GatewayIOError", message: "socket path too long: \(path)"))
        }
        withUnsafeMutableBytes(of: &address.sun_path) { buffer in
            for (index, byte) in bytes.enumerated() { buffer[index] = byte }
        }
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return failure("cannot create a socket for") }
        defer { close(fd) }
        var limit = timeval(tv_sec: timeout, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard connected == 0 else { return failure("cannot connect to") }
        let line = Array((command + "\n").utf8)
        guard send(fd, line, line.count, Int32(MSG_NOSIGNAL)) == line.count else { return failure("cannot send to") }
        shutdown(fd, Int32(SHUT_WR))
        var answer: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = recv(fd, &buffer, buffer.count, 0)
            if count == 0 { break }
            if count < 0 {
                if errno == EINTR { continue }
                return failure("cannot read from")
            }
            answer += buffer[0..<count]
        }
        return .success(String(decoding: answer, as: UTF8.self))
    }
}
