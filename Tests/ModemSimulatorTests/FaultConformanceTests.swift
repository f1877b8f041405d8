import Foundation
import ModemSimulator
import Testing

/// Faults on demand, as qmicli (and so libqmi) experiences them.
// Without qmicli (outside CI) there is nothing to judge conformance with; in CI it must exist.
@Suite(.enabled(if: Qmicli.canRun, "qmicli (Debian libqmi-utils) is not installed"))
struct FaultConformanceTests {
    @Test func errorRepliesFailEveryServiceRequest() async throws {
        let modem = try LinkedModem()
        defer { modem.close() }
        modem.modem.inject(.errorReplies(.internal))
        let output = try await modem.qmicliFailing("--dms-get-ids")
        #expect(output.contains("QMI protocol error (3): 'Internal'"))
        modem.modem.inject(nil)
        #expect(try await modem.qmicli("--dms-get-ids").contains("IMEI: '359072060000001'"))
    }

    @Test func silentServiceTimesOut() async throws {
        let modem = try LinkedModem()
        defer { modem.close() }
        modem.modem.inject(.noAnswer(includingControl: false))
        let result = try await Qmicli.run(modem.device, ["--dms-get-ids"])
        #expect(result.status != 0)
        #expect(result.output.contains("error: operation failed: Transaction timed out"), "\(result.output)")
        let dms = modem.modem.snapshot().requests.filter { $0.service == QMIService.dms.rawValue }
        #expect(dms.map(\.messageID) == [0x0025])
    }

    @Test func silentModemTimesOutClientAllocation() async throws {
        let modem = try LinkedModem()
        defer { modem.close() }
        modem.modem.inject(.noAnswer(includingControl: true))
        let result = try await Qmicli.run(modem.device, ["--dms-get-ids"])
        #expect(result.status != 0)
        #expect(result.output.contains("Transaction timed out"), "\(result.output)")
        #expect(modem.modem.snapshot().clients.isEmpty)
    }

    @Test func goneModemHasNoDevice() async throws {
        let modem = try LinkedModem()
        defer { modem.close() }
        modem.modem.inject(.gone)
        #expect(!modem.modem.isServing)
        #expect(!FileManager.default.fileExists(atPath: modem.device))
        let output = try await modem.qmicliFailing("--dms-get-ids")
        #expect(output.contains("No such file or directory"))
    }

    @Test func vanishingMidCallEndsTheCallEarly() async throws {
        let modem = try LinkedModem()
        defer { modem.close() }
        modem.modem.inject(.noAnswer(includingControl: false))
        async let call = Qmicli.run(modem.device, ["--dms-get-ids"])
        let clock = ContinuousClock()
        let deadline = clock.now + .seconds(5)
        while !modem.modem.snapshot().requests.contains(where: { $0.service == QMIService.dms.rawValue }),
              clock.now < deadline {
            try await Task.sleep(for: .milliseconds(10))
        }
        modem.modem.inject(.gone)
        let result = try await call
        #expect(result.status != 0)
        #expect(result.elapsed < .seconds(8), "qmicli waited for its timeout instead of seeing the hang-up")
        #expect(result.output.contains("error: operation failed: endpoint hangup"), "\(result.output)")
    }

    @Test func replugRebootsTheModem() async throws {
        let modem = try LinkedModem(.init(pin: "1234"))
        defer { modem.close() }
        _ = try await modem.qmicli("--uim-verify-pin=PIN1,1234")
        let first = try await DataSessionConformanceTests.connect(modem)
        #expect(try await DataSessionConformanceTests.address(modem, first) == "100.64.1.2")

        modem.modem.inject(.gone)
        try modem.modem.start(linkingAt: modem.device)
        #expect(modem.modem.fault == nil)
        let snapshot = modem.modem.snapshot()
        #expect(snapshot.sim == .pinRequired(retriesLeft: 3))
        #expect(snapshot.sessions.isEmpty)
        #expect(snapshot.clients.isEmpty)

        _ = try await modem.qmicli("--uim-verify-pin=PIN1,1234")
        let second = try await DataSessionConformanceTests.connect(modem)
        #expect(try await DataSessionConformanceTests.address(modem, second) == "100.64.1.3")
    }
}
