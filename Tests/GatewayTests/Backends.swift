import Foundation

/// Stand-ins for the farm's hosts on loopback: a TCP server per modem port that greets with
/// `hello <modem>` and echoes every line (a proxy port), and `reconcile serve`'s `/healthz/<modem>`
/// (200, or 503 while `<directory>/<modem>.down` exists). One python3 process; killed by `stop`.
final class Backends: @unchecked Sendable {
    let directory: URL
    let healthPort: Int
    private let process: Process

    static let script = #"""
    import http.server, os, socket, socketserver, sys, threading
    directory, health = sys.argv[1], int(sys.argv[2])
    class Echo(socketserver.StreamRequestHandler):
        def handle(self):
            self.wfile.write(("hello %s\n" % self.server.modem).encode()); self.wfile.flush()
            for line in self.rfile:
                self.wfile.write(line); self.wfile.flush()
    class Server(socketserver.ThreadingTCPServer):
        allow_reuse_address = True
        daemon_threads = True
    for spec in sys.argv[3:]:
        modem, port = spec.split(":")
        server = Server(("127.0.0.1", int(port)), Echo); server.modem = modem
        threading.Thread(target=server.serve_forever, daemon=True).start()
    class Health(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            name = self.path.rsplit("/", 1)[-1]
            self.send_response(503 if os.path.exists(os.path.join(directory, name + ".down")) else 200)
            self.send_header("Content-Length", "0"); self.end_headers()
        def log_message(self, *args): pass
    http.server.ThreadingHTTPServer.allow_reuse_address = True
    health_server = http.server.ThreadingHTTPServer(("127.0.0.1", health), Health)
    print("ready", flush=True)
    health_server.serve_forever()
    """#

    /// `ports`: modem name → its proxy ports on this "host".
    init(healthPort: Int, ports: [(modem: String, port: Int)]) throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("pf-gw-\(getpid())-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        self.healthPort = healthPort
        process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        process.arguments = ["-c", Self.script, directory.path, String(healthPort)] + ports.map { "\($0.modem):\($0.port)" }
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        let ready = output.fileHandleForReading.availableData
        guard String(decoding: ready, as: UTF8.self).hasPrefix("ready") else { throw TestFailure("backends did not start") }
    }

    func setHealth(_ modem: String, ready: Bool) throws {
        let flag = directory.appendingPathComponent(modem + ".down")
        if ready { try? FileManager.default.removeItem(at: flag) } else { try Data().write(to: flag) }
    }

    /// SIGKILL: the test process blocks SIGTERM in its threads, and a child inherits that mask.
    func stop() {
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        try? FileManager.default.removeItem(at: directory)
    }
}

struct TestFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// A customer's TCP connection to an entry port, from `source` (a loopback address).
final class Customer {
    let fd: Int32

    init(port: Int, source: String = "127.0.0.1") throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var local = Self.address(source, 0)
        var remote = Self.address("127.0.0.1", port)
        let bound = withUnsafePointer(to: &local) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        let connected = withUnsafePointer(to: &remote) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        guard bound == 0, connected == 0 else {
            close(fd)
            throw TestFailure("connect to \(port): \(String(cString: strerror(errno)))")
        }
    }

    deinit { close(fd) }

    /// The next line from the backend, or nil when the gateway closed or reset the connection.
    func line() -> String? {
        var bytes: [UInt8] = []
        var byte: UInt8 = 0
        while recv(fd, &byte, 1, 0) == 1 {
            if byte == UInt8(ascii: "\n") { return String(decoding: bytes, as: UTF8.self) }
            bytes.append(byte)
        }
        return nil
    }

    func send(_ text: String) {
        let bytes = Array((text + "\n").utf8)
        _ = Glibc.send(fd, bytes, bytes.count, Int32(MSG_NOSIGNAL))
    }

    /// What a customer gets at `port`: the backend's greeting, or nil when refused or closed.
    static func greeting(port: Int, source: String = "127.0.0.1") -> String? {
        (try? Customer(port: port, source: source))?.line()
    }

    private static func address(_ ip: String, _ port: Int) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        inet_pton(AF_INET, ip, &address.sin_addr)
        return address
    }
}

/// Polls `condition` until it holds or `timeout` passes; returns whether it held.
func eventually(within timeout: Duration = .seconds(10), _ condition: () -> Bool) async -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if condition() { return true }
        try? await Task.sleep(for: .milliseconds(50))
    }
    return condition()
}
