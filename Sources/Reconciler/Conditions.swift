import Foundation

/// The eight conditions of one modem, each from what was observed and remembered.
struct Conditions {
    var modem: DesiredModem
    var plugged: ObservedModem?
    var memory: ModemMemory
    var failure: LaneFailure?
    var failedStep: ActionKind.Step?

    func all(network: NetworkState, routingProblems: [String], proxy: ProxyObservation?) -> [Condition] {
        guard modem.enabled else {
            return [present()] + Condition.Kind.allCases.dropFirst().map { make($0, "Unknown", "Disabled", "\(modem.name) is disabled") }
        }
        guard let plugged else {
            return [present()] + Condition.Kind.allCases.dropFirst().map { make($0, "Unknown", "NotPluggedIn", "\(modem.name) is not plugged in") }
        }
        guard let state = plugged.state else {
            let message = plugged.failure.map { "cannot read the modem: \($0.reason): \($0.message)" } ?? "cannot read the modem"
            return [present(), responding(plugged)] + [Condition.Kind.simReady, .registered, .connected].map { make($0, "Unknown", "NotRead", message) }
                + [routed(network, problems: routingProblems), proxyServing(proxy), healthy()]
        }
        return [present(), responding(plugged), simReady(state), registered(state), connected(state), routed(network, problems: routingProblems), proxyServing(proxy), healthy()]
    }

    func make(_ kind: Condition.Kind, _ status: String, _ reason: String, _ message: String) -> Condition {
        Condition(type: kind, status: status, reason: reason, message: message, since: .distantPast)
    }

    /// A failure of this pass in `step` overrides the condition it concerns.
    func failed(_ kind: Condition.Kind, in steps: [ActionKind.Step]) -> Condition? {
        guard let failure, let failedStep, steps.contains(failedStep) else { return nil }
        return make(kind, "False", failure.reason, failure.message)
    }

    func present() -> Condition {
        guard let plugged else { return make(.present, "False", "NotPluggedIn", "no plugged modem has serial or IMEI \(modem.serial)") }
        return make(.present, "True", "PluggedIn", "USB \(plugged.plugged.portPath), control \(plugged.plugged.controlDevice)")
    }

    /// Whether QMI answers, and how far the recovery of a modem that does not has come.
    func responding(_ plugged: ObservedModem) -> Condition {
        guard plugged.state == nil else { return make(.responding, "True", "Answers", "QMI answers") }
        let failure = plugged.failure.map { "\($0.reason): \($0.message)" } ?? "no answer"
        guard let recovery = memory.recovery else { return make(.responding, "False", "NoAnswer", failure) }
        let (next, _) = recovery.next(powerCycle: modem.health.powerCycle)
        let tried = recovery.lastRung.map { "; \(recovery.attempts) recovery step(s) tried, the last: \($0.summary)" } ?? ""
        return make(.responding, "False", "NoAnswer",
                    "no answer since \(timestamp(recovery.since)) (\(failure))\(tried); next: \(next.summary)")
    }

    func simReady(_ state: ModemState) -> Condition {
        if let failed = failed(.simReady, in: [.sim]) { return failed }
        switch state.sim {
        case .ready:
            return make(.simReady, "True", "Ready", "SIM ready")
        case .pinRequired where memory.pinAttemptFailedAt != nil:
            return make(.simReady, "False", "SimPinRejected", "the PIN was not accepted and is not tried again automatically; correct it, then request a reset (state/requests/reset-\(modem.name))")
        case .pinRequired where modem.pin == nil:
            return make(.simReady, "False", "SimPinMissing", "the SIM asks for a PIN and none could be read for \(modem.name)")
        case .pinRequired:
            return make(.simReady, "False", "SimPinRequired", "the SIM asks for its PIN" + (state.pinRetriesLeft.map { " (\($0) tries left)" } ?? ""))
        case .pukRequired:
            return make(.simReady, "False", "SimPukLocked", "the SIM is PUK-locked: unlock it by hand")
        case .absent:
            return make(.simReady, "False", "SimAbsent", "no SIM card")
        case .error:
            return make(.simReady, "False", "SimError", "the SIM reports an error")
        }
    }

    func registered(_ state: ModemState) -> Condition {
        let registration = state.registration
        guard registration.registered else { return make(.registered, "False", "NotRegistered", "not registered on a network") }
        let details = [registration.operatorName, registration.radioTechnology].compactMap { $0 }.joined(separator: ", ")
        return make(.registered, "True", "Registered", details.isEmpty ? "registered" : "registered (\(details))")
    }

    func connected(_ state: ModemState) -> Condition {
        if let failed = failed(.connected, in: [.dataFormat, .connection]) { return failed }
        guard state.session != nil, let settings = state.settings else { return make(.connected, "False", "NotConnected", "no data session") }
        return make(.connected, "True", "Connected", "address \(settings.address)/\(settings.prefixLength)")
    }

    /// The lane's protection (guard, rules, `unreachable` route) first, whether or not the modem
    /// can be read; then whether it has an address to route. `problems` are the lane's routing
    /// mismatches from the plan's one comparison of the whole farm (`Plan.routingProblems`), so a
    /// large farm's status stays linear in its size.
    func routed(_ network: NetworkState, problems: [String]) -> Condition {
        if let failed = failed(.routed, in: [.network]) { return failed }
        let situation = LaneSituation(modem, plugged)
        guard let routing = Planner.routing(for: modem, situation, network: network) else {
            return make(.routed, "Unknown", "NoLane", "\(modem.name) has no lane")
        }
        guard problems.isEmpty else {
            return make(.routed, "False", "RoutesMismatch", "kernel differs: " + problems.joined(separator: "; "))
        }
        guard routing.interface != nil else {
            return make(.routed, "False", "NoInterface", "the modem has no network interface; its lane is closed (guard, uid rule, unreachable route)")
        }
        guard let address = routing.address else {
            return make(.routed, "False", "NotConnected", "waiting for an address; the lane is closed (guard, uid rule, unreachable route)")
        }
        let kept = plugged?.state == nil ? " (kept as the kernel has it: the modem cannot be read)" : ""
        return make(.routed, "True", "Routed", "table \(modem.table), uid \(modem.uid), from \(address.prefix { $0 != "/" })\(kept)")
    }

    func proxyServing(_ proxy: ProxyObservation?) -> Condition {
        if let failed = failed(.proxyServing, in: [.proxy]) { return failed }
        guard let input = modem.proxy else {
            return make(.proxyServing, "False", "ConfigError", modem.problems.joined(separator: "; "))
        }
        guard let process = proxy?.process else { return make(.proxyServing, "False", "NotRunning", "the proxy is not running") }
        guard process.listening else { return make(.proxyServing, "False", "NotListening", "pid \(process.pid) does not listen on its ports") }
        if let why = process.reloadFailure { return make(.proxyServing, "False", "ReloadFailed", "pid \(process.pid): \(why)") }
        guard proxy?.config == modem.proxyConfig else {
            return make(.proxyServing, "False", "ConfigOutdated", "pid \(process.pid) runs an outdated config")
        }
        return make(.proxyServing, "True", "Serving", "pid \(process.pid), ports \(input.ports.map(String.init).joined(separator: ", "))")
    }

    func healthy() -> Condition {
        guard let probe = memory.lastProbeResult else { return make(.healthy, "Unknown", "NotProbed", "no probe yet") }
        if probe.ok { return make(.healthy, "True", "ProbeOk", "probe ok in \(Int(probe.latency.seconds * 1000)) ms") }
        return make(.healthy, "False", "ProbeFailed",
                    "\(probe.failure ?? "probe failed") (\(memory.consecutiveHealthFailures) consecutive, reset after \(modem.health.failuresBeforeReset))")
    }
}
