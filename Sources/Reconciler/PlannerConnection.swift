import Foundation

extension Planner {
    /// SIM → data format → radio → connect, then reset or rotation when due. Stops at the first
    /// step whose outcome later steps need (a SIM still locked cannot register).
    static func connectionActions(_ modem: DesiredModem, _ situation: LaneSituation, _ memory: ModemMemory, requests: Set<ModemRequest>,
                                  now: Date, timeZone: TimeZone, deferred: inout [String: String]) -> [PlannedAction] {
        let name = modem.name
        func action(_ kind: ActionKind, _ reason: String) -> PlannedAction { PlannedAction(modem: name, kind: kind, reason: reason) }
        switch situation {
        case .disabled(let observed):
            guard let session = observed?.state?.session else { return [] }
            return [action(.disconnect(session), "\(name) is disabled")]
        case .unreadable(let observed):
            return recoveryActions(modem, observed, memory, now: now, deferred: &deferred)
        case .missing, .unplaced:
            return []
        case .active(let observed, let state):
            switch state.sim {
            case .ready: break
            case .pinRequired:
                // After a failed PIN only the operator's reset request allows another try.
                let retry = memory.pinAttemptFailedAt != nil && requests.contains(where: { $0.kind == .reset && $0.modem == name })
                guard memory.pinAttemptFailedAt == nil || retry, let pin = modem.pin else { return [] }
                let tries = state.pinRetriesLeft.map { " (\($0) tries left)" } ?? ""
                return [action(.unlockSIM(pin: pin), retry ? "PIN retry requested by the operator\(tries)" : "SIM asks for its PIN\(tries)")]
            case .pukRequired, .absent, .error:
                return []
            }
            var actions: [PlannedAction] = []
            if !state.rawIPAgreed, observed.plugged.supportsRawIP != false {
                actions.append(action(.setRawIP, "device and kernel do not both use raw-IP"))
            }
            if state.operatingMode == .lowPower {
                return actions + [action(.setOnline, "radio is in low-power mode")]
            }
            guard state.session != nil else {
                guard state.registration.registered else { return actions }
                return actions + [action(.connect(apn: modem.apn, ipType: modem.ipType, reusing: memory.session?.clientID), "not connected")]
            }
            if requests.contains(where: { $0.kind == .reset && $0.modem == name }) {
                return actions + [action(.reset, "requested by the operator")]
            }
            if requests.contains(where: { $0.kind == .rotate && $0.modem == name }) {
                return actions + [action(.rotate, "requested by the operator")]
            }
            if let reason = resetReason(modem, memory, now: now, deferred: &deferred) {
                return actions + [action(.reset, reason)]
            }
            if let reason = RotationSchedule.due(modem.rotation, memory: memory, now: now, timeZone: timeZone) {
                return actions + [action(.rotate, reason)]
            }
            return actions
        }
    }

    /// The next rung of the recovery ladder of a modem that does not answer, when it is due.
    static func recoveryActions(_ modem: DesiredModem, _ observed: ObservedModem, _ memory: ModemMemory, now: Date,
                                deferred: inout [String: String]) -> [PlannedAction] {
        guard let recovery = memory.recovery, observed.failure != nil else { return [] }
        let (rung, due) = recovery.next(powerCycle: modem.health.powerCycle)
        guard due <= now else {
            deferred[modem.name] = "not answering since \(timestamp(recovery.since)); next recovery (\(rung.summary)) in \(formatted(due.timeIntervalSince(now)))"
            return []
        }
        let reason = "not answering since \(timestamp(recovery.since)) (\(recovery.failure.reason)); recovery step \(recovery.attempts + 1)"
        return [PlannedAction(modem: modem.name, kind: .recover(rung), reason: reason)]
    }

    /// A reset after `failuresBeforeReset` consecutive health failures, with growing pauses
    /// between resets of a modem that stays unhealthy.
    static func resetReason(_ modem: DesiredModem, _ memory: ModemMemory, now: Date, deferred: inout [String: String]) -> String? {
        let threshold = modem.health.failuresBeforeReset
        guard threshold > 0, memory.consecutiveHealthFailures >= threshold else { return nil }
        if memory.resetsSinceHealthy > 0, let last = memory.lastReset {
            let next = last.adding(Backoff.resets.delay(after: memory.resetsSinceHealthy))
            if now < next {
                deferred[modem.name] = "unhealthy; next reset in \(formatted(next.timeIntervalSince(now))) (\(memory.resetsSinceHealthy) resets without recovery)"
                return nil
            }
        }
        return "\(memory.consecutiveHealthFailures) consecutive health failures"
    }
}
