import Foundation
import Glibc
import Reconciler
import Testing
@testable import Drivers

/// The supervisor against real processes: the 3proxy stand-in on loopback, free ports.
/// Auth is checked with a request to a closed loopback port: 502 means the proxy let us through
/// and tried, 407 means it did not.
@Suite(.serialized) struct ProxySupervisionTests {
    let state: String
    let supervisor: ThreeProxySupervisor
    let http = ProxyTestSupport.freePort()
    let socks = ProxyTestSupport.freePort()
    let closed = "http://127.0.0.1:\(ProxyTestSupport.freePort())/"

    init() throws {
        state = try ProxyTestSupport.makeStateDirectory()
        supervisor = ThreeProxySupervisor(stateDirectory: state, binary: ProxyTestSupport.standIn,
                                          gracePeriod: .seconds(2), readinessTimeout: .seconds(5))
    }

    func config(password: String) -> String {
        ProxyConfigRenderer.render(ProxyTestSupport.input(
            http: http, socks: socks, users: [.init(name: "alice", credential: .clear(password), counters: CounterSlot(0))],
            logDirectory: supervisor.logDirectory(modem: "m01")))
    }

    func cleanUp(_ pids: [Int32]) {
        for pid in pids where ProxyTestSupport.isAlive(pid) { kill(pid, SIGKILL) }
        ProxyTestSupport.removeDirectory(state)
    }

    /// 3proxy writes its counter file at a reload, and at exit only when the minute changed since
    /// its last write: a stop makes it write first, so the bytes of the last minute are counted.
    @Test func aStopKeepsTheLastCounts() async throws {
        let site = try ProxyTestSupport.makeStateDirectory()
        try Data(count: 300_000).write(to: URL(fileURLWithPath: site + "/file"))
        let port = ProxyTestSupport.freePort()
        let server = try ProxySpawner.spawn(["/usr/bin/env", "python3", "-m", "http.server", String(port), "--bind", "127.0.0.1",
                                             "--directory", site], outputPath: "/dev/null")
        defer {
            kill(server, SIGTERM)
            ProxySpawner.reap(server)
            ProxyTestSupport.removeDirectory(site)
        }
        try await supervisor.writeConfig(modem: "m01", config: config(password: "test-pw-one"), uid: ProxyTestSupport.proxyUID)
        let process = try await supervisor.start(modem: "m01", ports: [http, socks])
        defer { cleanUp([process.pid]) }
        // 3proxy writes when the minute differs from the file header's (0 for a new file): its first
        // write comes within a second of its start — or, in the first minute of an hour, at the next
        // minute. After it, the next is due only when the minute changes again (or at a reload), so
        // the download below is written by the stop.
        let counterFile = supervisor.counterPath(modem: "m01")
        #expect(try await ProxyTestSupport.eventually(within: .seconds(65)) {
            ((try? FileManager.default.attributesOfItem(atPath: counterFile)[.size]) as? Int ?? 0) > 0
        })
        var status = ""
        for _ in 0..<50 where status != "200" {  // until the server listens
            status = try ProxyTestSupport.httpStatus(proxy: "127.0.0.1:\(http)", user: "alice", password: "test-pw-one",
                                                     url: "http://127.0.0.1:\(port)/file")
            if status != "200" { usleep(100_000) }
        }
        try #require(status == "200", "the download through the proxy")
        try await supervisor.stop(modem: "m01", pid: process.pid, keepingCounts: true)
        let counters = try #require(try await supervisor.observe(ports: ["m01": [http, socks]])["m01"]?.counters)
        #expect((counters.records[CounterSlot(0).receive]?.bytes ?? 0) >= 300_000, "\(counters)")
    }

    @Test func startObserveReloadStop() async throws {
        try await supervisor.writeConfig(modem: "m01", config: config(password: "test-pw-one"), uid: ProxyTestSupport.proxyUID)
        let process = try await supervisor.start(modem: "m01", ports: [http, socks])
        defer { cleanUp([process.pid]) }
        #expect(process.listening)

        let seen = try #require(try await supervisor.observe(ports: ["m01": [http, socks]])["m01"])
        #expect(seen.process == ProxyProcess(pid: process.pid, configPath: supervisor.configPath(modem: "m01"), listening: true))
        #expect(seen.config == config(password: "test-pw-one"))
        #expect(seen.strays.isEmpty)
        #expect(ProcFS.realUID(process.pid) == ProxyTestSupport.proxyUID, "privileges dropped after the listeners opened")
        #expect(try ProxyTestSupport.httpStatus(proxy: "127.0.0.1:\(http)", user: "alice", password: "test-pw-one", url: closed) == "502")
        #expect(try ProxyTestSupport.httpStatus(proxy: "127.0.0.1:\(http)", user: "alice", password: "wrong", url: closed) == "407")

        try await supervisor.writeConfig(modem: "m01", config: config(password: "test-pw-two"), uid: ProxyTestSupport.proxyUID)
        try await supervisor.reload(modem: "m01", pid: process.pid, ports: [http, socks])
        let reloaded = try await supervisor.observe(ports: ["m01": [http, socks]])["m01"]?.process
        #expect(reloaded?.pid == process.pid)
        #expect(reloaded?.listening == true)
        #expect(try ProxyTestSupport.httpStatus(proxy: "127.0.0.1:\(http)", user: "alice", password: "test-pw-one", url: closed) == "407")
        #expect(try ProxyTestSupport.httpStatus(proxy: "127.0.0.1:\(http)", user: "alice", password: "test-pw-two", url: closed) == "502")

        try await supervisor.stop(modem: "m01", pid: process.pid, keepingCounts: true)
        #expect(!ProxyTestSupport.isAlive(process.pid))
        #expect(!FileManager.default.fileExists(atPath: supervisor.pidPath(modem: "m01")))
        #expect(try await supervisor.observe(ports: ["m01": [http, socks]])["m01"]?.process == nil)
    }

    @Test func crashIsDetectedAndAStartWorks() async throws {
        try await supervisor.writeConfig(modem: "m01", config: config(password: "test-pw"), uid: ProxyTestSupport.proxyUID)
        let first = try await supervisor.start(modem: "m01", ports: [http, socks])
        kill(first.pid, SIGKILL)
        var observed = try await supervisor.observe(ports: ["m01": [http, socks]])["m01"]
        for _ in 0..<50 where observed?.process != nil {
            try await Task.sleep(for: .milliseconds(20))
            observed = try await supervisor.observe(ports: ["m01": [http, socks]])["m01"]
        }
        #expect(observed?.process == nil)
        #expect(observed?.strays == [])
        #expect(!FileManager.default.fileExists(atPath: supervisor.pidPath(modem: "m01")), "the stale record is dropped")

        let second = try await supervisor.start(modem: "m01", ports: [http, socks])
        defer { cleanUp([first.pid, second.pid]) }
        #expect(second.pid != first.pid)
        #expect(try await supervisor.observe(ports: ["m01": [http, socks]])["m01"]?.process?.listening == true)
        try await supervisor.stop(modem: "m01", pid: second.pid, keepingCounts: true)
    }

    @Test func strayOnOurPortIsReportedAndBlocksAStart() async throws {
        try await supervisor.writeConfig(modem: "m01", config: config(password: "test-pw"), uid: ProxyTestSupport.proxyUID)
        let ours = try await supervisor.start(modem: "m01", ports: [http, socks])
        let strayPID = try ProxyTestSupport.spawnStandIn(config: supervisor.configPath(modem: "m01"), output: state + "/stray.out")
        defer { cleanUp([ours.pid, strayPID]) }

        var strays: [Int32] = []
        for _ in 0..<250 where strays.isEmpty {
            try await Task.sleep(for: .milliseconds(20))
            strays = try await supervisor.observe(ports: ["m01": [http, socks]])["m01"]?.strays ?? []
        }
        #expect(strays == [strayPID])

        try await supervisor.stop(modem: "m01", pid: ours.pid, keepingCounts: true)
        let busy = await #expect(throws: ProxySupervisorError.self) { try await supervisor.start(modem: "m01", ports: [http, socks]) }
        #expect(busy?.reason == "ProxyPortInUse")
        #expect(busy?.message.contains("\(strayPID)") == true)
        try await supervisor.stop(modem: "m01", pid: strayPID, keepingCounts: true)
        #expect(!ProxyTestSupport.isAlive(strayPID))
        #expect(try await supervisor.observe(ports: ["m01": [http, socks]])["m01"]?.strays == [])
    }

    @Test func missingBinaryIsATypedOperatorError() async throws {
        defer { cleanUp([]) }
        for binary in ["3proxy-not-installed-\(getpid())", state + "/no/such/3proxy"] {
            let missing = ThreeProxySupervisor(stateDirectory: state, binary: binary)
            try await missing.writeConfig(modem: "m01", config: config(password: "test-pw"), uid: ProxyTestSupport.proxyUID)
            let error = await #expect(throws: ProxySupervisorError.self) { try await missing.start(modem: "m01", ports: [http]) }
            #expect(error == .binaryMissing(binary: binary))
            #expect(error?.reason == "ProxyBinaryMissing")
            #expect(error?.message.contains("install 3proxy") == true)
        }
    }

    /// 3proxy exits 0 on a config error: the start fails with what it printed.
    @Test func configErrorFailsTheStartWithStderr() async throws {
        defer { cleanUp([]) }
        try await supervisor.writeConfig(modem: "m01", config: config(password: "test-pw") + "monitor /etc/passwd\n",
                                         uid: ProxyTestSupport.proxyUID)
        let error = await #expect(throws: ProxySupervisorError.self) { try await supervisor.start(modem: "m01", ports: [http, socks]) }
        guard case .notListening(_, _, let exited, let tail) = error else { Issue.record("unexpected \(String(describing: error))"); return }
        #expect(exited)
        #expect(tail.contains("Unknown command: 'monitor'"))
        #expect(!FileManager.default.fileExists(atPath: supervisor.pidPath(modem: "m01")))
    }

    @Test func unchangedConfigIsNotRewritten() async throws {
        defer { cleanUp([]) }
        try await supervisor.writeConfig(modem: "m01", config: config(password: "test-pw"), uid: ProxyTestSupport.proxyUID)
        var before = stat()
        stat(supervisor.configPath(modem: "m01"), &before)
        #expect(before.st_mode & 0o7777 == 0o600)
        #expect(before.st_uid == ProxyTestSupport.proxyUID)
        try await supervisor.writeConfig(modem: "m01", config: config(password: "test-pw"), uid: ProxyTestSupport.proxyUID)
        var after = stat()
        stat(supervisor.configPath(modem: "m01"), &after)
        #expect(after.st_ino == before.st_ino, "same bytes: no new file")
        try await supervisor.writeConfig(modem: "m01", config: config(password: "test-pw-new"), uid: ProxyTestSupport.proxyUID)
        stat(supervisor.configPath(modem: "m01"), &after)
        #expect(after.st_ino != before.st_ino, "new bytes: renamed into place")
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: state + "/proxies").filter { $0.hasPrefix(".") }
        #expect(leftovers.isEmpty)
    }

    /// A pid record pointing at somebody else's process is dropped, and that process is never signalled.
    @Test func stalePidRecordIsIgnoredNeverKilled() async throws {
        defer { cleanUp([]) }
        try await supervisor.writeConfig(modem: "m01", config: config(password: "test-pw"), uid: ProxyTestSupport.proxyUID)
        try "\(getpid())\n".write(toFile: supervisor.pidPath(modem: "m01"), atomically: true, encoding: .utf8)
        #expect(try await supervisor.observe(ports: ["m01": [http]])["m01"]?.process == nil)
        #expect(!FileManager.default.fileExists(atPath: supervisor.pidPath(modem: "m01")))
        await #expect(throws: ProxySupervisorError.notOurProcess(modem: "m01", pid: getpid())) {
            try await supervisor.stop(modem: "m01", pid: getpid(), keepingCounts: true)
        }
        await #expect(throws: ProxySupervisorError.notOurProcess(modem: "m01", pid: getpid())) {
            try await supervisor.reload(modem: "m01", pid: getpid(), ports: [http])
        }
    }
}
