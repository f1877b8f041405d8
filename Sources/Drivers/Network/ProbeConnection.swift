import Foundation
import Spec
#if canImport(Glibc)
import Glibc
#endif

/// Why a probe request did not get an answer, in the words of a status condition.
struct ProbeFailure: Error {
    var reason: String
    init(_ reason: String) { self.reason = reason }

    /// The operator's words for the errno of a failed connect, send or receive.
    init(errno code: Int32, while doing: String) {
        switch code {
        case ECONNREFUSED: reason = "connection refused"
        case ENETUNREACH: reason = "no route (network unreachable)"
        case EHOSTUNREACH: reason = "no route to host"
        case ETIMEDOUT: reason = "\(doing) timed out in the kernel"
        case ECONNRESET: reason = "connection reset"
        default: reason = "\(doing) failed: " + String(cString: strerror(code))
        }
    }
}

/// `http://host[:port][/path]`, the only kind of URL the probe speaks.
struct ProbeURL: Equatable {
    var host: String
    var port: UInt16
    var path: String

    init(_ text: String) throws(ProbeFailure) {
        guard let address = WebAddress(text), address.scheme == "http" else {
            throw ProbeFailure("unsupported probe URL \(text) (only http://host[:port]/path)")
        }
        guard let port = UInt16(exactly: address.port ?? 80), port > 0 else {
            throw ProbeFailure("probe URL \(text) has an invalid port")
        }
        host = address.host
        self.port = port
        path = address.pathAndQuery
    }
}

/// One blocking TCP exchange bounded by a deadline: connect, send, read until the server closes
/// or the response is complete. Runs on the probe's own thread; every wait is a `poll` with the
/// time left, so the whole exchange never outlasts the deadline.
struct ProbeConnection {
    let deadline: ContinuousClock.Instant
    let timeoutText: String

    /// IPv4 address of `host`: numeric, or looked up with getaddrinfo (as the probing thread, so
    /// the lookup follows the same routing as the request).
    func resolve(_ host: String) throws(ProbeFailure) -> in_addr {
        var address = in_addr()
        if inet_pton(AF_INET, host, &address) == 1 { return address }
        var hints = addrinfo()
        hints.ai_family = AF_INET
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(host, nil, &hints, &list)
        defer { if let list { freeaddrinfo(list) } }
        guard status == 0, let found = list?.pointee.ai_addr else {
            throw ProbeFailure("cannot resolve \(host): " + String(cString: gai_strerror(status)))
        }
        return found.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { $0.pointee.sin_addr }
    }

    /// Sends `request` to address:port and returns everything the server answered (up to `limit` bytes).
    func exchange(address: in_addr, port: UInt16, request: [UInt8], limit: Int = 65536) throws(ProbeFailure) -> [UInt8] {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard descriptor >= 0 else { throw ProbeFailure(errno: errno, while: "socket") }
        defer { close(descriptor) }
        try connect(descriptor, address: address, port: port)
        var sent = 0
        while sent < request.count {
            try wait(descriptor, for: Int16(POLLOUT), doing: "sending")
            let count = request[sent...].withUnsafeBytes { send(descriptor, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if count < 0, errno != EAGAIN { throw ProbeFailure(errno: errno, while: "send") }
            sent += max(count, 0)
        }
        var response: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while !HTTPProbeResponse.isComplete(response), response.count < limit {
            try wait(descriptor, for: Int16(POLLIN), doing: "waiting for the answer")
            let count = buffer.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress, $0.count, 0) }
            if count == 0 { break }
            if count < 0 {
                if errno == EAGAIN { continue }
                throw ProbeFailure(errno: errno, while: "receive")
            }
            response += buffer[..<count]
        }
        return response
    }

    private func connect(_ descriptor: Int32, address: in_addr, port: UInt16) throws(ProbeFailure) {
        var target = sockaddr_in()
        target.sin_family = sa_family_t(AF_INET)
        target.sin_port = port.bigEndian
        target.sin_addr = address
        let status = withUnsafePointer(to: &target) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        if status == 0 { return }
        guard errno == EINPROGRESS else { throw ProbeFailure(errno: errno, while: "connect") }
        try wait(descriptor, for: Int16(POLLOUT), doing: "connecting")
        var error: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        getsockopt(descriptor, SOL_SOCKET, SO_ERROR, &error, &length)
        if error != 0 { throw ProbeFailure(errno: error, while: "connect") }
    }

    /// Waits until `descriptor` is ready for `events`, or throws the timeout at the deadline.
    private func wait(_ descriptor: Int32, for events: Int16, doing: String) throws(ProbeFailure) {
        while true {
            let left = ContinuousClock.now.duration(to: deadline)
            guard left > .zero else { throw ProbeFailure("timeout after \(timeoutText) (\(doing))") }
            // Rounded up, so poll never wakes just before the deadline and spins.
            let milliseconds = left.components.seconds * 1000 + (left.components.attoseconds + 999_999_999_999_999) / 1_000_000_000_000_000
            var entry = pollfd(fd: descriptor, events: events, revents: 0)
            let ready = poll(&entry, 1, Int32(clamping: milliseconds))
            if ready > 0 { return }
            if ready < 0, errno != EINTR { throw ProbeFailure(errno: errno, while: "poll") }
        }
    }
}
