import Foundation

/// Tells systemd how the daemon is doing (the `sd_notify` protocol) without linking libsystemd:
/// one datagram per notification to the unix socket named by `$NOTIFY_SOCKET`, a file path or,
/// with a leading `@`, an abstract socket. Without `$NOTIFY_SOCKET` (not started by systemd as
/// `Type=notify`) every call does nothing.
public struct SystemdNotifier: Sendable {
    public enum Message: Sendable, Equatable {
        /// Startup finished: sent after the first pass.
        case ready
        /// The loop is alive: sent from the loop itself, so a stuck loop gets restarted.
        case watchdog
        /// One line for `systemctl status`, e.g. `12/12 ready, next rotation m03 in 4m`.
        case status(String)
        case stopping
        case reloading

        var assignment: String {
            switch self {
            case .ready: "READY=1"
            case .watchdog: "WATCHDOG=1"
            case .status(let text): "STATUS=" + text.map { $0.isNewline ? " " : String($0) }.joined()
            case .stopping: "STOPPING=1"
            case .reloading: "RELOADING=1"
            }
        }
    }

    /// The socket address from `$NOTIFY_SOCKET`; nil when notifications are off.
    public let socketPath: String?
    /// How often the loop must send `.watchdog`: half of `$WATCHDOG_USEC`, as sd_watchdog_enabled
    /// advises; nil when systemd does not watch this process.
    public let watchdogInterval: Duration?

    public init(environment: [String: String] = ProcessInfo.processInfo.environment, pid: Int32 = getpid()) {
        let path = environment["NOTIFY_SOCKET"].flatMap { $0.isEmpty ? nil : $0 }
        socketPath = path
        watchdogInterval = Self.watchdogInterval(environment: environment, pid: pid)
    }

    public var isEnabled: Bool { socketPath != nil }

    /// Sends the messages in one datagram (systemd applies them together).
    public func notify(_ messages: Message...) throws(SystemCallError) {
        try notify(messages)
    }

    public func notify(_ messages: [Message]) throws(SystemCallError) {
        guard let socketPath, !messages.isEmpty else { return }
        let payload = Array(messages.map(\.assignment).joined(separator: "\n").utf8)
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw SystemCallError("open a socket to systemd") }
        defer { close(fd) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        var pathBytes = Array(socketPath.utf8)
        let abstract = pathBytes.first == UInt8(ascii: "@")
        if abstract { pathBytes[0] = 0 }
        let capacity = MemoryLayout.size(ofValue: address.sun_path)
        guard pathBytes.count < capacity else {
            throw SystemCallError("notify systemd at \(socketPath) (path too long)", code: ENAMETOOLONG)
        }
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: pathBytes) }
        // An abstract name is exactly its bytes; a path also carries its terminating NUL.
        let length = MemoryLayout<sa_family_t>.size + pathBytes.count + (abstract ? 0 : 1)
        let sent = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { sockaddrPointer in
                payload.withUnsafeBytes { sendto(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL), sockaddrPointer, socklen_t(length)) }
            }
        }
        guard sent == payload.count else { throw SystemCallError("notify systemd at \(socketPath)") }
    }

    /// `$WATCHDOG_USEC` applies to us only when `$WATCHDOG_PID` is unset or names this process.
    private static func watchdogInterval(environment: [String: String], pid: Int32) -> Duration? {
        guard let text = environment["WATCHDOG_USEC"], let microseconds = UInt64(text), microseconds > 0 else { return nil }
        if let watchdogPid = environment["WATCHDOG_PID"], Int32(watchdogPid) != pid { return nil }
        return .microseconds(Int64(clamping: microseconds / 2))
    }
}
