import Foundation

/// The seven conditions of one modem, each from what was observed and remembered.
struct Conditions {
    var modem: DesiredModem
    var plugged: ObservedModem?
    var memory: ModemMemory
    var failure: LaneFailure?
    var failedStep: ActionKind.Step?

    func all(network: NetworkState, proxy: ProxyObservation?) -> [Condition] {
        guard modem.enabled else {
            return [present()] + Condition.Kind.allCases.dropFirst().map { make($0, "Unknown", "Disabled", "\(modem.name) is disabled") }
        }
        guard let plugged else {
            return [present()] + Condition.Kind.allCases.dropFirst().map { make($0, "Unknown", "NotPluggedIn", "\(modem.name) is not plugged in") }
        }
        guard let state = plugged.state else {
            let message = plugged.failure.map { "cannot read the modem: \($0.reason): \($0.message)" } ?? "cannot read the modem"
            return [present()] + [Condition.Kind.simReady, .registered, .connected].map { make($0, "Unknown", "NotRead", message) }
                + [routed(network, state: nil), proxyServing(proxy), healthy()]
        }
        return [present(), simReady(state), registered(state), connected(state), routed(network, state: state), proxyServing(proxy), healthy()]
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

    func routed(_ network: NetworkState, state: ModemState?) -> Condition {
        if let failed = failed(.routed, in: [.network]) { return failed }
        guard let interface = plugged?.plugged.interface else { return make(.routed, "False", "NoInterface", "the modem has no network interface yet") }
        guard let state, state.session != nil, let settings = state.settings else {
            return make(.routed, "False", "NotConnected", "waiting for an address")
        }
        let routing = modem.routing(interface: interface, settings: settings)
        // Only this modem's share of the kernel: keeps the status of a large farm linear in its size.
        let mine = NetworkState(addresses: network.addresses.filter { $0.key == interface }, upInterfaces: network.upInterfaces,
                                routes: network.routes.filter { $0.table == modem.table },
                                rules: network.rules.filter { $0.table == modem.table || $0.priority == modem.priority || isReply($0) })
        let problems = routingMismatches(desired: [routing], observed: mine, ownedTables: modem.repliesPriority...modem.table)
            .filter { $0.modem == modem.name }.flatMap(\.problems)
        guard problems.isEmpty else {
            return make(.routed, "False", "RoutesMismatch", "kernel differs: " + problems.joined(separator: "; "))
        }
        return make(.routed, "True", "Routed", "table \(modem.table), uid \(modem.uid), from \(settings.address)")
    }

    /// One of this modem's reply rules, whatever its port.
    private func isReply(_ rule: RoutingRule) -> Bool {
        guard case .uidTCPSourcePort(let uid, _) = rule.selector else { return false }
        return uid == modem.uid && rule.priority == modem.repliesPriority
    }

    func proxyServing(_ proxy: ProxyObservation?) -> Condition {
        if let failed = failed(.proxyServing, in: [.proxy]) { return failed }
        guard let input = modem.proxy else {
            return make(.proxyServing, "False", "ConfigError", modem.problems.joined(separator: "; "))
        }
        guard let process = proxy?.process else { return make(.proxyServing, "False", "NotRunning", "the proxy is not running") }
        guard process.listening else { return make(.proxyServing, "False", "NotListening", "pid \(process.pid) does not listen on its ports") }
        if let why = process.reloadFailure { return make(.proxyServing, "False", "ReloadFailed", "pid \(process.pid): \(why)") }
        guard proxy?.config == ProxyConfigRenderer.render(input) else {
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
