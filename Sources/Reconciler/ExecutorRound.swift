import Foundation
import Logging

/// What one round changed.
struct RoundResult: Sendable {
    var memory: [String: ModemMemory]
    var applied: [AppliedAction] = []
    var outcomes: [String: LaneOutcome] = [:]
}

/// One lane's share of a round: its actions and its memory, carried from step to step.
private struct LaneWork: Sendable {
    var name: String
    var serial: String?
    var plugged: PluggedModem?
    var actions: [PlannedAction]
    var memory: ModemMemory?
    var applied: [AppliedAction] = []
    var outcome: LaneOutcome

    var failed: Bool { outcome.failure != nil }
}

extension Executor {
    func apply(_ plan: Plan, desired: DesiredFarm, observed: ObservedFarm, memory: [String: ModemMemory]) async -> RoundResult {
        var result = RoundResult(memory: memory)
        var lanes: [LaneWork] = []
        var unowned: [PlannedAction] = []
        for (modem, actions) in plan.lanes {
            guard let modem else { unowned = actions; continue }
            let serial = desired.modem(named: modem)?.serial
            lanes.append(LaneWork(name: modem, serial: serial, plugged: observed.modems[modem]?.plugged, actions: actions,
                                  memory: serial.map { memory[$0] ?? ModemMemory(serial: $0) }, outcome: LaneOutcome(modem: modem)))
        }
        let control: Set<ActionKind.Step> = [.sim, .dataFormat, .connection]
        lanes = await runLanes(lanes, requests: observed.requests) { control.contains($0.kind.step) }
        let after: NetworkState?
        (lanes, after) = await applyNetwork(lanes, unowned: unowned.filter { $0.kind.step == .network }, desired: desired, observed: observed,
                                            result: &result)
        lanes = await failClosed(lanes, desired: desired, observed: observed, network: after)
        lanes = await runLanes(lanes, requests: observed.requests) { $0.kind.step == .proxy }
        for action in unowned where action.kind.step == .memory && !Task.isCancelled {
            guard case .forget(let serial) = action.kind else { continue }
            var failure: LaneFailure?
            do {
                try store?.forgetMemory(serial: serial)
                result.memory[serial] = nil
            } catch {
                failure = LaneFailure(reason: error.reason, message: error.message)
            }
            record(AppliedAction(action: action, failure: failure), into: &result)
        }
        let now = drivers.clock.now()
        for lane in lanes {
            for entry in lane.applied { record(entry, into: &result) }
            result.outcomes[lane.name] = lane.outcome
            guard let serial = lane.serial, var entry = lane.memory else { continue }
            if let failure = lane.outcome.failure {
                entry = entry.recordingFailure(failure, at: now, backoff: settings.backoff)
            } else if lane.outcome.applied > 0 {
                entry = entry.recordingSuccess()
            }
            result.memory[serial] = entry
        }
        return result
    }

    /// Runs each lane's actions that match `filter`, in order, lanes in parallel up to `batch`.
    /// An action answering one of `requests` records it as taken (on disk) before it runs.
    private func runLanes(_ lanes: [LaneWork], requests: Set<ModemRequest>, _ filter: @escaping @Sendable (PlannedAction) -> Bool) async -> [LaneWork] {
        let runner = ActionRunner(drivers: drivers, settings: settings)
        let clock = drivers.clock
        let busy = lanes.filter { lane in !lane.failed && lane.actions.contains(where: filter) }.map(\.name)
        let done = await boundedConcurrently(lanes.filter { busy.contains($0.name) }, limit: settings.batch) { lane in
            var lane = lane
            for action in lane.actions where filter(action) {
                // A stop (SIGTERM) lets the action in flight finish and starts no other.
                guard !Task.isCancelled else { break }
                defer { progress() }
                do {
                    lane.memory = try take(requests.filter { $0.isAnswered(by: action) }, memory: lane.memory)
                    let outcome = try await runner.perform(action, plugged: lane.plugged, memory: lane.memory ?? ModemMemory(serial: ""))
                    let previous = lane.memory
                    lane.memory = lane.memory?.applying(action.kind, result: outcome, now: clock.now())
                    reportRotation(lane.name, before: previous, after: lane.memory)
                    lane.applied.append(AppliedAction(action: action, failure: nil))
                    lane.outcome.applied += 1
                } catch {
                    let error = LaneFailure(error)
                    if case .unlockSIM = action.kind { lane.memory?.pinAttemptFailedAt = clock.now() }
                    // A rung that did not work was still tried: the ladder moves on to the next.
                    if case .recover = action.kind { lane.memory = lane.memory?.applying(action.kind, result: .done, now: clock.now()) }
                    lane.applied.append(AppliedAction(action: action, failure: error))
                    lane.outcome.failure = error
                    lane.outcome.failedStep = action.kind.step
                    break
                }
            }
            return lane
        }
        let byName = Dictionary(done.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        return lanes.map { byName[$0.name] ?? $0 }
    }

    /// Stops the running proxy of every lane whose network step failed and whose protection
    /// (guard, skeleton rules, `unreachable` route) is not verified in place: a proxy never keeps
    /// serving a lane that could leak. Its later proxy steps are skipped anyway (the lane failed).
    private func failClosed(_ lanes: [LaneWork], desired: DesiredFarm, observed: ObservedFarm, network: NetworkState?) async -> [LaneWork] {
        let routing = Dictionary(Planner.routing(desired, observed: observed).map { ($0.modem, $0) }, uniquingKeysWith: { first, _ in first })
        let proxies = drivers.proxies
        var lanes = lanes
        for index in lanes.indices where lanes[index].outcome.failedStep == .network && !Task.isCancelled {
            let lane = lanes[index]
            guard let pid = observed.proxies[lane.name]?.process?.pid, let wanted = routing[lane.name] else { continue }
            if let network, isProtected(wanted, in: network, owned: desired.owned) { continue }
            let stop = PlannedAction(modem: lane.name, kind: .stopProxy(pid: pid),
                                     reason: "fail closed: its egress guard or rules are not in place (\(lane.outcome.failure?.reason ?? "unknown"))")
            var failure: LaneFailure?
            do {
                // At once: not even the few seconds it takes the proxy to write its traffic counts.
                try await withDeadline(settings.actionTimeout, "stopping the proxy") {
                    try await proxies.stop(modem: lane.name, pid: pid, keepingCounts: false)
                }
            } catch {
                failure = error
            }
            progress()
            lanes[index].applied.append(AppliedAction(action: stop, failure: failure))
        }
        return lanes
    }

    /// All network changes of the round in one batch, then a fresh look to verify them: a change
    /// that did not take is a failure of the modem it belongs to. Returns the look (nil when the
    /// kernel could not be read).
    private func applyNetwork(_ lanes: [LaneWork], unowned: [PlannedAction], desired: DesiredFarm, observed: ObservedFarm,
                              result: inout RoundResult) async -> ([LaneWork], NetworkState?) {
        var lanes = lanes
        // Every lane's, also of a lane whose modem just failed: its protection never waits for the modem.
        let actions = lanes.flatMap { $0.actions.filter { $0.kind.step == .network } } + unowned
        guard !actions.isEmpty, !Task.isCancelled else { return (lanes, nil) }
        defer { progress() }
        let changes = actions.compactMap { action -> NetworkChange? in
            guard case .network(let change) = action.kind else { return nil }
            return change
        }
        let network = drivers.network
        var batchFailure: LaneFailure?
        var after: NetworkState?
        do {
            try await withDeadline(settings.actionTimeout, "applying network changes") { try await network.apply(changes) }
            let tables = desired.ownedTables
            after = try await withDeadline(settings.observeTimeout, "reading routes and rules") { try await network.observe(tables: tables) }
        } catch {
            batchFailure = error
        }
        let mismatches = after.map {
            routingMismatches(desired: Planner.routing(desired, observed: observed), observed: $0, owned: desired.owned)
        } ?? []
        let problems = Dictionary(mismatches.map { ($0.modem, $0.problems) }, uniquingKeysWith: +)
        for action in actions {
            var failure = batchFailure
            if failure == nil, case .network(let change) = action.kind {
                let mine = (problems[action.modem] ?? []).filter { action.modem != nil || $0.hasSuffix(change.description) }
                if !mine.isEmpty {
                    failure = LaneFailure(reason: "VerifyFailed", message: "after apply the kernel still differs: " + mine.joined(separator: "; "))
                }
            }
            guard let index = lanes.firstIndex(where: { $0.name == action.modem }) else {
                record(AppliedAction(action: action, failure: failure), into: &result)
                continue
            }
            lanes[index].applied.append(AppliedAction(action: action, failure: failure))
            if let failure {
                lanes[index].outcome.failure = failure
                lanes[index].outcome.failedStep = .network
            } else {
                lanes[index].outcome.applied += 1
            }
        }
        return (lanes, after)
    }

    /// Rotation verification (issue 8): the first connect after a rotation or reset tells whether
    /// the network handed out a new address; the same one back is a warning the operator sees.
    private func reportRotation(_ modem: String, before: ModemMemory?, after: ModemMemory?) {
        guard before?.lastRotationSameAddress == nil, let same = after?.lastRotationSameAddress, let address = after?.lastAddress else { return }
        if same {
            logger.warning("\(modem): same IP \(address) after the rotation: the carrier handed the same address back")
        } else {
            logger.info("\(modem): new IP \(before?.lastAddress ?? "?") → \(address)")
        }
    }

    /// Logs the action and appends it to the audit log (no secrets: summaries and reasons only).
    private func record(_ entry: AppliedAction, into result: inout RoundResult) {
        result.applied.append(entry)
        let action = entry.action
        if let failure = entry.failure {
            logger.error("\(action.description): failed: \(failure.reason): \(failure.message)")
        } else {
            logger.info("\(action.description): ok")
        }
        let audit = AuditEntry(time: drivers.clock.now(), modem: action.modem, action: action.kind.name, summary: action.kind.summary,
                               reason: action.reason, outcome: entry.failure?.reason ?? "ok", message: entry.failure?.message)
        do {
            try store?.appendAudit(audit)
        } catch {
            logger.error("cannot append to the audit log: \(error.message)")
        }
    }
}
