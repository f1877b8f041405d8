import Drivers
import Foundation
import ModemSimulator
import Reconciler
import Testing

@Suite("QMI driver against the simulator: connection sequence")
struct QMIConnectTests {
    @Test("observe, raw-IP, connect, observe the live session, disconnect")
    func fullConnectSequence() async throws {
        let dns = [IPv4Address(198, 51, 100, 53), IPv4Address(198, 51, 100, 54)]
        try await withBench(.init(imei: "359072060000042", dns: dns, mtu: 1400)) { bench in
            let control = bench.control()
            defer { Task { await control.shutdown() } }
            let first = try await control.observe(bench.plugged, remembered: nil)
            #expect(first.imei == "359072060000042")
            #expect(first.sim == .ready)
            #expect(first.operatingMode == .online)
            #expect(first.rawIPAgreed == false)
            #expect(first.registration == Registration(registered: true, operatorName: "ProxyFarm Sim", radioTechnology: "lte"))
            #expect(first.signal == SignalInfo(rssi: -65, rsrp: -95, rsrq: -9, snr: 13.0))
            #expect(first.session == nil)

            try await control.setRawIP(bench.plugged)
            #expect(try bench.kernelRawIP() == "Y")
            #expect(bench.modem.snapshot().linkLayer == .rawIP)

            let (session, settings) = try await control.connect(bench.plugged, apn: "internet", ipType: .ipv4, reusing: nil)
            let simSessions = bench.modem.snapshot().sessions
            #expect(simSessions.map(\.clientID) == [session.clientID])
            #expect(simSessions.map(\.packetDataHandle) == [session.packetDataHandle])
            #expect(simSessions.map(\.address.description) == [settings.address])
            #expect(settings.address.hasPrefix("100.64.1."))
            #expect(settings.prefixLength == 24)
            #expect(settings.gateway == "100.64.1.1")
            #expect(settings.dns == ["198.51.100.53", "198.51.100.54"])
            #expect(settings.mtu == 1400)

            let connected = try await control.observe(bench.plugged, remembered: session)
            #expect(connected.rawIPAgreed)
            #expect(connected.session == session)
            #expect(connected.settings == settings)

            try await control.disconnect(bench.plugged, session: session)
            let after = bench.modem.snapshot()
            #expect(after.sessions.isEmpty)
            #expect(!after.clients[.wds, default: []].contains(session.clientID))
            #expect(try await control.observe(bench.plugged, remembered: session).session == nil)
        }
    }

    @Test("connect with APN credentials; the credentials never print their password")
    func connectWithAuth() async throws {
        try await withBench(.init(requiredCredentials: .init(username: "farm", password: "s3cret-apn"))) { bench in
            let control = bench.control()
            defer { Task { await control.shutdown() } }
            let auth = APNAuth(method: .chap, username: "farm", password: "s3cret-apn")
            let (session, settings) = try await control.connect(bench.plugged, apn: "internet", ipType: .ipv4, auth: auth, reusing: nil)
            #expect(bench.modem.snapshot().sessions.map(\.clientID) == [session.clientID])
            #expect(settings.address.hasPrefix("100.64.1."))
            #expect(!"\(auth)".contains("s3cret-apn"))
            try await control.disconnect(bench.plugged, session: session)
            let wrong = APNAuth(method: .chap, username: "farm", password: "not-it")
            let (error, _) = await expectQMIError {
                _ = try await control.connect(bench.plugged, apn: "internet", ipType: .ipv4, auth: wrong, reusing: nil)
            }
            #expect(error?.reason == "QmiError")
            #expect(error?.message.contains("not-it") == false)
            var dumped = ""
            dump(auth, to: &dumped)
            #expect(!dumped.contains("s3cret-apn"))
        }
    }

    @Test("a SIM asking for its PIN is unlocked with one Verify PIN")
    func pinRequiredThenUnlocked() async throws {
        try await withBench(.init(pin: "4711")) { bench in
            let control = bench.control()
            defer { Task { await control.shutdown() } }
            let locked = try await control.observe(bench.plugged, remembered: nil)
            #expect(locked.sim == .pinRequired)
            #expect(locked.pinRetriesLeft == 3)
            try await control.unlockSIM(bench.plugged, pin: "4711")
            let unlocked = try await control.observe(bench.plugged, remembered: nil)
            #expect(unlocked.sim == .ready)
            #expect(unlocked.pinRetriesLeft == nil)
            #expect(bench.modem.snapshot().sim == .ready)
        }
    }

    @Test("a wrong PIN is a WrongPin error, tried exactly once, and never echoes the PIN")
    func wrongPinIsNotRetried() async throws {
        try await withBench(.init(pin: "4711")) { bench in
            let control = bench.control()
            defer { Task { await control.shutdown() } }
            let (error, _) = await expectQMIError { try await control.unlockSIM(bench.plugged, pin: "9876") }
            let failure = try #require(error)
            #expect(failure.reason == "WrongPin")
            #expect(failure.message.contains("IncorrectPin"))
            #expect(failure.message.contains("2 PIN tries left"))
            #expect(!failure.message.contains("9876"))
            #expect(!"\(failure)".contains("9876"))
            #expect(bench.modem.snapshot().sim == .pinRequired(retriesLeft: 2))
            #expect(bench.requests(.uim, 0x0026) == 1)
            let state = try await control.observe(bench.plugged, remembered: nil)
            #expect(state.sim == .pinRequired)
            #expect(state.pinRetriesLeft == 2)
        }
    }

    @Test("old firmware without UIM: SIM state and PIN through DMS, a wrong PIN tried once")
    func legacySIMThroughDMS() async throws {
        try await withBench(.init(pin: "4711", hasUIMService: false)) { bench in
            let control = bench.control()
            defer { Task { await control.shutdown() } }
            let locked = try await control.observe(bench.plugged, remembered: nil)
            #expect(locked.sim == .pinRequired)
            #expect(locked.pinRetriesLeft == 3)
            let (error, _) = await expectQMIError { try await control.unlockSIM(bench.plugged, pin: "1111") }
            #expect(error?.reason == "WrongPin")
            #expect(error?.message.contains("DMS UIM Verify PIN") == true)
            #expect(error?.message.contains("1111") == false)
            #expect(bench.modem.snapshot().sim == .pinRequired(retriesLeft: 2))
            #expect(bench.requests(.dms, 0x0028) == 1)
            try await control.unlockSIM(bench.plugged, pin: "4711")
            #expect(try await control.observe(bench.plugged, remembered: nil).sim == .ready)
            #expect(bench.modem.snapshot().clients[.uim, default: []].isEmpty)
        }
    }

    @Test("rotation: low-power, online and connect again gives a new address")
    func rotationGivesNewAddress() async throws {
        let (before, after) = try await rotate(sticky: false)
        #expect(before != after)
    }

    @Test("rotation on a sticky carrier gives the same address back")
    func stickyRotationKeepsAddress() async throws {
        let (before, after) = try await rotate(sticky: true)
        #expect(before == after)
    }

    private func rotate(sticky: Bool) async throws -> (String, String) {
        var addresses: (String, String) = ("", "")
        try await withBench(.init(stickyIP: sticky)) { bench in
            let control = bench.control()
            defer { Task { await control.shutdown() } }
            let (session, first) = try await control.connect(bench.plugged, apn: "internet", ipType: .ipv4, reusing: nil)
            try await control.setOperatingMode(bench.plugged, .lowPower)
            #expect(try await control.observe(bench.plugged, remembered: session).operatingMode == .lowPower)
            #expect(try await control.observe(bench.plugged, remembered: session).session == nil)
            try await control.setOperatingMode(bench.plugged, .online)
            let (again, second) = try await control.connect(bench.plugged, apn: "internet", ipType: .ipv4, reusing: session.clientID)
            #expect(again.clientID == session.clientID)
            #expect(bench.modem.snapshot().clients[.wds, default: []].count <= 2, "the session's id and at most this process's own WDS client")
            addresses = (first.address, second.address)
        }
        return addresses
    }
}
