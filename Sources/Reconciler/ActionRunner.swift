import Foundation

/// Carries out single actions through the drivers, each under a deadline.
struct ActionRunner: Sendable {
    var drivers: DriverSet
    var settings: ExecutorSettings

    func perform(_ action: PlannedAction, plugged: PluggedModem?, memory: ModemMemory) async throws(LaneFailure) -> ActionResult {
        let control = drivers.modems
        let proxies = drivers.proxies
        let limit = settings.actionTimeout
        let name = action.modem ?? ""
        func needModem() throws(LaneFailure) -> PluggedModem {
            guard let plugged else { throw LaneFailure(reason: "NotPluggedIn", message: "\(name) is not plugged in") }
            return plugged
        }
        switch action.kind {
        case .unlockSIM(let pin):
            let modem = try needModem()
            try await withDeadline(limit, "PIN verification") { try await control.unlockSIM(modem, pin: pin.value) }
        case .setRawIP:
            let modem = try needModem()
            try await withDeadline(limit, "setting raw-IP") { try await control.setRawIP(modem) }
        case .setOnline:
            let modem = try needModem()
            try await withDeadline(limit, "setting the radio online") { try await control.setOperatingMode(modem, .online) }
        case .connect(let apn, let ipType, let clientID):
            let modem = try needModem()
            let (session, settings) = try await withDeadline(settings.connectTimeout, "connect") {
                try await control.connect(modem, apn: apn, ipType: ipType, reusing: clientID)
            }
            return .connected(session, settings)
        case .disconnect(let session):
            let modem = try needModem()
            try await withDeadline(limit, "disconnect") { try await control.disconnect(modem, session: session) }
        case .rotate:
            let modem = try needModem()
            try await cycleRadio(modem)
        case .reset:
            let modem = try needModem()
            if let session = memory.session {
                // A sick modem may not answer the disconnect; the radio cycle ends the session anyway.
                _ = try? await withDeadline(limit, "disconnect") { try await control.disconnect(modem, session: session) }
            }
            try await cycleRadio(modem)
        case .recover(let rung):
            let modem = try needModem()
            try await withDeadline(limit, "recovery: \(rung.summary)") { try await control.recover(modem, rung) }
        case .writeProxyConfig(let config, let uid):
            try await withDeadline(limit, "writing the proxy config") { try await proxies.writeConfig(modem: name, config: config, uid: uid) }
        case .startProxy(let ports):
            return .started(try await withDeadline(limit, "starting the proxy") { try await proxies.start(modem: name, ports: ports) })
        case .reloadProxy(let pid, let ports):
            try await withDeadline(limit, "reloading the proxy") { try await proxies.reload(modem: name, pid: pid, ports: ports) }
        case .stopProxy(let pid):
            try await withDeadline(limit, "stopping the proxy") { try await proxies.stop(modem: name, pid: pid, keepingCounts: true) }
        case .network, .forget:
            // Network changes go out in one batch per round; forgetting is the state store's job.
            break
        }
        return .done
    }

    /// Low-power then online: the network drops the session and hands out a new address on reconnect.
    private func cycleRadio(_ modem: PluggedModem) async throws(LaneFailure) {
        let control = drivers.modems
        try await withDeadline(settings.actionTimeout, "setting the radio to low-power") { try await control.setOperatingMode(modem, .lowPower) }
        try await withDeadline(settings.actionTimeout, "setting the radio online") { try await control.setOperatingMode(modem, .online) }
    }
}
