import Foundation
import Reconciler
import SimulatedDrivers
import Testing

/// The wall clock going back (NTP correcting a clock that ran ahead; a Raspberry Pi without a
/// real-time clock that booted with a wrong time) must not stall the farm until it catches up.
@Suite struct ClockGoneBackTests {
    @Test func rotationsAndProbesGoOnAfterTheClockWentBackADay() async throws {
        let harness = try await Harness(spec: makeSpec(count: 2) { if $0.name == "m01" { $0.rotation = .every(.seconds(600)) } })
        try await harness.pass()
        harness.clock.advance(by: .seconds(-86_400))
        let back = harness.clock.now()

        // Events remembered "in the future" are taken as happening now: no rotation at once.
        let first = try await harness.pass()
        #expect(first.converged, "\(first.remaining.lines)")
        #expect(!first.applied.contains { $0.action.description.contains("rotate") })
        #expect(try harness.store.loadMemory()[serial(1)]?.lastProbe == back)

        // A probe interval later, the modems are probed again.
        harness.clock.advance(by: .seconds(31))
        try await harness.pass()
        #expect(try harness.store.loadMemory()[serial(2)]?.lastProbe == harness.clock.now())

        // Ten minutes after the jump, m01's rotation is due again (not a day later).
        harness.clock.advance(by: .seconds(600))
        let rotated = try await harness.pass()
        #expect(rotated.applied.contains { $0.action.description.hasPrefix("m01: rotate — schedule every 10m") }, "\(rotated.applied)")
        #expect(await harness.farm.network.rules.contains(RoutingRule(priority: 101, selector: .from("100.64.1.11"), table: 101)))
    }

    @Test func aRememberedWaitIsNeverLongerThanTheBackoff() {
        let now = Date(timeIntervalSince1970: 1_800_000_000)
        let tomorrow = now.addingTimeInterval(86_400), soon = now.addingTimeInterval(20), earlier = now.addingTimeInterval(-60)
        var memory = ModemMemory(serial: "x")
        memory.connectedAt = tomorrow
        memory.lastRotation = tomorrow
        memory.lastProbe = earlier
        memory.lastReset = tomorrow
        memory.pinAttemptFailedAt = tomorrow
        memory.nextAttemptNotBefore = tomorrow
        var recovery = Recovery(since: tomorrow, failure: LaneFailure(reason: "Timeout", message: "no answer"))
        recovery.last = tomorrow
        memory.recovery = recovery

        let clocked = memory.clockedBack(to: now, longestWait: .seconds(600))
        #expect(clocked.connectedAt == now && clocked.lastRotation == now && clocked.lastReset == now && clocked.pinAttemptFailedAt == now)
        #expect(clocked.recovery?.since == now && clocked.recovery?.last == now)
        #expect(clocked.lastProbe == earlier, "a past event stays as it was")
        #expect(clocked.nextAttemptNotBefore == now.addingTimeInterval(600), "a day's wait is cut to the longest backoff")

        memory.nextAttemptNotBefore = soon
        #expect(memory.clockedBack(to: now, longestWait: .seconds(600)).nextAttemptNotBefore == soon, "an ordinary backoff stays")
        var unchanged = ModemMemory(serial: "y")
        unchanged.lastProbe = earlier
        #expect(unchanged.clockedBack(to: now, longestWait: .seconds(600)) == unchanged)
    }
}
