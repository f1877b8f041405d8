import Foundation
import Reconciler
import SimulatedDrivers
import Spec
import Testing

@Suite struct ConvergenceTests {
    @Test func coldFarmConvergesAndTheNextPlanIsEmpty() async throws {
        let harness = try await Harness(spec: makeSpec(count: 4))
        let first = try await harness.plan()
        #expect(first.lines.contains("m03: connect (apn internet.op, ipv4) — not connected"))
        #expect(first.lines.contains("m01: start proxy (ports 20000, 20001) — not running"))
        let result = try await harness.pass()
        #expect(result.converged, "remaining: \(result.remaining.lines) deferred: \(result.remaining.deferred)")
        #expect(result.failedActions == 0)
        #expect(try await harness.plan().isEmpty)
        let second = try await harness.pass()
        #expect(second.applied.isEmpty)
        let status = try #require(try harness.store.readModemStatus("m02"))
        #expect(status.phase == .ready || status.phase == .connecting)
        #expect(status.condition(.routed)?.status == "True")
        #expect(status.condition(.proxyServing)?.status == "True")
        #expect(status.ip == "100.64.2.10")
    }
}
