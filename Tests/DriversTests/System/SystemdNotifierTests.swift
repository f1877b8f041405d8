import Drivers
import Foundation
import Testing

@Suite struct SystemdNotifierTests {
    @Test func sendsToASocketPath() async throws {
        let dir = try ScratchDirectory("notify")
        defer { dir.remove() }
        let listener = try DatagramListener(address: dir.file("notify.sock"))
        defer { listener.close() }
        let notifier = SystemdNotifier(environment: ["NOTIFY_SOCKET": dir.file("notify.sock")])

        try notifier.notify(.ready, .status("3/3 ready\nnext rotation m02 in 4m"))
        try notifier.notify(.stopping)

        #expect(try await listener.receive() == "READY=1\nSTATUS=3/3 ready next rotation m02 in 4m")
        #expect(try await listener.receive() == "STOPPING=1")
    }

    @Test func sendsToAnAbstractSocket() async throws {
        let name = "pf\(getpid())-notify-\(UUID().uuidString.prefix(8))"
        let listener = try DatagramListener(address: "@" + name)
        defer { listener.close() }
        let notifier = SystemdNotifier(environment: ["NOTIFY_SOCKET": "@" + name])

        try notifier.notify(.watchdog)
        try notifier.notify(.reloading)

        #expect(try await listener.receive() == "WATCHDOG=1")
        #expect(try await listener.receive() == "RELOADING=1")
    }

    @Test func withoutNotifySocketNothingIsSent() throws {
        let notifier = SystemdNotifier(environment: [:])
        #expect(!notifier.isEnabled)
        try notifier.notify(.ready, .watchdog)
    }

    @Test func aVanishedSocketIsAClearError() throws {
        let path = NSTemporaryDirectory() + "pf\(getpid())-missing.sock"
        let notifier = SystemdNotifier(environment: ["NOTIFY_SOCKET": path])
        let error = #expect(throws: SystemCallError.self) { try notifier.notify(.watchdog) }
        #expect(error?.message == "cannot notify systemd at \(path): No such file or directory")
    }

    @Test func watchdogIntervalIsHalfOfWatchdogUsec() {
        #expect(SystemdNotifier(environment: ["WATCHDOG_USEC": "60000000"]).watchdogInterval == .seconds(30))
        #expect(SystemdNotifier(environment: ["WATCHDOG_USEC": "60000000", "WATCHDOG_PID": "42"], pid: 42).watchdogInterval == .seconds(30))
        #expect(SystemdNotifier(environment: ["WATCHDOG_USEC": "60000000", "WATCHDOG_PID": "41"], pid: 42).watchdogInterval == nil)
        #expect(SystemdNotifier(environment: ["WATCHDOG_USEC": "soon"]).watchdogInterval == nil)
        #expect(SystemdNotifier(environment: ["WATCHDOG_USEC": "0"]).watchdogInterval == nil)
        #expect(SystemdNotifier(environment: [:]).watchdogInterval == nil)
    }
}

/// A unix datagram socket bound by the test: what systemd's notify socket is.
struct DatagramListener {
    let fd: Int32

    /// `@name` binds in the abstract namespace, as systemd may.
    init(address: String) throws {
        fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        try #require(fd >= 0)
        var timeout = timeval(tv_sec: 3, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var sockaddress = sockaddr_un()
        sockaddress.sun_family = sa_family_t(AF_UNIX)
        var bytes = Array(address.utf8)
        let abstract = bytes.first == UInt8(ascii: "@")
        if abstract { bytes[0] = 0 }
        withUnsafeMutableBytes(of: &sockaddress.sun_path) { $0.copyBytes(from: bytes) }
        let length = socklen_t(MemoryLayout<sa_family_t>.size + bytes.count + (abstract ? 0 : 1))
        let bound = withUnsafePointer(to: &sockaddress) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) }
        }
        try #require(bound == 0, "bind \(address): errno \(errno)")
    }

    /// The next datagram, within the 3 s receive timeout; waited for off the cooperative pool,
    /// since what sends it may need the pool.
    func receive() async throws -> String {
        let fd = self.fd
        let (count, buffer, error) = try await onOwnThread { () -> (Int, [UInt8], Int32) in
            var buffer = [UInt8](repeating: 0, count: 4096)
            let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            return (count, buffer, errno)
        }
        try #require(count >= 0, "nothing received: errno \(error)")
        return String(decoding: buffer.prefix(count), as: UTF8.self)
    }

    func close() {
        _ = Glibc.close(fd)
    }
}
