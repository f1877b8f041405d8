import Foundation
import Reconciler
import SimulatedDrivers
import Testing

/// packaging/prometheus/: the alert rules pass their promtool unit tests and use only metrics a
/// farm exports.
@Suite struct MonitoringTests {
    static let prometheus = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("packaging/prometheus")
    static let promtool = "/usr/bin/promtool"
    static let promtoolThere = ProcessInfo.processInfo.environment["CI"] == "true" || FileManager.default.isExecutableFile(atPath: promtool)

    @Test(.enabled(if: promtoolThere, "promtool (Debian package prometheus) is not installed; CI must have it"))
    func alertRulesPassTheirUnitTests() throws {
        let (status, said) = try Self.run(["test", "rules", "alerts-test.yml"])
        #expect(status == 0, "promtool: \(said)")
        #expect(said.contains("SUCCESS"))
    }

    /// Every `proxyfarm_…` name in the alert rules is a metric family of a simulated farm that
    /// rotated (with the same address once) and carried traffic.
    @Test func everyMetricTheAlertsUseExists() async throws {
        let harness = try await Harness(spec: makeSpec(count: 2, rotation: .every(.seconds(60))))
        await harness.farm.setStickyAddress(serial: serial(1))
        try await harness.pass()
        harness.clock.advance(by: .seconds(61))
        try await harness.pass()
        try await harness.pass()
        let metrics = try String(contentsOfFile: harness.store.root + "/status/metrics.prom", encoding: .utf8)
        let exported = Set(Self.names(in: metrics, after: "# TYPE "))
        let rules = try String(contentsOf: Self.prometheus.appendingPathComponent("alerts.yml"), encoding: .utf8)
        let used = Set(Self.names(in: rules, after: ""))
        #expect(used.count >= 4)
        #expect(used.subtracting(exported).isEmpty, "not exported: \(used.subtracting(exported).sorted())")
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
