import ControlAPI
import Foundation
import Reconciler
import Spec

/// A state directory with status files as the daemon writes them, and a stand-in for the daemon's
/// side of the request contract: it holds the lock (so the API sees a daemon), and `act` consumes
/// a rotate request the way a pass does — new address, rotation time and count, request removed.
final class StatusFixture: @unchecked Sendable {
    static let operatorToken = "operator-token-0123456789abcdef"
    static let linkTokens = ["m01": "link-m01-7f3a9c2e41d84b06", "m02": "link-m02-1b5d8e0c93a74f21"]
    static let allTokens = [operatorToken] + linkTokens.values

    let root: String
    private var lock: StateStore?
    let lockLock = NSLock()

    init(daemon: Bool = true) throws {
        root = NSTemporaryDirectory() + "proxyfarm-api-\(getpid())-\(UUID().uuidString.prefix(8))"
        for directory in ["status/modems", "requests", "log"] {
            try FileManager.default.createDirectory(atPath: root + "/" + directory, withIntermediateDirectories: true)
        }
        if daemon { lock = try StateStore(root: root) }
        try writeFarm()
        try writeModem("m01", phase: "Ready", ip: "100.64.1.10")
        try writeModem("m02", phase: "Missing", ip: nil)
        try "proxyfarm_converged 1\nproxyfarm_modems{phase=\"Ready\"} 1\n".write(toFile: root + "/status/metrics.prom", atomically: true, encoding: .utf8)
    }

    deinit { try? FileManager.default.removeItem(atPath: root) }

    /// The daemon stops: its lock is released.
    func stopDaemon() { lockLock.withLock { lock = nil } }

    func configuration(linkWait: Duration = .seconds(5), minInterval: Duration = .seconds(60)) -> APIConfiguration {
        APIConfiguration(listen: ListenAddress(host: "127.0.0.1", port: 0), operatorToken: Self.operatorToken,
                         links: Self.linkTokens.sorted { $0.key < $1.key }.map {
                             .init(modem: $0.key, token: $0.value, minInterval: minInterval)
                         },
                         stateDirectory: root, linkWait: linkWait)
    }

    func writeFarm() throws {
        let farm: [String: Any] = [
            "specRevision": "sha256:abc", "lastPass": "2026-11-30T03:00:00Z", "lastPassSeconds": 0.4, "converged": false,
            "modems": 2, "phases": ["Ready": 1, "Connecting": 0, "Degraded": 0, "Missing": 1, "Disabled": 0, "Error": 0],
            "unclaimedModems": [], "failedActions": 0,
        ]
        try write(farm, to: root + "/status/farm.json")
    }

    func writeModem(_ name: String, phase: String, ip: String?, rotations: Int = 0, lastRotation: Date? = nil) throws {
        let ready = phase == "Ready"
        let kinds = ["Present", "Responding", "SimReady", "Registered", "Connected", "Routed", "ProxyServing", "Healthy"]
        var modem: [String: Any] = [
            "name": name, "serial": "86000000000000\(name.suffix(1))", "enabled": true, "phase": phase,
            "conditions": kinds.map { kind -> [String: Any] in
                let fine = ready || (phase == "Error" && kind != "Connected")
                return ["type": kind, "status": fine ? "True" : (phase == "Missing" ? "Unknown" : "False"),
                        "reason": fine ? "Ok" : (phase == "Missing" ? "NotPluggedIn" : "Timeout"),
                        "message": fine ? "" : "not plugged in", "since": "2026-11-30T02:00:00Z"]
            },
            "dns": [], "uid": 20001, "table": 101, "problems": [], "specRevision": "sha256:abc",
            "rotation": ["schedule": "never", "count": rotations] as [String: Any],
            "health": ["url": "http://example.test/", "consecutiveFailures": 0, "resets": 0] as [String: Any],
            "signal": ["rsrp": -85, "rssi": -60], "operatorName": "SimNet", "radioTechnology": "lte", "httpPort": 20001, "socksPort": 20002,
        ]
        if let ip { modem["ip"] = ip }
        if ready {
            modem["traffic"] = ["receive": 1_234_567_890, "transmit": 45_600_000]
            modem["users"] = [
                ["name": "alice", "receive": 1_200_000, "transmit": 34_567],
                ["name": "bob", "receive": 996_147, "transmit": 0, "quota": "1MB per day", "quotaBytes": 1_048_576,
                 "quotaUsedBytes": 996_147, "quotaRemainingBytes": 52_429, "overQuota": false],
                ["name": "carol", "receive": 3_000_000, "transmit": 0, "quota": "2MB per day", "quotaBytes": 2_097_152,
                 "quotaUsedBytes": 2_100_000, "quotaRemainingBytes": 0, "overQuota": true],
            ]
        }
        if !ready {
            modem["reason"] = phase == "Missing" ? "NotPluggedIn" : "Timeout"
            modem["message"] = phase == "Missing" ? "not plugged in" : "the modem did not answer"
        }
        if let lastRotation {
            modem["rotation"] = ["schedule": "never", "count": rotations, "last": ISO8601DateFormatter().string(from: lastRotation)]
        }
        try write(modem, to: root + "/status/modems/\(name).json")
    }

    private func write(_ value: [String: Any], to path: String) throws {
        let data = try JSONSerialization.data(withJSONObject: value, options: [.sortedKeys])
        try AtomicFile.write(data, to: path)
    }

    var pendingRequests: [String] { ((try? FileManager.default.contentsOfDirectory(atPath: root + "/requests")) ?? []).sorted() }

    /// Plays the daemon for one rotate request of `name`: waits for it, then gives the modem `newIP`.
    func act(rotating name: String, to newIP: String?, phase: String = "Ready") async throws {
        let file = root + "/requests/rotate-" + name
        let deadline = ContinuousClock.now + .seconds(20)
        while !FileManager.default.fileExists(atPath: file) {
            guard ContinuousClock.now < deadline else { throw StateError(reason: "NoRequest", message: "no \(file) was filed within 20 s") }
            try await Task.sleep(for: .milliseconds(20))
        }
        try writeModem(name, phase: phase, ip: newIP, rotations: newIP == nil ? 0 : 1, lastRotation: newIP == nil ? nil : Date())
        try FileManager.default.removeItem(atPath: file)
    }
}
