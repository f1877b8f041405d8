import Foundation
@testable import Reconciler
import SimulatedDrivers
import Spec
import Testing

/// A pass that finds nothing to do writes nothing (docs/status.md "When files are written"):
/// not for a probe that succeeded again, and farm.json and metrics.prom only on their heartbeat.
@Suite struct QuietPassTests {
    /// Inode and modification time of every file under the state directory: a rename-over shows
    /// as a new inode even within one clock tick.
    static func identities(_ root: String) -> [String: String] {
        let files = FileManager.default.enumerator(atPath: root)?.compactMap { $0 as? String } ?? []
        var result: [String: String] = [:]
        for file in files where !file.hasPrefix("log/") {
            var info = stat()
            guard stat(root + "/" + file, &info) == 0, info.st_mode & S_IFMT == S_IFREG else { continue }
            result[file] = "\(info.st_ino) \(info.st_mtim.tv_sec).\(info.st_mtim.tv_nsec)"
        }
        return result
    }

    @Test func probesThatSucceedAgainWriteNoFileUntilTheHeartbeat() async throws {
        let harness = try await Harness(spec: makeSpec(count: 3))
        try await harness.pass()
        harness.clock.advance(by: .seconds(31))
        try await harness.pass()
        let before = Self.identities(harness.store.root)
        let probedBefore = try #require(try harness.store.readModemStatus("m01")?.health.lastProbe)

        harness.clock.advance(by: .seconds(31))
        let result = try await harness.pass()
        #expect(result.applied.isEmpty && result.converged)
        #expect(result.memory[serial(1)]?.lastProbe == harness.clock.now(), "the probe ran and is remembered")
        #expect(Self.identities(harness.store.root) == before, "no file written for probes that succeeded again")
        #expect(try harness.store.readModemStatus("m01")?.health.lastProbe == probedBefore)

        harness.clock.advance(by: .seconds(StateStore.statusHeartbeat))
        try await harness.pass()
        let after = Self.identities(harness.store.root)
        let rewritten = Set(after.keys.filter { after[$0] != before[$0] })
        #expect(rewritten == ["status/farm.json", "status/metrics.prom"], "only the heartbeat: \(rewritten.sorted())")
        let metrics = try String(contentsOfFile: harness.store.statusDirectory + "/metrics.prom", encoding: .utf8)
        #expect(metrics.contains("proxyfarm_modem_health_last_probe_timestamp_seconds{modem=\"m01\"} \(Int(harness.clock.now().timeIntervalSince1970))"),
                "the heartbeat carries the latest probe")
    }

    /// What counts as a change of a modem's status file, checked field by field on a real status.
    @Test func onlyVolatileFactsLeaveAStatusTheSame() async throws {
        let harness = try await Harness(spec: makeSpec(count: 1))
        try await harness.pass()
        var status = try #require(try harness.store.readModemStatus("m01"))
        let healthy = try #require(status.conditions.firstIndex { $0.type == .healthy })
        status.conditions[healthy].status = "True"
        status.conditions[healthy].message = "probe ok in 12 ms"
        status.users = [UserTraffic(name: "alice", receive: 10, transmit: 20, quota: Quota(bytes: 1000, period: .month), used: 30)]

        var volatile = status
        volatile.health.lastProbe = Date(timeIntervalSince1970: 1_000_000)
        volatile.health.lastLatencySeconds = 0.5
        volatile.signal = SignalInfo(rssi: -60)
        volatile.traffic = ByteCounts(receive: 5, transmit: 6)
        volatile.conditions[healthy].message = "probe ok in 500 ms"
        volatile.users = [UserTraffic(name: "alice", receive: 11, transmit: 21, quota: Quota(bytes: 1000, period: .month), used: 32)]
        #expect(volatile.sameBesidesVolatileFacts(as: status))
        #expect(status.sameBesidesVolatileFacts(as: volatile))

        var changes: [String: ModemStatus] = [:]
        changes["a condition's status"] = { var s = status; s.conditions[0].status = "False"; return s }()
        changes["a condition's since"] = { var s = status; s.conditions[0].since = Date(timeIntervalSince1970: 1); return s }()
        changes["the message of a failing probe"] = {
            var s = status
            s.conditions[healthy].status = "False"
            s.conditions[healthy].message = "timeout"
            return s
        }()
        changes["the phase"] = { var s = status; s.phase = .degraded; return s }()
        changes["the address"] = { var s = status; s.ip = "100.64.9.9"; return s }()
        changes["no users"] = { var s = status; s.users = nil; return s }()
        changes["another user"] = { var s = status; s.users?.append(UserTraffic(name: "bob", receive: 0, transmit: 0)); return s }()
        changes["a user over quota"] = {
            var s = status
            s.users = [UserTraffic(name: "alice", receive: 10, transmit: 20, quota: Quota(bytes: 1000, period: .month), used: 1000)]
            return s
        }()
        changes["the last failure"] = { var s = status; s.health.lastFailure = "timeout"; return s }()
        for (what, changed) in changes {
            #expect(!changed.sameBesidesVolatileFacts(as: status), "\(what) is a change")
            #expect(!status.sameBesidesVolatileFacts(as: changed), "\(what) is a change")
        }
        var failing = try #require(changes["the message of a failing probe"])
        let failingAgain = failing
        failing.conditions[healthy].message = "connection refused"
        #expect(!failing.sameBesidesVolatileFacts(as: failingAgain), "a failing probe's message is no volatile fact")
    }

    @Test func aFailingProbeIsAChangeAndIsWrittenDurably() async throws {
        let harness = try await Harness(spec: makeSpec(count: 2))
        try await harness.pass()
        harness.clock.advance(by: .seconds(31))
        try await harness.pass()
        let before = Self.identities(harness.store.root)
        await harness.farm.setHealthy(serial: serial(2), false)
        harness.clock.advance(by: .seconds(31))
        try await harness.pass()
        let after = Self.identities(harness.store.root)
        let rewritten = Set(after.keys.filter { after[$0] != before[$0] })
        #expect(rewritten == ["status/modems/m02.json", "modems/\(serial(2)).json", "status/farm.json", "status/metrics.prom"],
                "\(rewritten.sorted())")
        // A new store (a restarted daemon) reads what was written.
        let reopened = try StateStore(root: temporaryCopy(of: harness.store.root))
        #expect(try reopened.loadMemory()[serial(2)]?.consecutiveHealthFailures == 1)
    }

    private func temporaryCopy(of root: String) throws -> String {
        let copy = temporaryDirectory()
        try FileManager.default.removeItem(atPath: copy)
        try FileManager.default.copyItem(atPath: root, toPath: copy)
        try? FileManager.default.removeItem(atPath: copy + "/lock")
        return copy
    }
}
