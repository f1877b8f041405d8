import Foundation
import Testing

/// `reconcile gateway daemon` as a process started the way a test runner (or any supervisor that
/// blocks signals in its threads) starts it: it must converge, follow farm.yaml, and end by itself
/// on SIGTERM with HAProxy left running (DESIGN §9: HAProxy is its own daemon).
@Suite(.serialized) struct GatewayDaemonTests {
    static let canRun = Subprocess.which("haproxy") != nil || ProcessInfo.processInfo.environment["CI"] == "true"

    @Test(.enabled(if: canRun, "needs Debian's haproxy (scripts/install-deps); runs and fails without it when CI=true"))
    func followsFarmYAMLAndStopsOnSIGTERM() throws {
        let directory = NSTemporaryDirectory() + "pf-gwdaemon-\(getpid())-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory + "/secrets", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let base = 41000 + Int(getpid() % 400) * 20
        func farm(modems: Int) -> String {
            """
            version: 1
            hosts:
              pi-1: { address: 127.0.0.1 }
            gateway:
              listen: 127.0.0.1
              ports: \(base)-\(base + 9)
              allow: [127.0.0.0/8]
              checkInterval: 1s
            api:
              listen: "0.0.0.0:\(base + 19)"
              token: { value: "a-token-of-sixteen-or-more" }
            defaults:
              apn: internet
              proxy: { users: [alice] }
            users:
              alice: { password: { value: "secret-of-alice" } }
            modems:
            """ + (1...modems).map { "\n  - { serial: \"s\($0)\", name: m0\($0), host: pi-1, ports: { http: \(base + 8 + 2 * $0), socks: \(base + 9 + 2 * $0) } }" }.joined() + "\n"
        }
        let farmFile = directory + "/farm.yaml", state = directory + "/gateway-state"
        try farm(modems: 1).write(toFile: farmFile, atomically: true, encoding: .utf8)

        let daemon = Process()
        daemon.executableURL = URL(fileURLWithPath: try Subprocess.reconcile)
        daemon.arguments = ["gateway", "daemon", "--file", farmFile, "--state", state, "--resync", "1s"]
        let log = directory + "/daemon.log"
        FileManager.default.createFile(atPath: log, contents: nil)
        daemon.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        daemon.standardError = daemon.standardOutput
        daemon.standardInput = FileHandle.nullDevice
        try daemon.run()
        var haproxy: Int32?
        defer {
            if daemon.isRunning { kill(daemon.processIdentifier, SIGKILL) }
            if let haproxy { Self.stop(haproxy) }
        }
        func modems() -> Int {
            guard let data = FileManager.default.contents(atPath: state + "/gateway.json"),
                  let json = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else { return 0 }
            return (json["modems"] as? [Any])?.count ?? 0
        }
        func logText() -> String { (try? String(contentsOfFile: log, encoding: .utf8)) ?? "" }

        try #require(Self.eventually { modems() == 1 }, "the daemon's first pass never wrote gateway.json; log:\n\(logText())")
        haproxy = FileManager.default.contents(atPath: state + "/haproxy/haproxy.pid")
            .flatMap { Int32(String(decoding: $0, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)) }
        let master = try #require(haproxy, "no haproxy.pid; log:\n\(logText())")

        try farm(modems: 2).write(toFile: farmFile, atomically: true, encoding: .utf8)
        #expect(Self.eventually { modems() == 2 }, "the daemon did not follow farm.yaml's change; log:\n\(logText())")

        kill(daemon.processIdentifier, SIGTERM)
        let killedBy = Subprocess.reap(daemon, within: .seconds(10))
        #expect(killedBy == nil, "SIGTERM did not stop the gateway daemon by itself (ended by signal \(killedBy ?? 0)); log:\n\(logText())")
        #expect(kill(master, 0) == 0, "HAProxy must outlive its reconciler")
    }

    static func eventually(_ condition: () -> Bool) -> Bool {
        let deadline = ContinuousClock.now + .seconds(20)
        while !condition() {
            guard ContinuousClock.now < deadline else { return false }
            usleep(50_000)
        }
        return true
    }

    /// HAProxy daemonized (not our child): SIGTERM and wait until it is gone.
    static func stop(_ pid: Int32) {
        kill(pid, SIGTERM)
        let deadline = ContinuousClock.now + .seconds(10)
        while kill(pid, 0) == 0 && ContinuousClock.now < deadline { usleep(20_000) }
    }
}
