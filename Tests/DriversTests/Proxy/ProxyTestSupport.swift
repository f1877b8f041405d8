import Foundation
import Glibc
import Reconciler
import Spec
import Testing
@testable import Drivers

/// Shared pieces of the 3proxy driver tests: the stand-in, scratch state dirs, free ports, curl.
enum ProxyTestSupport {
    static let testsDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    static let standIn = testsDirectory.deletingLastPathComponent().appendingPathComponent("Support/3proxy-standin").path
    static let goldenDirectory = testsDirectory.appendingPathComponent("Fixtures/golden")
    static let isRoot = getuid() == 0
    /// Tests that drop a proxy to another uid run as root, and in CI (CI=true) fail rather than skip.
    static let canDropPrivileges = isRoot || ProcessInfo.processInfo.environment["CI"] == "true"

    /// The uid the proxies drop to: unprivileged when we are root (3proxy refuses `setuid 0`), else our own.
    static let proxyUID: UInt32 = isRoot ? 29_000 + UInt32(getpid() % 900) : getuid()

    /// A fresh state directory, removed by the caller's `defer`.
    static func makeStateDirectory() throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("pf-proxy-\(getpid())-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        chmod(path, 0o755)
        return path
    }

    static func removeDirectory(_ path: String) {
        try? FileManager.default.removeItem(atPath: path)
    }

    /// A loopback port nobody listens on right now.
    static func freePort() -> Int {
        let (fd, port) = boundLoopbackSocket()
        close(fd)
        return port
    }

    /// A TCP socket bound to a free loopback port (not yet listening), and that port.
    static func boundLoopbackSocket() -> (fd: Int32, port: Int) {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) } }
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
        return (fd, Int(UInt16(bigEndian: address.sin_port)))
    }

    static func input(modem: String = "m01", listen: String = "127.0.0.1", http: Int?, socks: Int?,
                      users: [ProxyConfigInput.ProxyUser], allow: [CIDR] = [], logDirectory: String) -> ProxyConfigInput {
        ProxyConfigInput(modem: modem, uid: proxyUID, listen: listen, httpPort: http, socksPort: socks, users: users,
                         allow: allow, maxConnections: 50, bandwidth: Bandwidth(), dns: [], logDirectory: logDirectory)
    }

    /// Runs a program to the end; returns its exit status and stdout.
    @discardableResult
    static func run(_ executable: String, _ arguments: [String]) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        // The machine's own proxy settings (no_proxy=127.0.0.1, …) must not steer test clients.
        process.environment = ProcessInfo.processInfo.environment.filter { !$0.key.lowercased().hasSuffix("_proxy") }
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = FileHandle.nullDevice
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    /// The HTTP status a request through the HTTP proxy got ("000" when none).
    static func httpStatus(proxy: String, user: String, password: String, url: String) throws -> String {
        try run("/usr/bin/curl", ["-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "10",
                                  "-x", "http://\(proxy)", "--proxy-user", "\(user):\(password)", url]).output
    }

    static func isAlive(_ pid: Int32) -> Bool { ProcFS.isAlive(pid) }

    /// Polls `condition` every 20 ms, at most 250 times (5 s); returns whether it came true.
    @discardableResult
    static func eventually(within limit: Duration = .seconds(5), _ condition: () -> Bool) async throws -> Bool {
        for _ in 0..<Int(limit / Duration.milliseconds(20)) {
            if condition() { return true }
            try await Task.sleep(for: .milliseconds(20))
        }
        return condition()
    }

    /// Starts the stand-in directly, through the production spawner: Foundation's `Process` would
    /// hand it the test thread's blocked signal mask, and 3proxy (like the stand-in) never unblocks.
    static func spawnStandIn(config: String, output: String) throws -> Int32 {
        try ProxySpawner.spawn([standIn, config], outputPath: output)
    }

    /// Waits (bounded) for our child to end; returns its wait status, nil if it is still running.
    static func waitForExit(_ pid: Int32, timeout: Duration = .seconds(10)) async throws -> Int32? {
        let deadline = ContinuousClock.now + timeout
        var status: Int32 = 0
        while ContinuousClock.now < deadline {
            if waitpid(pid, &status, WNOHANG) == pid { return status }
            try await Task.sleep(for: .milliseconds(20))
        }
        return nil
    }
}
