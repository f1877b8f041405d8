import CQMI
import Logging
import Reconciler
import Spec

/// `ModemControl` over libqmi-glib. Devices stay open between calls; a timeout or a vanished
/// modem closes the device so that the next call starts from a fresh open. No open syncs: other
/// processes may share the modem (docs/qmi.md, "Sharing a modem").
public final class QMIModemControl: ModemControl {
    private let registry: QMIDeviceRegistry
    private let kernel: KernelDataFormat
    private let logger: Logger

    public init(options: QMIOpenOptions = QMIOpenOptions(), kernel: KernelDataFormat = KernelDataFormat(),
                logger: Logger = Logger(label: "proxyfarm.qmi")) {
        registry = QMIDeviceRegistry(options: options)
        self.kernel = kernel
        self.logger = logger
    }

    /// How long a full look at a connected modem stands in for one (see `observe`).
    static let fullLookInterval: Duration = .seconds(60)

    /// A modem whose remembered session is up, that was looked at fully within `fullLookInterval`
    /// and that nothing was done to since, is asked one question — is the call still up? — and
    /// the rest (identity, SIM, mode, registration, signal, settings) comes from that look, with
    /// the kernel's raw-IP read afresh. A hung modem still fails the look; a call that ended
    /// (SIM pulled, coverage or mode lost, a reset) makes it a full look. Eight round trips per
    /// modem per pass would make a 100-modem farm's idle passes cost most of a core.
    public func observe(_ modem: PluggedModem, remembered: DataSession?) async throws -> ModemState {
        try await guarded(modem) { path in
            if let remembered, let look = await registry.lastLook(on: path), look.state.session == remembered,
               ContinuousClock.now - look.at < Self.fullLookInterval,
               try await registry.client(.wds, on: path).isConnected() {
                var state = look.state
                state.rawIPAgreed = look.state.rawIPAgreed && (modem.interface.flatMap { try? kernel.usesRawIP($0) } ?? false)
                return state
            }
            let state = try await fullLook(modem, remembered: remembered, on: path)
            await registry.remember(state, on: path)
            return state
        }
    }

    private func fullLook(_ modem: PluggedModem, remembered: DataSession?, on path: String) async throws -> ModemState {
        try await registry.reclaimOrphans(on: path)
        let dms = try await registry.client(.dms, on: path)
        let imei = try await dms.imei()
        let mode = try await dms.operatingMode()
        let card = try await simStatus(on: path)
        let deviceRawIP = try await registry.client(.wda, on: path).deviceUsesRawIP()
        // Unreadable (no interface yet, no qmi_wwan) counts as not agreed; setRawIP says why.
        let kernelRawIP = modem.interface.flatMap { try? kernel.usesRawIP($0) } ?? false
        let nas = try await registry.client(.nas, on: path)
        let registration = try await nas.servingSystem()
        let signal = try await signalInfo(nas)
        let live = try await liveSession(remembered, on: path)
        return ModemState(imei: imei, sim: card.sim, pinRetriesLeft: card.sim == .pinRequired ? card.pinRetriesLeft : nil,
                          operatingMode: mode, rawIPAgreed: deviceRawIP && kernelRawIP, registration: registration,
                          signal: signal, session: live?.0, settings: live?.1)
    }

    /// Signal values; a modem that refuses to give any (no service) reports none rather than
    /// failing the whole observation.
    private func signalInfo(_ nas: QMIClient) async throws -> SignalInfo {
        do {
            return try await nas.signalInfo()
        } catch let error as QMIError where error.kind == .qmiError {
            return SignalInfo()
        }
    }

    /// The remembered session with its settings while the modem's call is up. Asked on this
    /// process's own WDS client, never on the session's: through qmi-proxy, two processes using one
    /// client id collide on transaction ids and one of them times out. A session whose client id
    /// died with a modem reboot shows as down (the reboot ended the call) and is replaced by connect.
    private func liveSession(_ remembered: DataSession?, on path: String) async throws -> (DataSession, IPSettings)? {
        guard let remembered else { return nil }
        let wds = try await registry.client(.wds, on: path)
        guard try await wds.isConnected() else { return nil }
        return (remembered, try await wds.currentSettings())
    }

    /// One try only: the driver never repeats a PIN, since three wrong tries lock the SIM.
    public func unlockSIM(_ modem: PluggedModem, pin: String) async throws {
        try await changing(modem) { path in
            if let uim = try await uimClient(on: path) {
                try await uim.verifyPIN(pin)
            } else {
                try await registry.client(.dms, on: path).legacyVerifyPIN(pin)
            }
        }
    }

    private func simStatus(on path: String) async throws -> CardStatus {
        if let uim = try await uimClient(on: path) { return try await uim.cardStatus() }
        return try await registry.client(.dms, on: path).legacyCardStatus()
    }

    /// The UIM client, or nil on old firmware without the service (the SIM is then reached
    /// through DMS UIM requests).
    private func uimClient(on path: String) async throws -> QMIClient? {
        do {
            return try await registry.client(.uim, on: path)
        } catch let error as QMIError where error.kind == .unsupported {
            return nil
        }
    }

    public func setRawIP(_ modem: PluggedModem) async throws {
        try await changing(modem) { path in
            let wda = try await registry.client(.wda, on: path)
            if try await !wda.deviceUsesRawIP() { try await wda.setDeviceRawIP() }
            guard let interface = modem.interface else {
                throw QMIError(.kernelDataFormat, device: path, operation: "set raw_ip",
                               detail: "the modem has no network interface yet")
            }
            try kernel.setRawIP(interface)
        }
    }

    public func connect(_ modem: PluggedModem, apn: String, ipType: IPType, reusing clientID: UInt8?) async throws -> (DataSession, IPSettings) {
        try await connect(modem, apn: apn, ipType: ipType, auth: nil, reusing: clientID)
    }

    /// Starts a session on the reused (or a new) WDS client id and keeps that client id.
    public func connect(_ modem: PluggedModem, apn: String, ipType: IPType, auth: APNAuth?,
                        reusing clientID: UInt8?) async throws -> (DataSession, IPSettings) {
        guard ipType != .ipv6 else { throw QMIError.ipv6Unsupported(device: modem.controlDevice) }
        return try await changing(modem) { path in
            do {
                return try await start(on: path, apn: apn, ipType: ipType, auth: auth, reusing: clientID)
            } catch let error as QMIError where error.isUnknownClient && clientID != nil {
                // The saved client id died with a modem reboot: a new one is the only way on.
                try await registry.dropSession(on: path, cid: clientID ?? 0, releaseCID: false)
                return try await start(on: path, apn: apn, ipType: ipType, auth: auth, reusing: nil)
            }
        }
    }

    /// A client id allocated here for a session that then failed to start is released at once:
    /// nobody remembers it, and a modem has only a few. A modem whose call is already up answers
    /// NoEffect (its starter was a killed process whose handle was never saved, or another tool):
    /// that call is taken over as it is, with the global handle, rather than torn down.
    private func start(on path: String, apn: String, ipType: IPType, auth: APNAuth?,
                       reusing clientID: UInt8?) async throws -> (DataSession, IPSettings) {
        let wds = try await registry.sessionClient(on: path, reusing: clientID)
        let handle: UInt32
        do {
            handle = try await wds.startNetwork(apn: apn, ipType: ipType, auth: auth)
        } catch let error as QMIError where error.hasProtocolCode(QMI_PROTOCOL_ERROR_NO_EFFECT) {
            handle = Self.globalHandle
            logger.notice("\(path): the modem's data call was already up (started by a process that is gone or by another tool); taken over on WDS client \(wds.cid) without restarting it")
        } catch let error as QMIError where clientID == nil && error.kind == .qmiError {
            try? await registry.dropSession(on: path, cid: wds.cid, releaseCID: true)
            throw error
        }
        await registry.handOver(on: path, cid: wds.cid)
        return (DataSession(clientID: wds.cid, packetDataHandle: handle), try await wds.currentSettings())
    }

    /// The packet data handle that names the modem's call whoever started it (stop accepts it).
    static let globalHandle: UInt32 = 0xFFFF_FFFF

    /// Stops the session (a session already gone counts as stopped) and frees its client id.
    public func disconnect(_ modem: PluggedModem, session: DataSession) async throws {
        try await changing(modem) { path in
            do {
                let wds = try await registry.sessionClient(on: path, reusing: session.clientID)
                try await wds.stopNetwork(handle: session.packetDataHandle)
            } catch let error as QMIError where error.isUnknownClient {
                // The modem rebooted: session and client id died with it.
                try await registry.dropSession(on: path, cid: session.clientID, releaseCID: false)
                return
            } catch let error as QMIError where Self.alreadyStopped(error) {
                // The session already ended on its own (low-power, network drop): nothing to stop.
            }
            try await registry.dropSession(on: path, cid: session.clientID, releaseCID: true)
        }
    }

    private static func alreadyStopped(_ error: QMIError) -> Bool {
        error.hasProtocolCode(QMI_PROTOCOL_ERROR_NO_EFFECT) || error.hasProtocolCode(QMI_PROTOCOL_ERROR_OUT_OF_CALL)
    }

    public func setOperatingMode(_ modem: PluggedModem, _ mode: OperatingMode) async throws {
        try await changing(modem) { path in
            try await registry.client(.dms, on: path).setOperatingMode(mode)
        }
    }

    /// The modem's IMEI and SIM state, read without SYNC so that a running reconciler's sessions
    /// stay untouched: what `reconcile discover` shows.
    public func identity(_ modem: PluggedModem) async throws -> (imei: String, sim: SIMState) {
        try await guarded(modem) { path in
            try await registry.reclaimOrphans(on: path)
            let imei = try await registry.client(.dms, on: path).imei()
            return (imei, try await simStatus(on: path).sim)
        }
    }

    /// DMS Set Operating Mode reset (a recovery rung).
    func resetModem(_ modem: PluggedModem) async throws {
        try await changing(modem) { path in
            try await registry.client(.dms, on: path).resetModem()
        }
    }

    /// Closes the modem's device without talking to it, so that the next call opens it afresh.
    func discard(_ modem: PluggedModem) async {
        await registry.discard(modem.controlDevice)
    }

    /// Closes every device, keeping data sessions and their client ids alive in the modems —
    /// what a reconciler does on exit, so the next run finds and reuses them.
    public func shutdown() async {
        await registry.closeAll()
    }

    /// `guarded` for a call that changes the modem: its last look no longer says what it is.
    private func changing<T: Sendable>(_ modem: PluggedModem, _ body: (String) async throws -> T) async throws -> T {
        await registry.remember(nil, on: modem.controlDevice)
        return try await guarded(modem, body)
    }

    /// Runs `body` on the modem's control device; a timeout, a hang-up or a helper client id the
    /// modem forgot (it reset without leaving the bus) closes the device for a fresh start. After
    /// a timeout the modem is asked with the shorter `unansweredTimeout` until it answers.
    private func guarded<T: Sendable>(_ modem: PluggedModem, _ body: (String) async throws -> T) async throws -> T {
        do {
            let result = try await body(modem.controlDevice)
            await registry.answered(on: modem.controlDevice)
            return result
        } catch let error as QMIError where error.kind == .timeout || error.kind == .modemGone || error.isUnknownClient {
            await registry.discard(modem.controlDevice, forgetHelpers: error.isUnknownClient, unanswered: error.kind == .timeout)
            throw error
        }
    }
}
