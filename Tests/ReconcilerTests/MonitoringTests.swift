import Foundation
import Reconciler
import SimulatedDrivers
import Spec
import Testing

/// packaging/prometheus/ and packaging/grafana/: the alert rules pass their promtool unit tests,
/// and they and the dashboard use only metrics a farm exports.
@Suite struct MonitoringTests {
    static let prometheus = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("packaging/prometheus")
    static let grafana = prometheus.deletingLastPathComponent().appendingPathComponent("grafana")
    static let promtool = "/usr/bin/promtool"
    static let promtoolThere = ProcessInfo.processInfo.environment["CI"] == "true" || FileManager.default.isExecutableFile(atPath: promtool)

    @Test(.enabled(if: promtoolThere, "promtool (Debian package prometheus) is not installed; CI must have it"))
    func alertRulesPassTheirUnitTests() throws {
        let (status, said) = try Self.run(["test", "rules", "alerts-test.yml"])
        #expect(status == 0, "promtool: \(said)")
        #expect(said.contains("SUCCESS"))
    }

    @Test(.enabled(if: promtoolThere, "promtool (Debian package prometheus) is not installed; CI must have it"))
    func scrapeExampleIsAValidConfiguration() throws {
        let (status, said) = try Self.run(["check", "config", "prometheus.yml"])
        #expect(status == 0, "promtool: \(said)")
        #expect(said.contains("SUCCESS: 6 rules found"))
    }

    /// Every `proxyfarm_…` name in the alert rules and the Grafana dashboard is a metric family
    /// of a simulated farm that rotated (with the same address once) and carried traffic, with a
    /// user whose proxy counted a quota.
    @Test func everyMetricTheAlertsAndTheDashboardUseExists() async throws {
        var spec = makeSpec(count: 2, rotation: .every(.seconds(60)))
        spec.users[1].quota = Quota(bytes: 1 << 30, period: .month)
        let harness = try await Harness(spec: spec)
        await harness.farm.setStickyAddress(serial: serial(1))
        try await harness.pass()
        harness.clock.advance(by: .seconds(61))
        try await harness.pass()
        await harness.farm.writeProxyCounters(modem: "m02", records: [1: CounterRecord(bytes: 10), 6: CounterRecord(bytes: 7, cleared: epoch)],
                                              at: epoch)
        try await harness.pass()
        let metrics = try String(contentsOfFile: harness.store.root + "/status/metrics.prom", encoding: .utf8)
        let exported = Set(Self.names(in: metrics, after: "# TYPE "))
        let rules = try String(contentsOf: Self.prometheus.appendingPathComponent("alerts.yml"), encoding: .utf8)
        let alerts = Set(Self.names(in: rules, after: ""))
        #expect(alerts.count >= 4)
        #expect(alerts.subtracting(exported).isEmpty, "alerts.yml uses what is not exported: \(alerts.subtracting(exported).sorted())")
        let dashboard = try Data(contentsOf: Self.grafana.appendingPathComponent("proxyfarm.json"))
        let panels = try #require((try JSONSerialization.jsonObject(with: dashboard) as? [String: Any])?["panels"] as? [[String: Any]])
        let ids = panels.compactMap { $0["id"] as? Int }
        #expect(ids.count == panels.count && Set(ids).count == ids.count, "every panel has its own id")
        let charted = Set(Self.names(in: String(decoding: dashboard, as: UTF8.self), after: ""))
        #expect(charted.count >= 15)
        #expect(charted.subtracting(exported).isEmpty, "the dashboard uses what is not exported: \(charted.subtracting(exported).sorted())")
        // The ProxyFarmNoPass alert (3 minutes) relies on metrics.prom being rewritten this often.
        #expect(StateStore.statusHeartbeat + TimeInterval(DaemonLoop.Configuration().periodicPass.components.seconds) < 180)
    }

    /// `proxyfarm_…` identifiers that follow `prefix`.
    static func names(in text: String, after prefix: String) -> [String] {
        let pattern = try? NSRegularExpression(pattern: NSRegularExpression.escapedPattern(for: prefix) + "(proxyfarm_[a-z_]+)")
        let range = NSRange(text.startIndex..., in: text)
        return (pattern?.matches(in: text, range: range) ?? []).compactMap { match in
            Range(match.range(at: 1), in: text).map { String(text[$0]) }
        }
    }

    static func run(_ arguments: [String]) throws -> (Int32, String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: promtool)
        process.arguments = arguments
        process.currentDirectoryURL = prometheus
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        try process.run()
        let said = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return (process.terminationStatus, said)
    }
}
