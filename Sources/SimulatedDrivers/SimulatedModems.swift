import Reconciler
import Spec

/// The QMI side of the simulated farm: SIM, radio, data format and sessions.
extension SimulatedFarm {
    func index(of plugged: PluggedModem) throws -> Int {
        guard let index = indexByPath[plugged.usbPath] else {
            throw SimulatedError(reason: "ModemGone", message: "no modem at \(plugged.portPath)")
        }
        return index
    }

    func key(_ plugged: PluggedModem) -> String {
        indexByPath[plugged.usbPath].map { modems[$0].imei } ?? plugged.usbPath
    }

    func pluggedModems() async throws -> [PluggedModem] {
        _ = try await gate(.inventory, "")
        return modems.map(\.plugged)
    }

    func observe(_ plugged: PluggedModem, remembered: DataSession?) async throws -> ModemState {
        _ = try await gate(.observeModem, key(plugged), tracked: true)
        let modem = modems[try index(of: plugged)]
        if modem.hung == true { throw SimulatedError(reason: "Timeout", message: "\(modem.plugged.controlDevice): no answer") }
        return ModemState(imei: modem.imei, sim: modem.sim, pinRetriesLeft: modem.sim == .pinRequired ? modem.pinTries : nil,
                          operatingMode: modem.mode, rawIPAgreed: modem.rawIP,
                          registration: Registration(registered: modem.registered, operatorName: modem.registered ? "SimNet" : nil,
                                                     radioTechnology: modem.registered ? "lte" : nil),
                          signal: SignalInfo(rssi: -60 - modem.lane % 20, rsrp: -90, rsrq: -10, snr: 12.5),
                          session: modem.session, settings: modem.session == nil ? nil : modem.settings)
    }

    func unlockSIM(_ plugged: PluggedModem, pin: String) async throws {
        guard try await gate(.unlockSIM, key(plugged), tracked: true) else { return }
        let index = try index(of: plugged)
        guard modems[index].sim == .pinRequired else { return }
        guard modems[index].pin == pin else {
            modems[index].pinTries -= 1
            if modems[index].pinTries == 0 { modems[index].sim = .pukRequired }
            throw SimulatedError(reason: "SimPinRejected", message: "incorrect PIN (\(modems[index].pinTries) tries left)")
        }
        modems[index].sim = .ready
        modems[index].registered = modems[index].mode == .online
    }

    func setRawIP(_ plugged: PluggedModem) async throws {
        guard try await gate(.setRawIP, key(plugged), tracked: true) else { return }
        modems[try index(of: plugged)].rawIP = true
    }

    func connect(_ plugged: PluggedModem, apn: String, reusing clientID: UInt8?) async throws -> (DataSession, IPSettings) {
        guard try await gate(.connect, key(plugged), tracked: true) else {
            throw SimulatedError(reason: "Ignored", message: "connect was ignored")
        }
        let index = try index(of: plugged)
        var modem = modems[index]
        guard modem.sim == .ready, modem.mode == .online, modem.registered else {
            throw SimulatedError(reason: "NotRegistered", message: "modem \(modem.imei) is not registered")
        }
        if let session = modem.session { return (session, modem.settings) }
        let cid = clientID.flatMap { modem.clientIDs.contains($0) ? $0 : nil } ?? UInt8((modem.clientIDs.max() ?? 0) + 1)
        modem.clientIDs.insert(cid)
        let session = DataSession(clientID: cid, packetDataHandle: modem.nextHandle)
        modem.nextHandle += 1
        modem.session = session
        modems[index] = modem
        return (session, modem.settings)
    }

    func disconnect(_ plugged: PluggedModem, session: DataSession) async throws {
        guard try await gate(.disconnect, key(plugged), tracked: true) else { return }
        let index = try index(of: plugged)
        if modems[index].session == session { modems[index].session = nil }
        modems[index].clientIDs.remove(session.clientID)
    }

    func setOperatingMode(_ plugged: PluggedModem, _ mode: OperatingMode) async throws {
        guard try await gate(.setOperatingMode, key(plugged), tracked: true) else { return }
        let index = try index(of: plugged)
        if mode == .lowPower, modems[index].mode == .online {
            modems[index].session = nil
            modems[index].registered = false
            if !modems[index].stickyAddress { modems[index].generation += 1 }
        }
        modems[index].mode = mode
        if mode == .online { modems[index].registered = modems[index].sim == .ready }
    }

    /// Like the lab's simulators: a hung modem comes back only when its USB device is
    /// re-enumerated or power-cycled, as a rebooted modem (no session, raw-IP to be set again).
    func recover(_ plugged: PluggedModem, _ rung: RecoveryRung) async throws {
        guard try await gate(.recover, key(plugged), tracked: true) else { return }
        let index = try index(of: plugged)
        switch rung {
        case .reopen:
            break
        case .resetQMI:
            if modems[index].hung == true { throw SimulatedError(reason: "Timeout", message: "\(plugged.controlDevice): no answer") }
        case .reenumerate, .powerCycle:
            modems[index].hung = nil
            modems[index].session = nil
            modems[index].rawIP = false
            modems[index].generation += 1
        }
        recoveries.append("\(modems[index].imei) \(rung.rawValue)")
    }

    func probe(interface: String) async -> ProbeResult {
        do {
            guard try await gate(.probe, interface) else { return ProbeResult(ok: true, latency: .milliseconds(40)) }
        } catch {
            return ProbeResult(ok: false, failure: "\(error)", latency: .milliseconds(40))
        }
        guard let modem = modems.first(where: { $0.plugged.interface == interface }), modem.session != nil,
              networkState.addresses[interface]?.isEmpty == false else {
            return ProbeResult(ok: false, failure: "no route through \(interface)", latency: .zero)
        }
        if unhealthy.contains(interface) { return ProbeResult(ok: false, failure: "HTTP 503", latency: .milliseconds(80)) }
        return ProbeResult(ok: true, latency: .milliseconds(40), publicIP: modem.settings.address)
    }
}
