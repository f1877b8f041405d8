import Drivers
import Foundation
import ModemSimulator
import Reconciler
import Testing

@Suite("QMI driver against the simulator: faults and restarts")
struct QMIFaultTests {
    /// libqmi counts whole seconds on coarse GLib timers and the Swift guard adds 0.7 s; the rest
    /// is room for a loaded 2-core CI machine running every suite in parallel.
    private let margin: Duration = .seconds(3)

    @Test("a modem that stops answering gives a Timeout within the timeout")
    func noAnswerIsATimeout() async throws {
        try await withBench { bench in
            let control = bench.control(timeout: .seconds(1))
            defer { Task { await control.shutdown() } }
            _ = try await control.observe(bench.plugged, remembered: nil)
            bench.modem.inject(.noAnswer(includingControl: false))
            let (error, elapsed) = await expectQMIError { _ = try await control.observe(bench.plugged, remembered: nil) }
            #expect(error?.reason == "Timeout")
            #expect(error?.message.contains("DMS Get IDs") == true)
            #expect(elapsed < .seconds(1) + margin)
        }
    }

    @Test("a hung modem on a fresh open (no CTL answer either) times out too")
    func noAnswerAtOpenIsATimeout() async throws {
        try await withBench { bench in
            bench.modem.inject(.noAnswer(includingControl: true))
            let control = bench.control(timeout: .seconds(1))
            defer { Task { await control.shutdown() } }
            let (error, elapsed) = await expectQMIError { _ = try await control.observe(bench.plugged, remembered: nil) }
            #expect(error?.reason == "Timeout")
            #expect(elapsed < .seconds(1) + margin)
        }
    }

    @Test("an error reply is a QmiError carrying libqmi's message and the protocol code")
    func errorReplyIsTyped() async throws {
        try await withBench { bench in
            let control = bench.control(timeout: .seconds(2))
            defer { Task { await control.shutdown() } }
            bench.modem.inject(.errorReplies(.internal))
            let (error, elapsed) = await expectQMIError {
                _ = try await control.connect(bench.plugged, apn: "internet", ipType: .ipv4, reusing: nil)
            }
            let failure = try #require(error)
            #expect(failure.reason == "QmiError")
            #expect(failure.protocolCode == 3)
            #expect(failure.message.contains("WDS Start Network"))
            #expect(failure.message.contains("Internal"))
            #expect(elapsed < .seconds(2) + margin)
        }
    }

    @Test("ipv4v6 gets an IPv4 session; IPv6-only is refused before the modem is asked")
    func ipFamilies() async throws {
        try await withBench { bench in
            let control = bench.control()
            defer { Task { await control.shutdown() } }
            let (_, settings) = try await control.connect(bench.plugged, apn: "internet", ipType: .ipv4v6, reusing: nil)
            #expect(settings.address.hasPrefix("100.64.1."))
            let before = bench.modem.snapshot()
            let (error, _) = await expectQMIError { _ = try await control.connect(bench.plugged, apn: "internet", ipType: .ipv6, reusing: nil) }
            #expect(error?.reason == "QmiUnsupported")
            #expect(bench.modem.snapshot().requests == before.requests)
            #expect(bench.modem.snapshot().clients == before.clients)
        }
    }

    @Test("lost coverage: not registered, and connect fails with the call end reason")
    func lostCoverage() async throws {
        try await withBench { bench in
            let control = bench.control()
            defer { Task { await control.shutdown() } }
            bench.modem.setCoverage(false)
            let state = try await control.observe(bench.plugged, remembered: nil)
            #expect(state.registration.registered == false)
            #expect(state.signal == SignalInfo())
            let (error, _) = await expectQMIError {
                _ = try await control.connect(bench.plugged, apn: "internet", ipType: .ipv4, reusing: nil)
            }
            #expect(error?.reason == "QmiError")
            #expect(error?.message.contains("CallFailed") == true)
            #expect(error?.message.contains("call end reason") == true)
            _ = await expectQMIError { _ = try await control.connect(bench.plugged, apn: "internet", ipType: .ipv4, reusing: nil) }
            #expect(bench.modem.snapshot().clients[.wds, default: []].isEmpty, "failed connects leaked WDS client ids")
        }
    }

    @Test("the modem vanishing mid-call ends the call with ModemGone, before the timeout")
    func modemGoneMidCall() async throws {
        try await withBench { bench in
            let control = bench.control(timeout: .seconds(10))
            defer { Task { await control.shutdown() } }
            _ = try await control.observe(bench.plugged, remembered: nil)
            bench.modem.inject(.noAnswer(includingControl: true))
            let clock = ContinuousClock()
            let start = clock.now
            async let pending = expectQMIError { _ = try await control.observe(bench.plugged, remembered: nil) }
            try await Task.sleep(for: .milliseconds(300))
            bench.modem.inject(.gone)
            let (error, _) = await pending
            #expect(error?.reason == "ModemGone")
            #expect(clock.now - start < .seconds(5), "ended by the hang-up, not by the 10 s timeout")
            let (again, _) = await expectQMIError { _ = try await control.observe(bench.plugged, remembered: nil) }
            #expect(again?.reason == "ModemGone")
        }
    }

    @Test("a control device that does not exist is ModemGone, not a hang")
    func missingDevice() async throws {
        let control = QMIModemControl(options: QMIOpenOptions(timeout: .seconds(1)))
        let plugged = PluggedModem(usbPath: "/sys/devices/none", portPath: "9-9", vendorID: "0000", productID: "0000",
                                   controlDevice: "/dev/pf\(getpid())-no-such-cdc-wdm")
        let (error, elapsed) = await expectQMIError { _ = try await control.observe(plugged, remembered: nil) }
        #expect(error?.reason == "ModemGone")
        #expect(elapsed < .seconds(1) + margin)
    }

    @Test("after a restart the saved client id is reused and its session found live")
    func restartReusesSession() async throws {
        try await withBench { bench in
            let first = bench.control()
            let (session, settings) = try await first.connect(bench.plugged, apn: "internet", ipType: .ipv4, reusing: nil)
            await first.shutdown()

            let second = bench.control()
            defer { Task { await second.shutdown() } }
            let state = try await second.observe(bench.plugged, remembered: session)
            #expect(state.session == session)
            #expect(state.settings == settings)
            let snapshot = bench.modem.snapshot()
            // The session's client id, and this process's own WDS client that looked at it.
            #expect(snapshot.clients[.wds, default: []].count == 2 && snapshot.clients[.wds, default: []].contains(session.clientID))
            #expect(snapshot.sessions.map(\.clientID) == [session.clientID])

            try await second.disconnect(bench.plugged, session: session)
            #expect(bench.modem.snapshot().sessions.isEmpty)
            #expect(bench.modem.snapshot().clients[.wds, default: []].count == 1)
            await second.shutdown()
            #expect(bench.modem.snapshot().clients[.wds, default: []].isEmpty)
        }
    }

    @Test("shutdown releases helper client ids but keeps the session's")
    func shutdownReleasesHelpers() async throws {
        try await withBench { bench in
            let control = bench.control()
            let (session, _) = try await control.connect(bench.plugged, apn: "internet", ipType: .ipv4, reusing: nil)
            _ = try await control.observe(bench.plugged, remembered: session)
            await control.shutdown()
            let clients = bench.modem.snapshot().clients
            #expect(clients[.wds, default: []] == [session.clientID])
            for service in [ModemSimulator.QMIService.dms, .uim, .wda, .nas] {
                #expect(clients[service, default: []].isEmpty, "\(service) client leaked")
            }
        }
    }
}
