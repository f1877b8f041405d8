import Foundation

/// Where a spec modem stands before planning.
enum LaneSituation {
    case active(ObservedModem, ModemState)
    /// Plugged in but could not be read: the modem is left alone, but its lane is protected all the
    /// same (guard, uid and oif rules, the `unreachable` route: safety never waits for sight).
    case unreadable(ObservedModem)
    /// Without a lane of its own (no table, no uid): nothing of it can exist, nothing is done.
    case unplaced
    case disabled(ObservedModem?)
    case missing

    init(_ modem: DesiredModem, _ observed: ObservedModem?) {
        guard modem.placed else { self = .unplaced; return }
        guard modem.enabled else { self = .disabled(observed); return }
        guard let observed else { self = .missing; return }
        guard let state = observed.state else { self = .unreadable(observed); return }
        self = .active(observed, state)
    }

    /// Why no action can bring the modem to Ready now; nil when something can (or it is disabled).
    func blockedReason(_ modem: DesiredModem) -> String? {
        switch self {
        case .missing: "not plugged in: no plugged modem has serial or IMEI \(modem.serial)"
        case .unreadable(let observed):
            "cannot be read" + (observed.failure.map { ": \($0.reason): \($0.message)" } ?? "") + "; its lane stays closed to everything but its modem"
        case .unplaced: "no lane: " + modem.problems.joined(separator: "; ")
        case .active where !modem.problems.isEmpty: "configuration: " + modem.problems.joined(separator: "; ")
        case .active, .disabled: nil
        }
    }

    /// Why its things are torn down, when they are.
    func teardownReason(_ name: String) -> String? {
        switch self {
        case .disabled: "\(name) is disabled"
        case .missing: "\(name) is not plugged in"
        case .active, .unreadable, .unplaced: nil
        }
    }
}

/// plan(desired, observed, memory, now) → Plan (DESIGN §1): pure, no I/O, no clock of its own.
/// Only modems whose observed state differs from their desired state get actions, so a plan made
/// right after a successful apply is empty.
public enum Planner {
    public static func plan(desired: DesiredFarm, observed: ObservedFarm, memory: [String: ModemMemory], now: Date) -> Plan {
        var byModem: [String: [PlannedAction]] = [:]
        var deferred: [String: String] = [:]
        var blocked: [String: String] = [:]
        var situations: [String: LaneSituation] = [:]
        for modem in desired.modems {
            let situation = LaneSituation(modem, observed.modems[modem.name])
            situations[modem.name] = situation
            blocked[modem.name] = situation.blockedReason(modem)
            let remembered = memory[modem.serial] ?? ModemMemory(serial: modem.serial)
            var actions = connectionActions(modem, situation, remembered, requests: observed.requests, now: now, timeZone: desired.timeZone, deferred: &deferred)
            actions += proxyActions(modem, situation, observed.proxies[modem.name])
            byModem[modem.name] = actions
        }
        let (network, unowned, routingProblems) = networkActions(desired, situations, observed.network)
        for (name, actions) in network { byModem[name, default: []] += actions }

        var plan = Plan()
        for modem in desired.modems {
            let actions = (byModem[modem.name] ?? []).enumerated()
                .sorted { ($0.element.kind.step, $0.offset) < ($1.element.kind.step, $1.offset) }.map(\.element)
            guard !actions.isEmpty else { continue }
            let remembered = memory[modem.serial]
            // An operator's request is answered at once, backoff or not.
            let requested = actions.contains { action in observed.requests.contains { $0.isAnswered(by: action) } }
            if !requested, let remembered, remembered.isBackingOff(at: now), let until = remembered.nextAttemptNotBefore {
                let failure = remembered.lastFailure.map { " after \($0.reason)" } ?? ""
                deferred[modem.name] = "backing off\(failure): next attempt in \(formatted(until.timeIntervalSince(now)))"
                // The kernel's side of the lane (guard, rules, routes) is never deferred: a lane
                // is protected whatever the modem does.
                plan.actions += actions.filter { $0.kind.step == .network }
                continue
            }
            plan.actions += actions
        }
        plan.actions += unowned
        plan.actions += leftoverProxies(desired, observed)
        let listed = Set(desired.modems.map(\.serial))
        plan.actions += memory.keys.filter { !listed.contains($0) }.sorted().map {
            PlannedAction(modem: nil, kind: .forget(serial: $0), reason: "no longer in farm.yaml")
        }
        plan.deferred = deferred
        plan.blocked = blocked
        plan.routingProblems = routingProblems
        return plan
    }

    /// Proxies we still run for modems that left farm.yaml.
    static func leftoverProxies(_ desired: DesiredFarm, _ observed: ObservedFarm) -> [PlannedAction] {
        let listed = Set(desired.modems.map(\.name))
        return observed.proxies.filter { !listed.contains($0.key) }.sorted { $0.key < $1.key }.flatMap { name, proxy in
            let pids = (proxy.process.map { [$0.pid] } ?? []) + proxy.strays
            return pids.map { PlannedAction(modem: name, kind: .stopProxy(pid: $0), reason: "\(name) is no longer in farm.yaml") }
        }
    }
}
