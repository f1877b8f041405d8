import Foundation
import Glibc
import Reconciler
import Spec
import Testing
@testable import Drivers

/// Reloads through the supervisor against the stand-in: judged from the process, its sockets and
/// its stderr (never its access lines); a failed reload told apart from a slow one.
@Suite(.serialized) struct ProxyReloadTests {
    let state: String
    let http = ProxyTestSupport.freePort()
    let socks = ProxyTestSupport.freePort()
    let closed = "http://127.0.0.1:\(ProxyTestSupport.freePort())/"

    init() throws { state = try ProxyTestSupport.makeStateDirectory() }

    func supervisor(reloadWait: Duration = .seconds(3), readinessTimeout: Duration = .seconds(5)) -> ThreeProxySupervisor {
        ThreeProxySupervisor(stateDirectory: state, binary: ProxyTestSupport.standIn, gracePeriod: .seconds(2),
                             readinessTimeout: readinessTimeout, reloadWait: reloadWait)
    }

    func config(_ password: String) -> String {
        ProxyConfigRenderer.render(ProxyTestSupport.input(
            http: http, socks: socks, users: [.init(name: "alice", credential: .clear(password), counters: CounterSlot(0))],
            logDirectory: supervisor().logDirectory(modem: "m01")))
    }

    func start(_ supervisor: ThreeProxySupervisor, password: String) async throws -> ProxyProcess {
        try await supervisor.writeConfig(modem: "m01", config: config(password), uid: ProxyTestSupport.proxyUID)
        return try await supervisor.start(modem: "m01", ports: [http, socks])
    }

    func cleanUp(_ pid: Int32) {
        kill(pid, SIGCONT)
        if ProxyTestSupport.isAlive(pid) { kill(pid, SIGKILL) }
        ProxySpawner.reap(pid)
        ProxyTestSupport.removeDirectory(state)
    }

    func status(_ password: String) throws -> String {
        try ProxyTestSupport.httpStatus(proxy: "127.0.0.1:\(http)", user: "alice", password: password, url: closed)
    }

    func observed(_ supervisor: ThreeProxySupervisor) async throws -> ProxyProcess? {
        try await supervisor.observe(ports: ["m01": [http, socks]])["m01"]?.process
    }

    func text(_ path: String) -> String { (try? String(contentsOfFile: path, encoding: .utf8)) ?? "" }

    /// A quota a reload adds counts from then on: its record's period starts before the proxy reads
    /// the config, because 3proxy resets a count it read without a start at its next write and
    /// would forgive what the user moved until then (up to a minute).
    @Test(.enabled(if: ProxyTestSupport.canDropPrivileges, "needs root to drop to another uid; CI (CI=true) fails instead of skipping"))
    func aQuotaAddedByAReloadStartsItsPeriodThen() async throws {
        let supervisor = supervisor()
        let process = try await start(supervisor, password: "test-pw-0")
        defer { cleanUp(process.pid) }
        let withQuota = ProxyConfigRenderer.render(ProxyTestSupport.input(
            http: http, socks: socks, users: [.init(name: "alice", credential: .clear("test-pw-0"), counters: CounterSlot(0),
                                                    quota: Quota(bytes: 1 << 20, period: .day))],
            logDirectory: supervisor.logDirectory(modem: "m01")))
        let before = Date(timeIntervalSince1970: Date().timeIntervalSince1970.rounded(.down))
        try await supervisor.writeConfig(modem: "m01", config: withQuota, uid: ProxyTestSupport.proxyUID)
        try await supervisor.reload(modem: "m01", pid: process.pid, ports: [http, socks])
        #expect(try status("test-pw-0") == "502", "the proxy took the config")
        let counters = try #require(try await supervisor.observe(ports: ["m01": [http, socks]])["m01"]?.counters)
        let quota = try #require(counters.records[CounterSlot(0).quota])
        #expect(quota.cleared.map { $0 >= before && $0 <= Date() } == true, "\(quota)")
        #expect(counters.records[CounterSlot(0).receive]?.cleared == nil, "a count for ever has no period")
    }

    /// The dated access log is handed to the proxy's uid after the start, so every reload reopens
    /// it: the access lines of every request land there, none on stdout, and each reload is
    /// judged a success at once.
    @Test(.enabled(if: ProxyTestSupport.canDropPrivileges, "needs root to drop to another uid; CI (CI=true) fails instead of skipping"))
    func accessLogsKeepComingAfterEveryReload() async throws {
        let supervisor = supervisor()
        let process = try await start(supervisor, password: "test-pw-0")
        defer { cleanUp(process.pid) }
        let logs = supervisor.logDirectory(modem: "m01")
        let dated = try #require(try FileManager.default.contentsOfDirectory(atPath: logs).first { $0.hasPrefix("3proxy.log.") })
        var info = stat()
        #expect(stat(logs + "/" + dated, &info) == 0 && info.st_uid == ProxyTestSupport.proxyUID, "adopted after the start")
        #expect(try status("test-pw-0") == "502")
        for round in 1...3 {
            try await supervisor.writeConfig(modem: "m01", config: config("test-pw-\(round)"), uid: ProxyTestSupport.proxyUID)
            try await supervisor.reload(modem: "m01", pid: process.pid, ports: [http, socks])
            #expect(!FileManager.default.fileExists(atPath: supervisor.reloadPath(modem: "m01")), "judged: it took")
            #expect(try status("test-pw-\(round)") == "502")
            #expect(try status("test-pw-\(round - 1)") == "407")
        }
        #expect(text(logs + "/" + dated).split(separator: "\n").count == 7)
        #expect(text(supervisor.outputPath(modem: "m01")).isEmpty)
        #expect(text(supervisor.errorPath(modem: "m01")).isEmpty)
        #expect(try await observed(supervisor)?.reloadFailure == nil)
    }

    /// Access lines on stdout (the log cannot be reopened) are no error: reloads still succeed.
    @Test func accessLinesOnStdoutAreNoReloadError() async throws {
        let supervisor = supervisor()
        var wanted = ProxyTestSupport.input(http: http, socks: socks, users: [.init(name: "alice", credential: .clear("test-pw"), counters: CounterSlot(0))],
                                            logDirectory: supervisor.logDirectory(modem: "m01"))
        try await supervisor.writeConfig(modem: "m01", config: ProxyConfigRenderer.render(wanted), uid: ProxyTestSupport.proxyUID)
        let process = try await supervisor.start(modem: "m01", ports: [http, socks])
        defer { cleanUp(process.pid) }
        // Today's log becomes a directory: 3proxy cannot reopen it at the reloads (its counter
        // file beside it stays usable), so access lines go to stdout.
        let dated = try #require(try FileManager.default.contentsOfDirectory(atPath: wanted.logDirectory).first { $0.hasPrefix("3proxy.log.") })
        try FileManager.default.removeItem(atPath: wanted.logDirectory + "/" + dated)
        try FileManager.default.createDirectory(atPath: wanted.logDirectory + "/" + dated, withIntermediateDirectories: false)
        for round in 1...2 {
            #expect(try status("test-pw") == "502")
            wanted.maxConnections += round
            try await supervisor.writeConfig(modem: "m01", config: ProxyConfigRenderer.render(wanted), uid: ProxyTestSupport.proxyUID)
            try await supervisor.reload(modem: "m01", pid: process.pid, ports: [http, socks])
        }
        #expect(try status("test-pw") == "502")
        #expect(text(supervisor.outputPath(modem: "m01")).contains("PROXY.\(http) 00012 alice"), "access lines went to stdout")
        #expect(try await observed(supervisor)?.reloadFailure == nil)
    }

    /// 3proxy's other stderr lines are no config error: a reload that printed them took. (Seen
    /// with 3proxy 1.0.0 in the lab: `printf(): Bad file descriptor` when a client thread logs
    /// while the reload reopens the log.)
    @Test func otherStderrLinesAreNoReloadError() async throws {
        let supervisor = supervisor(reloadWait: .milliseconds(200))
        let process = try await start(supervisor, password: "test-pw")
        defer { cleanUp(process.pid) }
        kill(process.pid, SIGSTOP)
        try await supervisor.writeConfig(modem: "m01", config: config("test-pw-2"), uid: ProxyTestSupport.proxyUID)
        try await supervisor.reload(modem: "m01", pid: process.pid, ports: [http, socks])
        let handle = try #require(FileHandle(forWritingAtPath: supervisor.errorPath(modem: "m01")))
        try handle.seekToEnd()
        try handle.write(contentsOf: Data("printf(): Bad file descriptor\n[line 7] Warning: current open file ulimits are too low\n".utf8))
        try handle.close()
        kill(process.pid, SIGCONT)
        for _ in 0..<250 where FileManager.default.fileExists(atPath: supervisor.reloadPath(modem: "m01")) {
            #expect(try await observed(supervisor)?.reloadFailure == nil)
            try await Task.sleep(for: .milliseconds(20))
        }
        #expect(!FileManager.default.fileExists(atPath: supervisor.reloadPath(modem: "m01")), "judged: it took")
        #expect(try status("test-pw-2") == "502")
    }

    /// A config error on stderr fails the reload at once with 3proxy's words, and the next look
    /// reports it, so the planner restarts the proxy (it runs with its users wiped).
    @Test func configErrorFailsTheReloadAndTheNextLookSaysSo() async throws {
        let supervisor = supervisor()
        let process = try await start(supervisor, password: "test-pw")
        defer { cleanUp(process.pid) }
        try await supervisor.writeConfig(modem: "m01", config: config("test-pw") + "bogus\n", uid: ProxyTestSupport.proxyUID)
        let error = await #expect(throws: ProxySupervisorError.self) {
            try await supervisor.reload(modem: "m01", pid: process.pid, ports: [http, socks])
        }
        guard case .reloadFailed(_, let why, let tail) = error else { Issue.record("unexpected \(String(describing: error))"); return }
        #expect(why == "3proxy reported a config error")
        #expect(tail.contains("Unknown command: 'bogus'"))
        #expect(error?.reason == "ProxyReloadFailed")
        let seen = try await observed(supervisor)
        #expect(seen?.pid == process.pid)
        #expect(seen?.reloadFailure?.hasPrefix("reload failed: 3proxy reported a config error: Unknown command: 'bogus'") == true)
        try await supervisor.stop(modem: "m01", pid: process.pid, keepingCounts: true)
        #expect(!FileManager.default.fileExists(atPath: supervisor.reloadPath(modem: "m01")), "the record goes with the process")
    }

    /// A proxy that has not acted on SIGUSR1 yet (held with SIGSTOP here) is slow, not failed:
    /// `reload` returns after its short wait and the next look finishes the verdict — a success
    /// once it re-binds, a failure only when it has not within the readiness timeout.
    @Test func slowReloadIsJudgedByTheNextLook() async throws {
        let supervisor = supervisor(reloadWait: .milliseconds(200), readinessTimeout: .seconds(2))
        let process = try await start(supervisor, password: "test-pw-0")
        defer { cleanUp(process.pid) }
        kill(process.pid, SIGSTOP)
        try await supervisor.writeConfig(modem: "m01", config: config("test-pw-1"), uid: ProxyTestSupport.proxyUID)
        try await supervisor.reload(modem: "m01", pid: process.pid, ports: [http, socks])
        #expect(FileManager.default.fileExists(atPath: supervisor.reloadPath(modem: "m01")), "pending")
        #expect(try await observed(supervisor)?.reloadFailure == nil, "slow is not failed")
        kill(process.pid, SIGCONT)
        for _ in 0..<250 where FileManager.default.fileExists(atPath: supervisor.reloadPath(modem: "m01")) {
            try await Task.sleep(for: .milliseconds(20))
            #expect(try await observed(supervisor)?.reloadFailure == nil)
        }
        #expect(!FileManager.default.fileExists(atPath: supervisor.reloadPath(modem: "m01")), "judged by a later look: it took")
        #expect(try status("test-pw-1") == "502")

        kill(process.pid, SIGSTOP)
        try await supervisor.writeConfig(modem: "m01", config: config("test-pw-2"), uid: ProxyTestSupport.proxyUID)
        try await supervisor.reload(modem: "m01", pid: process.pid, ports: [http, socks])
        var failure: String?
        for _ in 0..<250 where failure == nil {
            try await Task.sleep(for: .milliseconds(20))
            failure = try await observed(supervisor)?.reloadFailure
        }
        #expect(failure?.hasPrefix("reload failed: ports not re-bound") == true)
    }
}
