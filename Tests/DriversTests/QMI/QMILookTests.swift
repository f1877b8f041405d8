import Drivers
import Foundation
import ModemSimulator
import Reconciler
import Testing

/// Between full looks, a connected modem is asked only whether its call is up (docs/status.md,
/// "How fresh"): what that saves must never hide a modem that changed or stopped answering.
@Suite("QMI driver against the simulator: the look between full looks")
struct QMILookTests {
    private let getIDs: UInt16 = 0x0025
    private let packetServiceStatus: UInt16 = 0x0022

    @Test("a connected modem is asked one question; a dropped call or a change made to the modem makes the next look full")
    func oneQuestionWhileTheCallIsUp() async throws {
        try await withBench { bench in
            let control = bench.control()
            defer { Task { await control.shutdown() } }
            try await control.setRawIP(bench.plugged)
            let (session, _) = try await control.connect(bench.plugged, apn: "internet", ipType: .ipv4, reusing: nil)
            let full = try await control.observe(bench.plugged, remembered: session)
            #expect(full.session == session)
            let identityReads = bench.requests(.dms, getIDs)
            let statusReads = bench.requests(.wds, packetServiceStatus)

            bench.modem.setSignal(.init(rssi: -90, rsrq: -15, rsrp: -110, snr: 1))
            let quick = try await control.observe(bench.plugged, remembered: session)
            #expect(quick == full, "the rest comes from the full look, the signal included")
            #expect(bench.requests(.dms, getIDs) == identityReads)
            #expect(bench.requests(.wds, packetServiceStatus) == statusReads + 1)

            try await control.setOperatingMode(bench.plugged, .online)
            let afterChange = try await control.observe(bench.plugged, remembered: session)
            #expect(bench.requests(.dms, getIDs) == identityReads + 1, "a change made to the modem makes a full look")
            #expect(afterChange.signal.rssi == -90)

            bench.modem.setCoverage(false)
            let dropped = try await control.observe(bench.plugged, remembered: session)
            #expect(dropped.session == nil)
            #expect(dropped.registration.registered == false)
            #expect(bench.requests(.dms, getIDs) == identityReads + 2, "a call that ended makes a full look")
        }
    }

    @Test("a modem that stops answering fails the look between full looks, within the timeout")
    func aHungModemFailsTheQuickLook() async throws {
        try await withBench { bench in
            let control = bench.control(timeout: .seconds(1))
            defer { Task { await control.shutdown() } }
            try await control.setRawIP(bench.plugged)
            let (session, _) = try await control.connect(bench.plugged, apn: "internet", ipType: .ipv4, reusing: nil)
            _ = try await control.observe(bench.plugged, remembered: session)
            bench.modem.inject(.noAnswer(includingControl: false))
            let (error, elapsed) = await expectQMIError { _ = try await control.observe(bench.plugged, remembered: session) }
            #expect(error?.reason == "Timeout")
            #expect(error?.message.contains("Get Packet Service Status") == true)
            #expect(elapsed < .seconds(4))
            bench.modem.inject(nil)
            let again = try await control.observe(bench.plugged, remembered: session)
            #expect(again.session == session, "after the timeout the device is opened afresh and looked at fully")
        }
    }

    /// A hung modem must not hold up its host's passes (and every other modem's news) for the full
    /// timeout at every look: once it left a request unanswered, it is asked with the short one
    /// until it answers, and then with the full one again.
    @Test("a modem that left a request unanswered is asked with the short timeout until it answers")
    func aHungModemIsAskedWithTheShortTimeout() async throws {
        try await withBench { bench in
            let control = bench.control(timeout: .seconds(4), unansweredTimeout: .seconds(1), viaProxy: true)
            defer { Task { await control.shutdown() } }
            let (session, _) = try await control.connect(bench.plugged, apn: "internet", ipType: .ipv4, reusing: nil)
            _ = try await control.observe(bench.plugged, remembered: session)
            bench.modem.inject(.noAnswer(includingControl: true))
            let first = await expectQMIError { _ = try await control.observe(bench.plugged, remembered: session) }
            #expect(first.error?.reason == "Timeout" && first.elapsed > .milliseconds(3500), "the first request waits the full timeout")
            let second = await expectQMIError { _ = try await control.observe(bench.plugged, remembered: session) }
            #expect(second.error?.reason == "Timeout" && second.elapsed < .milliseconds(3000), "then the short one: \(second.elapsed)")
            bench.modem.inject(nil)
            _ = try await control.observe(bench.plugged, remembered: session)
            bench.modem.inject(.noAnswer(includingControl: true))
            let after = await expectQMIError { _ = try await control.observe(bench.plugged, remembered: session) }
            #expect(after.error?.reason == "Timeout" && after.elapsed > .milliseconds(3500), "an answer gave it the full timeout back")
        }
    }
}
