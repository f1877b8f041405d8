extension Planner {
    /// Config, then start/reload/stop. A config change reloads (keeping the pid and open client
    /// connections); only a proxy that is not serving is restarted. Strays on our ports are stopped.
    static func proxyActions(_ modem: DesiredModem, _ situation: LaneSituation, _ observed: ProxyObservation?) -> [PlannedAction] {
        let name = modem.name
        func action(_ kind: ActionKind, _ reason: String) -> PlannedAction { PlannedAction(modem: name, kind: kind, reason: reason) }
        let observed = observed ?? ProxyObservation()
        var actions = observed.strays.map { action(.stopProxy(pid: $0), "stray process on \(name)'s ports") }
        if let teardown = situation.teardownReason(name) {
            if let process = observed.process { actions.append(action(.stopProxy(pid: process.pid), teardown)) }
            return actions
        }
        guard let input = modem.proxy, let wanted = modem.proxyConfig else { return actions }
        let change = ProxyConfigDiff.reason(current: observed.config, wanted: wanted)
        if let change { actions.append(action(.writeProxyConfig(config: wanted, uid: input.uid), change)) }
        guard let process = observed.process else {
            return actions + [action(.startProxy(ports: input.ports), "not running")]
        }
        if let why = process.reloadFailure ?? (process.listening ? nil : "not listening on its ports") {
            return actions + [action(.stopProxy(pid: process.pid), why), action(.startProxy(ports: input.ports), why)]
        }
        if let change {
            let dropped = ProxyConfigDiff.droppedUsers(current: observed.config, wanted: wanted)
            let drops = dropped.isEmpty ? "" : "; drops the open connections of \(dropped.joined(separator: ", "))"
            actions.append(action(.reloadProxy(pid: process.pid, ports: input.ports), change + drops))
        }
        return actions
    }
}
