import Foundation
import Reconciler
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
