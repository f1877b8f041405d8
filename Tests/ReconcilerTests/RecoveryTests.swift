import Foundation
import Reconciler
import SimulatedDrivers
import Testing

/// A hung modem comes back without a human (issue 11): rung by rung, with pauses, visible in its
/// conditions and the action log, while its lane stays protected.
@Suite struct RecoveryTests {
    @Test func aHungModemClimbsTheLadderAndIsReadyAgainAfterReenumeration() async throws {
        let harness = try await Harness(spec: makeSpec(count: 2))
        try await harness.pass()
        await harness.farm.hang(serial: serial(1))

        let first = try await harness.pass()
        #expect(first.applied.map(\.action.kind).contains(.recover(.reopen)))
        var m01 = try #require(try harness.store.readModemStatus("m01"))
        #expect(m01.phase == .error && m01.condition(.responding)?.status == "False")
        #expect(m01.condition(.responding)?.message.contains("next: reset the modem over QMI") == true, "\(m01.conditions)")
        #expect(m01.waiting?.contains("next recovery (reset the modem over QMI) in 15s") == true, "\(m01.waiting ?? "")")
        #expect(try harness.store.readModemStatus("m02")?.phase == .ready)

        // Not yet due: nothing but waiting.
        harness.clock.advance(by: .seconds(5))
        #expect(try await harness.pass().applied.isEmpty)

        harness.clock.advance(by: .seconds(11))
        let second = try await harness.pass()
        let reset = try #require(second.applied.first { $0.action.kind == .recover(.resetQMI) })
        #expect(reset.failure?.reason == "Timeout", "a modem that does not answer does not reset itself")

        harness.clock.advance(by: .seconds(31))
        let third = try await harness.pass()
        #expect(third.applied.first?.action.kind == .recover(.reenumerate))
        #expect(third.applied.contains { $0.action.kind.name == "connect" && $0.failure == nil }, "it answers again and reconnects in the same pass")
        m01 = try #require(try harness.store.readModemStatus("m01"))
        #expect(m01.phase == .ready, "\(m01.reason ?? "") \(m01.message ?? "")")
        #expect(m01.condition(.responding)?.status == "True")
        #expect(try harness.store.loadMemory()[serial(1)]?.recovery == nil)
        #expect(await harness.farm.recoveries == ["\(serial(1)) reopen", "\(serial(1)) reenumerate"], "the QMI reset failed")
        let audit = try String(contentsOfFile: harness.store.root + "/log/actions.jsonl", encoding: .utf8)
        #expect(audit.contains("\"recover-reenumerate\""))
    }

    @Test func theLadderEndsInAPowerCycleOnlyWhereTheOperatorAllowsIt() async throws {
        let start = Date(timeIntervalSince1970: 0)
        var recovery = Recovery(since: start, failure: LaneFailure(reason: "Timeout", message: "no answer"))
        #expect(recovery.next(powerCycle: false).rung == .reopen && recovery.next(powerCycle: false).due == start)
        var rungs: [RecoveryRung] = []
        var pauses: [TimeInterval] = []
        for _ in 0..<5 {
            let (rung, due) = recovery.next(powerCycle: true)
            rungs.append(rung)
            pauses.append(due.timeIntervalSince(recovery.last ?? start))
            recovery.attempts += 1
            recovery.last = due
        }
        #expect(rungs == [.reopen, .resetQMI, .reenumerate, .powerCycle, .powerCycle])
        #expect(pauses == [0, 15, 30, 60, 120])
        #expect(recovery.next(powerCycle: false).rung == .reenumerate)
    }

    @Test func theNextRungWakesTheDaemon() async throws {
        let harness = try await Harness(spec: makeSpec(count: 1))
        try await harness.pass()
        await harness.farm.hang(serial: serial(1))
        try await harness.pass()
        let memory = try harness.store.loadMemory()
        let upcoming = UpcomingWork.of(spec: harness.spec, memory: memory, lookedAt: harness.clock.now(), timeZone: harness.timeZone)
        #expect(upcoming.next == harness.clock.now().addingTimeInterval(15))
    }
}
