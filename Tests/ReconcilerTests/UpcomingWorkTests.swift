import Foundation
import Logging
import Reconciler
import SimulatedDrivers
import Spec
import Testing

/// When the daemon wakes by itself: the next probe, rotation or end of a backoff; never a moment
/// the pass already found due (that would spin the loop), always one that came round during it.
@Suite struct UpcomingWorkTests {
    let utc = TimeZone(identifier: "UTC") ?? .current
    let session = DataSession(clientID: 1, packetDataHandle: 1)

    func connected(_ n: Int, at time: Date, probed: Date? = nil) -> ModemMemory {
        var memory = ModemMemory(serial: serial(n))
        memory.session = session
        memory.connectedAt = time
        memory.lastProbe = probed
        return memory
    }

    @Test func theEarliestRotationAndProbeAcrossModems() {
        let spec = makeSpec(count: 2, rotation: .every(.seconds(600)))
        let memory = [serial(1): connected(1, at: epoch, probed: epoch.addingTimeInterval(100)),
                      serial(2): connected(2, at: epoch.addingTimeInterval(-300))]
        let now = epoch.addingTimeInterval(110)

        let upcoming = UpcomingWork.of(spec: spec, memory: memory, lookedAt: now, timeZone: utc)

        #expect(upcoming.nextRotation == .init(modem: "m02", due: epoch.addingTimeInterval(300)))
        #expect(upcoming.next == epoch.addingTimeInterval(130), "m01's probe: 30s after the last one")
        #expect(upcoming.wakeWithin(now: now) == .seconds(20))
    }

    @Test func timesOfDayComeRoundTomorrowOnceTodaysHavePassed() {
        let spec = makeSpec(count: 1, rotation: .at([TimeOfDay(hour: 4, minute: 0)]))
        let day = Calendar(identifier: .gregorian).dateComponents(in: utc, from: epoch)
        let fiveAM = epoch.addingTimeInterval(Double((5 - (day.hour ?? 0)) * 3600 - (day.minute ?? 0) * 60 - (day.second ?? 0)))
        let memory = [serial(1): connected(1, at: fiveAM.addingTimeInterval(-1800))]

        let upcoming = UpcomingWork.of(spec: spec, memory: memory, lookedAt: fiveAM, timeZone: utc)

        #expect(upcoming.nextRotation?.due == fiveAM.addingTimeInterval(23 * 3600))
    }

    @Test func workAlreadyDueOrNeverScheduledDoesNotWakeTheLoop() {
        var spec = makeSpec(count: 3, rotation: .every(.seconds(60)))
        spec.modems[1].rotation = .never
        // m01 and m02 are connected but not probed yet: their first probes are one interval on,
        // after the end of m01's backoff.
        spec.modems[0].health.interval = .seconds(60)
        spec.modems[1].health.interval = .seconds(60)
        spec.modems[2].enabled = false
        var backingOff = connected(1, at: epoch.addingTimeInterval(-3600))
        backingOff.nextAttemptNotBefore = epoch.addingTimeInterval(40)
        let memory = [serial(1): backingOff, serial(2): connected(2, at: epoch), serial(3): connected(3, at: epoch)]

        let upcoming = UpcomingWork.of(spec: spec, memory: memory, lookedAt: epoch, timeZone: utc)

        #expect(upcoming.nextRotation == nil, "m01's rotation is overdue (it waits for its backoff), m02 never rotates, m03 is disabled")
        #expect(upcoming.wakeWithin(now: epoch) == .seconds(40), "the end of m01's backoff")
        #expect(UpcomingWork.of(spec: spec, memory: [:], lookedAt: epoch, timeZone: utc).wakeWithin(now: epoch) == nil)
    }

    @Test func aModemConnectedButNeverProbedWakesTheLoopOneIntervalOn() {
        let spec = makeSpec(count: 1)
        let memory = [serial(1): connected(1, at: epoch)]

        let upcoming = UpcomingWork.of(spec: spec, memory: memory, lookedAt: epoch.addingTimeInterval(1), timeZone: utc)

        #expect(upcoming.next == epoch.addingTimeInterval(31), "the pass that connected it probed before it had a session")
    }

    /// The CI failure of session 7: a pass slowed by a hung modem's timeout ended just after
    /// another modem's probe came round; the probe was dropped as "already past" and the daemon
    /// slept until the periodic pass, a minute later.
    @Test func workThatFellDueWhileThePassRanWakesTheLoopAtOnce() {
        let spec = makeSpec(count: 1)
        let memory = [serial(1): connected(1, at: epoch, probed: epoch)]
        let lookedAt = epoch.addingTimeInterval(29.99), ended = epoch.addingTimeInterval(30.01)

        let upcoming = UpcomingWork.of(spec: spec, memory: memory, lookedAt: lookedAt, timeZone: utc)

        #expect(upcoming.next == epoch.addingTimeInterval(30), "the probe the pass did not see")
        #expect(upcoming.wakeWithin(now: ended) == .zero)
    }

    @Test func aPassReportsWhenItFirstLookedNotWhenItEnded() async throws {
        let harness = try await Harness(spec: makeSpec(count: 1), latency: .milliseconds(20))
        let reconciler = FarmReconciler(drivers: harness.farm.drivers(clock: SystemClock()), settings: harness.settings,
                                        logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }))
        let started = Date()
        let result = try await reconciler.apply(spec: harness.spec, store: harness.store, secrets: testSecrets, revision: "rev1").0
        let ended = Date()
        #expect(result.rounds > 0)
        #expect(started <= result.lookedAt && result.lookedAt.addingTimeInterval(0.02) <= ended,
                "the look itself asks the modems, so it began at least one driver call before the end")
    }
}
