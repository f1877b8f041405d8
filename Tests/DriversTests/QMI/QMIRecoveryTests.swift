import Drivers
import Foundation
import ModemSimulator
import Reconciler
import Testing

@Suite("QMI driver against the simulator: recovery without leaks")
struct QMIRecoveryTests {
    private let helpers: [ModemSimulator.QMIService] = [.dms, .uim, .wda, .nas]

    @Test("a PUK-locked SIM is reported, and a PIN attempt fails as SimPukRequired")
    func pukLocked() async throws {
        try await withBench(.init(pin: "4711", pukLocked: true)) { bench in
            let control = bench.control()
            defer { Task { await control.shutdown() } }
            let state = try await control.observe(bench.plugged, remembered: nil)
            #expect(state.sim == .pukRequired)
            let (error, _) = await expectQMIError { try await control.unlockSIM(bench.plugged, pin: "4711") }
            #expect(error?.reason == "SimPukRequired")
            #expect(error?.message.contains("4711") == false)
        }
    }

    @Test("after a timeout the reopened device (even under concurrent calls) reuses the session and each helper's client id")
    func timeoutDoesNotLeakClientIDs() async throws {
        try await withBench { bench in
            let control = bench.control(timeout: .seconds(1))
            defer { Task { await control.shutdown() } }
            let (session, _) = try await control.connect(bench.plugged, apn: "internet", ipType: .ipv4, reusing: nil)
            _ = try await control.observe(bench.plugged, remembered: session)
            let before = bench.modem.snapshot().clients
            bench.modem.inject(.noAnswer(includingControl: true))
            let (error, _) = await expectQMIError { _ = try await control.observe(bench.plugged, remembered: session) }
            #expect(error?.reason == "Timeout")
            bench.modem.inject(nil)
            let sessions = try await withThrowingTaskGroup(of: Reconciler.DataSession?.self) { group in
                for _ in 0..<4 { group.addTask { try await control.observe(bench.plugged, remembered: session).session } }
                return try await group.reduce(into: [Reconciler.DataSession?]()) { $0.append($1) }
            }
            #expect(sessions == Array(repeating: session, count: 4))
            #expect(bench.modem.snapshot().clients == before)
            for service in helpers { #expect(before[service, default: []].count == 1, "\(service)") }
        }
    }

    @Test("a reopen after a timeout binds the helpers' old client ids again")
    func timeoutWithoutSessionSyncs() async throws {
        try await withBench { bench in
            let control = bench.control(timeout: .seconds(1))
            defer { Task { await control.shutdown() } }
            _ = try await control.observe(bench.plugged, remembered: nil)
            bench.modem.inject(.noAnswer(includingControl: false))
            _ = await expectQMIError { _ = try await control.observe(bench.plugged, remembered: nil) }
            bench.modem.inject(nil)
            _ = try await control.observe(bench.plugged, remembered: nil)
            let clients = bench.modem.snapshot().clients
            for service in helpers { #expect(clients[service, default: []].count == 1, "\(service)") }
        }
    }

    @Test("after a restart, a first call that knows nothing of sessions keeps them: no open ever syncs")
    func restartFirstCallKeepsSession() async throws {
        try await withBench { bench in
            let first = bench.control()
            let (session, _) = try await first.connect(bench.plugged, apn: "internet", ipType: .ipv4, reusing: nil)
            await first.shutdown()
            let second = bench.control()
            defer { Task { await second.shutdown() } }
            try await second.setOperatingMode(bench.plugged, .online)
            #expect(try await second.observe(bench.plugged, remembered: session).session == session)
            #expect(bench.requests(.ctl, 0x0027) == 0, "a sync would end other processes' sessions")
        }
    }

    @Test("after a modem reboot the stale session is reported gone and connect gets a new client id")
    func rebootDropsStaleClientID() async throws {
        try await withBench { bench in
            let control = bench.control()
            defer { Task { await control.shutdown() } }
            let (session, _) = try await control.connect(bench.plugged, apn: "internet", ipType: .ipv4, reusing: nil)
            bench.modem.stop()
            let (unplugged, _) = await expectQMIError { _ = try await control.observe(bench.plugged, remembered: session) }
            #expect(unplugged?.reason == "ModemGone")
            try bench.modem.start(linkingAt: bench.plugged.controlDevice)
            #expect(try await control.observe(bench.plugged, remembered: session).session == nil)
            try await control.disconnect(bench.plugged, session: session)
            let (fresh, settings) = try await control.connect(bench.plugged, apn: "internet", ipType: .ipv4, reusing: session.clientID)
            let snapshot = bench.modem.snapshot()
            #expect(snapshot.sessions.map(\.clientID) == [fresh.clientID])
            #expect(snapshot.clients[.wds, default: []].count == 2 && snapshot.clients[.wds, default: []].contains(fresh.clientID),
                    "the new session's id and this process's own WDS client")
            #expect(snapshot.sessions.map(\.address.description) == [settings.address])
        }
    }
}
