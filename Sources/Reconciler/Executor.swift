import Foundation
import Logging

/// How one lane (modem) fared in a pass.
public struct LaneOutcome: Sendable, Equatable {
    public var modem: String
    public var applied: Int = 0
    public var failure: LaneFailure?
    public var failedStep: ActionKind.Step?
    public init(modem: String) { self.modem = modem }
}

/// One applied action and how it ended (nil failure = ok).
public struct AppliedAction: Sendable, Equatable {
    public var action: PlannedAction
    public var failure: LaneFailure?
}

public struct PassResult: Sendable {
    public var rounds: Int
    public var applied: [AppliedAction]
    /// Every lane that had actions, by modem name.
    public var outcomes: [String: LaneOutcome]
    /// What is still planned after the pass (empty when converged), with deferred modems.
    public var remaining: Plan
    public var observed: ObservedFarm
    public var memory: [String: ModemMemory]
    /// When the pass first looked (and chose the probes due): work falling due after it, even
    /// before the pass ended, is work the pass did not see (`UpcomingWork`).
    public var lookedAt: Date
    /// Operator requests an applied action answered (their files may go).
    public var answeredRequests: Set<ModemRequest> = []
    /// The pass was cancelled (SIGTERM) between actions: `observed` and `remaining` are from
    /// before its last round, so they say nothing about the farm now.
    public var interrupted = false

    public var failedActions: Int { applied.filter { $0.failure != nil }.count }
    public var converged: Bool { remaining.isEmpty && remaining.deferred.isEmpty && failedActions == 0 }
}

/// Applies plans: a pass is rounds of observe → plan → apply until nothing is left to do or a
/// round makes no progress, because later steps need earlier results (an address exists only
/// after connect). Within a round, modem-control steps run per lane (at most `batch` lanes at a
/// time), then all network changes in one batch that is verified by looking again, then proxy
/// steps per lane. A lane that fails skips its later steps; other lanes go on.
public struct Executor: Sendable {
    public var drivers: DriverSet
    public var settings: ExecutorSettings
    public var store: StateStore?
    public var logger: Logger
    /// Called after every finished action: the daemon feeds its watchdog from it.
    public var progress: @Sendable () -> Void

    public init(drivers: DriverSet, settings: ExecutorSettings = ExecutorSettings(), store: StateStore?,
                logger: Logger = Logger(label: "proxyfarm.reconciler"), progress: @escaping @Sendable () -> Void = {}) {
        self.drivers = drivers
        self.settings = settings
        self.store = store
        self.logger = logger
        self.progress = progress
    }

    var observer: Observer { Observer(drivers: drivers, settings: settings) }

    /// Looks and plans without changing anything (the dry run).
    public func plan(_ desired: DesiredFarm, memory: [String: ModemMemory], extraProxies: Set<String>,
                     requests: Set<ModemRequest> = []) async throws(LaneFailure) -> (Plan, ObservedFarm) {
        let now = drivers.clock.now()
        let memory = clockedBack(memory, to: now)
        var observed = try await observer.observe(desired, memory: memory, extraProxies: extraProxies, probing: false, now: now)
        observed.requests = requests
        let seen = remember(observed, desired, memory, now: now)
        return (Planner.plan(desired: desired, observed: observed, memory: seen, now: now), observed)
    }

    /// One pass. Each of `requests` is acted on at most once (its modem's reset, rotation or PIN retry).
    /// Cancellation stops it between actions: the action in flight finishes, no other starts.
    public func pass(_ desired: DesiredFarm, memory initial: [String: ModemMemory], extraProxies: Set<String>,
                     requests: Set<ModemRequest> = []) async throws(LaneFailure) -> PassResult {
        var requests = requests
        var answered: Set<ModemRequest> = []
        let lookedAt = drivers.clock.now()
        var memory = clockedBack(initial, to: lookedAt)
        var applied: [AppliedAction] = []
        var outcomes: [String: LaneOutcome] = [:]
        var rounds = 0
        var observed = ObservedFarm()
        var plan = Plan()
        var fresh = false
        var unanswered: [String: LaneFailure] = [:]
        // A memory file that cannot be written (a full disk) fails the pass, but only at its end:
        // the lanes' next steps (a rotated modem's new routes) still run meanwhile.
        var unsaved: LaneFailure?
        while true {
            let now = rounds == 0 ? lookedAt : drivers.clock.now()
            observed = try await observer.observe(desired, memory: memory, extraProxies: extraProxies, probing: rounds == 0, now: now,
                                                  unanswered: unanswered)
            for look in observed.modems.values where look.state == nil {
                if let failure = look.failure { unanswered[look.plugged.usbPath] = failure }
            }
            observed.requests = requests
            memory = remember(observed, desired, memory, now: now)
            plan = Planner.plan(desired: desired, observed: observed, memory: memory, now: now)
            fresh = true
            guard !plan.isEmpty, rounds < settings.maxRounds else { break }
            rounds += 1
            let round = await apply(plan, desired: desired, observed: observed, memory: memory)
            memory = round.memory
            applied += round.applied
            for (name, outcome) in round.outcomes { outcomes[name] = merged(outcomes[name], outcome) }
            // A modem a recovery rung was tried on is asked again.
            for entry in round.applied {
                guard case .recover = entry.action.kind, let name = entry.action.modem, let path = observed.modems[name]?.plugged.usbPath else { continue }
                unanswered[path] = nil
            }
            let acted = requests.filter { request in round.applied.contains { request.isAnswered(by: $0.action) } }
            answered.formUnion(acted)
            requests.subtract(acted)
            unsaved = unsaved ?? persist(memory, previous: initial)
            fresh = false
            guard round.applied.contains(where: { $0.failure == nil }), !Task.isCancelled else { break }
        }
        if Task.isCancelled {
            return PassResult(rounds: rounds, applied: applied, outcomes: outcomes, remaining: plan, observed: observed, memory: memory,
                              lookedAt: lookedAt, answeredRequests: answered, interrupted: true)
        }
        if !fresh {
            let now = drivers.clock.now()
            observed = try await observer.observe(desired, memory: memory, extraProxies: extraProxies, probing: false, now: now,
                                                  unanswered: unanswered)
            memory = remember(observed, desired, memory, now: now)
            plan = Planner.plan(desired: desired, observed: observed, memory: memory, now: now)
        }
        memory = settled(memory, desired: desired, plan: plan)
        if let failure = unsaved ?? persist(memory, previous: initial) { throw failure }
        return PassResult(rounds: rounds, applied: applied, outcomes: outcomes, remaining: plan, observed: observed, memory: memory,
                          lookedAt: lookedAt, answeredRequests: answered)
    }

    /// Memory as the clock has it at `now` (`ModemMemory.clockedBack`): no wait longer than the backoff's.
    func clockedBack(_ memory: [String: ModemMemory], to now: Date) -> [String: ModemMemory] {
        memory.mapValues { $0.clockedBack(to: now, longestWait: settings.backoff.cap) }
    }

    /// Memory after taking in a look (sessions, SIM, probes) for every listed modem.
    func remember(_ observed: ObservedFarm, _ desired: DesiredFarm, _ memory: [String: ModemMemory], now: Date) -> [String: ModemMemory] {
        var next = memory
        for modem in desired.modems {
            let look = observed.modems[modem.name]
            let probe = observed.probes[modem.name]
            guard look != nil || probe != nil else { continue }
            let counters = look?.plugged.interface.flatMap { observed.network.counters[$0] }
            next[modem.serial] = (memory[modem.serial] ?? ModemMemory(serial: modem.serial))
                .observing(look, counters: counters, probe: probe, now: now)
        }
        return next
    }

    /// A modem with nothing left to do and no wait has converged: an earlier failure is over.
    func settled(_ memory: [String: ModemMemory], desired: DesiredFarm, plan: Plan) -> [String: ModemMemory] {
        var next = memory
        let busy = Set(plan.actions.compactMap(\.modem)).union(plan.deferred.keys)
        for modem in desired.modems where !busy.contains(modem.name) {
            guard let entry = next[modem.serial], entry.lastFailure != nil, entry.pinAttemptFailedAt == nil else { continue }
            next[modem.serial] = entry.recordingSuccess()
        }
        return next
    }

    private func merged(_ old: LaneOutcome?, _ new: LaneOutcome) -> LaneOutcome {
        guard var old else { return new }
        old.applied += new.applied
        if new.failure != nil {
            old.failure = new.failure
            old.failedStep = new.failedStep
        }
        return old
    }

    /// Records `requests` as taken in the modem's memory file, before the action answering them
    /// runs: whatever happens next, no later pass acts on the same request files again.
    func take(_ requests: Set<ModemRequest>, memory: ModemMemory?) throws -> ModemMemory? {
        guard !requests.isEmpty, var memory, let store else { return memory }
        for request in requests {
            guard let identity = store.requests.identity(of: request) else { continue }
            memory.takenRequests = (memory.takenRequests ?? []).filter { $0.file != request.fileName }
                + [TakenRequest(file: request.fileName, identity: identity)]
        }
        do {
            try store.saveMemory(memory, onlyOnceWritten: true)
        } catch {
            throw LaneFailure(reason: error.reason, message: error.message)
        }
        return memory
    }

    /// Writes the memory files that changed (unchanged bytes are not rewritten anyway), every one
    /// of them even after a failure, so each lane's decisions are kept; returns the first failure.
    private func persist(_ memory: [String: ModemMemory], previous: [String: ModemMemory]) -> LaneFailure? {
        guard let store else { return nil }
        var first: LaneFailure?
        for (serial, entry) in memory where previous[serial] != entry {
            do {
                try store.saveMemory(entry)
            } catch {
                first = first ?? LaneFailure(reason: error.reason, message: error.message)
            }
        }
        return first
    }
}
