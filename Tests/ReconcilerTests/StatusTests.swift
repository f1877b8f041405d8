import Foundation
import Reconciler
import SimulatedDrivers
import Spec
import Testing

/// Status files, metrics and the audit log.
@Suite struct StatusTests {
    @Test func conditionSinceChangesOnlyWithItsStatus() async throws {
        let harness = try await Harness(spec: makeSpec(count: 2))
        try await harness.pass()
        let first = try #require(try harness.store.readModemStatus("m02"))
        let connectedSince = try #require(first.condition(.connected)?.since)
        harness.clock.advance(by: .seconds(40))
        try await harness.pass()
        let second = try #require(try harness.store.readModemStatus("m02"))
        #expect(second.condition(.connected)?.since == connectedSince)
        #expect(second.condition(.healthy)?.status == "True")
        let healthySince = try #require(second.condition(.healthy)?.since)
        await harness.farm.setHealthy(serial: serial(2), false)
        harness.clock.advance(by: .seconds(40))
        try await harness.pass()
        let third = try #require(try harness.store.readModemStatus("m02"))
        #expect(third.condition(.healthy)?.status == "False")
        #expect(third.condition(.healthy)?.since == harness.clock.now())
        #expect(third.condition(.healthy)?.since != healthySince)
        #expect(third.condition(.connected)?.since == connectedSince)
        #expect(third.phase == .degraded)
    }

    @Test func unchangedStatusFilesAreNotRewritten() async throws {
        let harness = try await Harness(spec: makeSpec(count: 2))
        try await harness.pass()
        // The second pass takes the first probes (the modems were not connected before); the third changes nothing.
        try await harness.pass()
        let path = harness.store.root + "/status/modems/m01.json"
        let old = Date(timeIntervalSince1970: 1_000_000)
        try FileManager.default.setAttributes([.modificationDate: old], ofItemAtPath: path)
        let before = try String(contentsOfFile: path, encoding: .utf8)
        try await harness.pass()
        let after = try String(contentsOfFile: path, encoding: .utf8)
        #expect(before == after)
        #expect(try FileManager.default.attributesOfItem(atPath: path)[.modificationDate] as? Date == old)
    }

    @Test func lastSuccessfulPassAndProbeFailuresAreKept() async throws {
        let harness = try await Harness(spec: makeSpec(count: 2))
        try await harness.pass()
        let success = harness.clock.now()
        #expect(try harness.store.readFarmStatus()?.lastSuccessfulPass == success)
        await harness.farm.dropSession(serial: serial(1))
        await harness.farm.inject(.fail("Boom"), on: .connect, key: serial(1))
        await harness.farm.setHealthy(serial: serial(2), false)
        harness.clock.advance(by: .seconds(40))
        try await harness.pass()
        let farm = try #require(try harness.store.readFarmStatus())
        #expect(farm.failedActions > 0)
        #expect(farm.lastSuccessfulPass == success)
        #expect(try harness.store.readModemStatus("m02")?.health.probeFailures == 1)
        let metrics = try String(contentsOfFile: harness.store.root + "/status/metrics.prom", encoding: .utf8)
        #expect(metrics.contains("proxyfarm_last_successful_pass_timestamp_seconds \(Int(success.timeIntervalSince1970))\n"))
        #expect(metrics.contains("proxyfarm_last_pass_failed_actions \(farm.failedActions)\n"))
        #expect(metrics.contains("proxyfarm_modem_health_probe_failures_total{modem=\"m02\"} 1\n"))
    }

    @Test func missingAndDisabledModemsHaveTheirPhase() async throws {
        var spec = makeSpec(count: 3)
        spec.modems[2].enabled = false
        let harness = try await Harness(spec: spec, plug: false)
        await harness.farm.plug(serial: serial(1))
        await harness.farm.plug(serial: serial(3))
        try await harness.pass()
        #expect(try harness.store.readModemStatus("m02")?.phase == .missing)
        #expect(try harness.store.readModemStatus("m02")?.condition(.present)?.status == "False")
        #expect(try harness.store.readModemStatus("m03")?.phase == .disabled)
        let farm = try #require(FileManager.default.contents(atPath: harness.store.root + "/status/farm.json"))
        let json = try #require(try JSONSerialization.jsonObject(with: farm) as? [String: Any])
        let phases = try #require(json["phases"] as? [String: Int])
        #expect(phases["Missing"] == 1 && phases["Disabled"] == 1)
        #expect(json["specRevision"] as? String == "rev1")
    }

    @Test(.enabled(if: ProcessInfo.processInfo.environment["CI"] == "true" || FileManager.default.isExecutableFile(atPath: "/usr/bin/promtool"),
                   "promtool (Debian package prometheus) is not installed; CI must have it"))
    func metricsAreValidPrometheusText() async throws {
        let harness = try await Harness(spec: makeSpec(count: 3, rotation: .every(.seconds(60))))
        try await harness.pass()
        harness.clock.advance(by: .seconds(61))
        try await harness.pass()
        let path = harness.store.root + "/status/metrics.prom"
        let text = try String(contentsOfFile: path, encoding: .utf8)
        #expect(text.contains("proxyfarm_info{revision=\"rev1\"} 1\n"))
        #expect(text.contains("proxyfarm_modem_rotations_total{modem=\"m02\"} 1\n"))
        #expect(text.contains("proxyfarm_modem_phase{modem=\"m01\",phase=\"Ready\"} 1\n"))
        let promtool = Process()
        promtool.executableURL = URL(fileURLWithPath: "/usr/bin/promtool")
        promtool.arguments = ["check", "metrics"]
        let input = Pipe()
        let output = Pipe()
        promtool.standardInput = input
        promtool.standardOutput = output
        promtool.standardError = output
        try promtool.run()
        input.fileHandleForWriting.write(Data(text.utf8))
        try input.fileHandleForWriting.close()
        promtool.waitUntilExit()
        let said = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(promtool.terminationStatus == 0, "promtool: \(said)")
        #expect(said.isEmpty, "promtool lint: \(said)")
    }

    @Test func noSecretInPlanStatusMetricsOrAuditLog() async throws {
        var spec = makeSpec(count: 3)
        spec.modems[1].pin = .env("PIN")
        var harness = try await Harness(spec: spec, plug: false)
        await harness.farm.plug(serial: serial(1))
        await harness.farm.plug(serial: serial(2), pin: TestSecrets.pin)
        await harness.farm.plug(serial: serial(3))
        let plan = try await harness.plan()
        try await harness.pass()
        harness.spec.users[1].password = .value(PlannerProxyTests.newBob)
        let change = try await harness.plan()
        #expect(change.lines.contains { $0.hasSuffix("user bob's password changed") })
        try await harness.pass()
        let audit = try String(contentsOfFile: harness.store.root + "/log/actions.jsonl", encoding: .utf8)
        #expect(audit.contains("\"reason\":\"user bob's password changed\""))
        #expect(audit.contains("\"action\":\"unlock-sim\""))
        let everything = [plan.lines.joined(separator: "\n"), change.lines.joined(separator: "\n"), String(describing: plan), harness.allStateText()]
        for text in everything {
            for secret in TestSecrets.all + [TestSecrets.pin] { #expect(!text.contains(secret), "a secret leaked") }
        }
    }
}
