import Foundation
import Glibc
import Testing
@testable import Drivers

/// The stand-in is only worth its tests if it has 3proxy's sharp edges (shared/docs/3proxy.md).
@Suite(.serialized) struct ProxyStandInTests {
    static func launch(_ config: String, in directory: String) throws -> Int32 {
        let path = directory + "/3proxy.cfg"
        try config.write(toFile: path, atomically: true, encoding: .utf8)
        return try ProxyTestSupport.spawnStandIn(config: path, output: directory + "/3proxy.out")
    }

    static func waitUntilListening(_ pid: Int32, _ ports: [Int]) async throws {
        for _ in 0..<250 where ProcFS.listeners(of: pid, ports: Set(ports)).count < ports.count {
            try await Task.sleep(for: .milliseconds(20))
        }
        #expect(ProcFS.listeners(of: pid, ports: Set(ports)).count == ports.count)
    }

    static func status(_ port: Int, _ user: String, _ password: String, _ target: String) throws -> String {
        try ProxyTestSupport.httpStatus(proxy: "127.0.0.1:\(port)", user: user, password: password, url: target)
    }

    /// A service copies auth and ACL when read; the implicit deny is 407, an explicit deny 403;
    /// bob's `CR` hash is `openssl passwd -1 -salt testsalt test-b` (the stand-in's own MD5-crypt);
    /// a broken reload keeps the services above the bad line but wipes the users; SIGHUP kills.
    @Test func readsTopToBottomLike3proxy() async throws {
        let directory = try ProxyTestSupport.makeStateDirectory()
        defer { ProxyTestSupport.removeDirectory(directory) }
        let (before, after, denying) = (ProxyTestSupport.freePort(), ProxyTestSupport.freePort(), ProxyTestSupport.freePort())
        let closed = "http://127.0.0.1:\(ProxyTestSupport.freePort())/"
        let config = """
            users "alice:CL:test-a" "bob:CR:$1$testsalt$j7S8CAOB5YI0tcEwBbN/h1"
            allow alice
            proxy -p\(before) -i127.0.0.1 -a
            auth strong
            proxy -p\(after) -i127.0.0.1 -a
            flush
            allow bob
            deny *
            proxy -p\(denying) -i127.0.0.1 -a

            """
        let pid = try Self.launch(config, in: directory)
        defer {
            if ProxyTestSupport.isAlive(pid) { kill(pid, SIGKILL) }
            ProxySpawner.reap(pid)
        }
        try await Self.waitUntilListening(pid, [before, after, denying])

        #expect(try Self.status(before, "alice", "test-a", closed) == "407", "read before `auth strong`")
        #expect(try Self.status(after, "alice", "test-a", closed) == "502", "allowed, then the target refused")
        #expect(try Self.status(after, "bob", "test-b", closed) == "407", "implicit deny of a non-empty ACL")
        #expect(try Self.status(denying, "alice", "test-a", closed) == "403", "explicit deny")
        #expect(try Self.status(denying, "bob", "test-b", closed) == "502")

        try "auth strong\nallow alice\nproxy -p\(after) -i127.0.0.1 -a\nusers \"alice:CL:test-a\"\nbogus\n"
            .write(toFile: directory + "/3proxy.cfg", atomically: true, encoding: .utf8)
        let listener = ProcFS.listeners(of: pid, ports: [after])[after] ?? []
        kill(pid, SIGUSR1)
        for _ in 0..<250 where (ProcFS.listeners(of: pid, ports: [after])[after] ?? listener) == listener {
            try await Task.sleep(for: .milliseconds(20))
        }
        #expect(ProcFS.listeners(of: pid, ports: [after])[after] != listener, "re-bound by the reload")
        #expect(ProcFS.listeners(of: pid, ports: [before, denying]).isEmpty, "below the bad line: gone")
        let output = try String(contentsOfFile: directory + "/3proxy.out", encoding: .utf8)
        #expect(output.contains("Unknown command: 'bogus' line 5"))
        #expect(try Self.status(after, "alice", "test-a", closed) == "407", "users wiped by the failed reload")

        kill(pid, SIGHUP)
        let status = try #require(try await ProxyTestSupport.waitForExit(pid))
        #expect(status & 0x7f == SIGHUP, "SIGHUP kills 3proxy: never a way to reload")
    }

    /// SOCKS5 handshakes byte by byte: (what the client sends, what the stand-in must answer).
    static let socksProbe = #"""
        import socket, struct, sys
        port, target = int(sys.argv[1]), int(sys.argv[2])
        def talk(*messages):
            with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
                answers = []
                for message, size in messages:
                    s.sendall(message)
                    data = b""
                    while len(data) < size:
                        chunk = s.recv(size - len(data))
                        if not chunk:
                            break
                        data += chunk
                    answers.append(data[:2].hex())
                return "/".join(answers)
        login = lambda user, pw: (bytes([1, len(user)]) + user + bytes([len(pw)]) + pw, 2)
        connect = (b"\x05\x01\x00\x01" + socket.inet_aton("127.0.0.1") + struct.pack(">H", target), 10)
        print(talk((b"\x04\x01" + struct.pack(">H", target) + socket.inet_aton("127.0.0.1") + b"x\x00", 2)))
        print(talk((b"\x05\x01\x00", 2)))
        print(talk((b"\x05\x01\x02", 2), login(b"alice", b"wrong")))
        print(talk((b"\x05\x01\x02", 2), login(b"alice", b"test-a"), connect))
        """#

    /// SOCKS4 and no-auth are refused under `auth strong`; a bad login is refused; a good one gets
    /// as far as the target (reply 5: refused). SIGTERM ends the proxy with status 0.
    @Test func socksRefusalsAndSigtermLike3proxy() async throws {
        let directory = try ProxyTestSupport.makeStateDirectory()
        defer { ProxyTestSupport.removeDirectory(directory) }
        let (socks, closed) = (ProxyTestSupport.freePort(), ProxyTestSupport.freePort())
        let pid = try Self.launch("users \"alice:CL:test-a\"\nauth strong\nsocks -p\(socks) -i127.0.0.1\n", in: directory)
        defer {
            if ProxyTestSupport.isAlive(pid) { kill(pid, SIGKILL) }
            ProxySpawner.reap(pid)
        }
        try await Self.waitUntilListening(pid, [socks])
        let answers = try ProxyTestSupport.run(NetnsLab.python, ["-c", Self.socksProbe, "\(socks)", "\(closed)"]).output
        #expect(answers.split(separator: "\n") == ["005b", "05ff", "0502/0101", "0502/0100/0505"])

        kill(pid, SIGTERM)
        let status = try #require(try await ProxyTestSupport.waitForExit(pid))
        #expect(status & 0x7f == 0 && (status >> 8) & 0xff == 0, "SIGTERM: a clean exit 0")
    }

    @Test func standInRefusesDirectivesOutsideTheSubset() throws {
        let directory = try ProxyTestSupport.makeStateDirectory()
        defer { ProxyTestSupport.removeDirectory(directory) }
        for (line, expected) in [("daemon", "Unknown command: 'daemon' line 2"), ("auth iponly", "Command: 'auth' failed"),
                                 ("users bob:CR:$1$x$y", "Parse error line 2"), ("proxy -p1 -ilo", "Command: 'proxy' failed")] {
            let path = directory + "/bad.cfg"
            try "# drift\n\(line)\n".write(toFile: path, atomically: true, encoding: .utf8)
            let process = Process()
            process.executableURL = URL(fileURLWithPath: ProxyTestSupport.standIn)
            process.arguments = [path]
            let errors = Pipe()
            process.standardError = errors
            try process.run()
            let text = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            process.waitUntilExit()
            #expect(process.terminationStatus == 0, "like 3proxy, a config error still exits 0")
            #expect(text.contains(expected), "\(line): \(text)")
        }
    }
}
