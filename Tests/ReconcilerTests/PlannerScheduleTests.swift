import Foundation
import Reconciler
import Spec
import Testing

/// Planner: rotation schedules, resets after health failures, backoff.
@Suite struct PlannerScheduleTests {
    @Test func rotationEveryIsDueOnceTheIntervalPassed() async throws {
        var farm = try await Converged.make(count: 2, rotation: .every(.seconds(600)))
        let start = farm.now
        farm.remember("m02") { $0.lastRotation = start; $0.connectedAt = start }
        farm.remember("m01") { $0.connectedAt = start }
        #expect(farm.plan(at: start + 599).isEmpty)
        let plan = farm.plan(at: start + 604)
        #expect(plan.lines.contains("m02: rotate — schedule every 10m, last rotation 10m4s ago"))
        #expect(plan.lines.contains("m01: rotate — schedule every 10m, connected 10m4s ago"))
        farm.remember("m02") { $0.lastRotation = start + 604 }
        #expect(!farm.plan(at: start + 700).lines.contains { $0.hasPrefix("m02: rotate") })
    }

    @Test func noRotationWhileConnecting() async throws {
        var farm = try await Converged.make(count: 1, rotation: .every(.seconds(60)))
        farm.state("m01") { $0.session = nil; $0.settings = nil }
        let plan = farm.plan(at: farm.now + 3600)
        #expect(!plan.actions.contains { $0.kind == .rotate })
        #expect(plan.actions.contains { $0.kind.name == "connect" })
    }

    @Test func rotationAtFourAcrossMidnight() throws {
        let utc = try #require(TimeZone(identifier: "UTC"))
        let rotation = Rotation.at([TimeOfDay(hour: 4, minute: 0)])
        func at(_ text: String) throws -> Date { try #require(ISO8601DateFormatter().date(from: text)) }
        var memory = ModemMemory(serial: "x")
        memory.lastRotation = try at("2026-03-09T23:59:00Z")
        // After midnight but before 04:00: the last 04:00 (yesterday's) is older than the last rotation.
        #expect(RotationSchedule.due(rotation, memory: memory, now: try at("2026-03-10T00:01:00Z"), timeZone: utc) == nil)
        #expect(RotationSchedule.due(rotation, memory: memory, now: try at("2026-03-10T03:59:59Z"), timeZone: utc) == nil)
        let due = RotationSchedule.due(rotation, memory: memory, now: try at("2026-03-10T04:00:30Z"), timeZone: utc)
        #expect(due == "schedule at 04:00, last rotation 4h1m ago")
        memory.lastRotation = try at("2026-03-10T04:00:30Z")
        #expect(RotationSchedule.due(rotation, memory: memory, now: try at("2026-03-10T23:00:00Z"), timeZone: utc) == nil)
        // A reconciler that was down over the slot catches up once, the next morning after midnight too.
        memory.lastRotation = try at("2026-03-09T03:00:00Z")
        #expect(RotationSchedule.due(rotation, memory: memory, now: try at("2026-03-10T00:30:00Z"), timeZone: utc) != nil)
    }

    @Test func rotationAtFollowsLocalTimeOverDST() throws {
        let berlin = try #require(TimeZone(identifier: "Europe/Berlin"))
        func at(_ text: String) throws -> Date { try #require(ISO8601DateFormatter().date(from: text)) }
        var memory = ModemMemory(serial: "x")
        memory.lastRotation = try at("2026-03-28T01:40:00Z")
        // 2026-03-29: clocks jump 02:00 → 03:00 CEST. 02:30 does not exist and fires at 03:00 local (01:00Z).
        let skipped = Rotation.at([TimeOfDay(hour: 2, minute: 30)])
        #expect(RotationSchedule.due(skipped, memory: memory, now: try at("2026-03-29T00:59:00Z"), timeZone: berlin) == nil)
        #expect(RotationSchedule.due(skipped, memory: memory, now: try at("2026-03-29T01:00:30Z"), timeZone: berlin) != nil)
        // 04:00 local is 02:00Z after the switch.
        let four = Rotation.at([TimeOfDay(hour: 4, minute: 0)])
        memory.lastRotation = try at("2026-03-28T03:00:10Z")
        #expect(RotationSchedule.due(four, memory: memory, now: try at("2026-03-29T01:59:00Z"), timeZone: berlin) == nil)
        #expect(RotationSchedule.due(four, memory: memory, now: try at("2026-03-29T02:00:10Z"), timeZone: berlin) != nil)
    }

    @Test func resetAfterConsecutiveHealthFailuresWithGrowingPauses() async throws {
        var farm = try await Converged.make(count: 2)
        farm.remember("m02") { $0.consecutiveHealthFailures = 2 }
        #expect(farm.plan().isEmpty)
        farm.remember("m02") { $0.consecutiveHealthFailures = 3 }
        #expect(farm.plan().lines == ["m02: reset — 3 consecutive health failures"])
        let now = farm.now
        farm.remember("m02") { $0.resetsSinceHealthy = 2; $0.lastReset = now }
        let waiting = farm.plan(at: now + 119)
        #expect(waiting.isEmpty)
        #expect(waiting.deferred["m02"]?.hasPrefix("unhealthy; next reset in 1s") == true)
        #expect(farm.plan(at: now + 120).lines == ["m02: reset — 3 consecutive health failures"])
        #expect(Backoff.resets.delay(after: 1) == .seconds(60) && Backoff.resets.delay(after: 3) == .seconds(240))
        #expect(Backoff.resets.delay(after: 30) == .seconds(3600))
    }

    @Test func backoffGrowsAndResetsAfterSuccess() async throws {
        var farm = try await Converged.make(count: 2)
        farm.state("m01") { $0.session = nil; $0.settings = nil }
        let failure = LaneFailure(reason: "Timeout", message: "connect did not finish")
        var memory = try #require(farm.memory[farm.serialOf("m01")])
        let start = farm.now
        memory = memory.recordingFailure(failure, at: start, backoff: .actions)
        #expect(memory.nextAttemptNotBefore == start + 5)
        memory = memory.recordingFailure(failure, at: start, backoff: .actions)
        #expect(memory.nextAttemptNotBefore == start + 10)
        memory = memory.recordingFailure(failure, at: start, backoff: .actions)
        #expect(memory.nextAttemptNotBefore == start + 20)
        farm.memory[farm.serialOf("m01")] = memory
        let deferred = farm.plan(at: start + 19)
        #expect(deferred.actions.allSatisfy { $0.kind.step == .network }, "only the lane's kernel side is never deferred")
        #expect(deferred.deferred["m01"] == "backing off after Timeout: next attempt in 1s")
        #expect(farm.plan(at: start + 20).actions.contains { $0.kind.name == "connect" })
        let healed = memory.recordingSuccess()
        #expect(healed.consecutiveFailures == 0 && healed.nextAttemptNotBefore == nil && healed.lastFailure == nil)
        #expect(healed.recordingFailure(failure, at: start, backoff: .actions).nextAttemptNotBefore == start + 5)
    }
}
