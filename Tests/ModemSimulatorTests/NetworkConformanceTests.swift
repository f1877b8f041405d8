import ModemSimulator
import Testing

/// qmicli against the simulator: registration, signal and the data format.
// Without qmicli (outside CI) there is nothing to judge conformance with; in CI it must exist.
@Suite(.enabled(if: Qmicli.canRun, "qmicli (Debian libqmi-utils) is not installed"))
struct NetworkConformanceTests {
    @Test func servingSystemWhenRegistered() async throws {
        let modem = try LinkedModem(.init(operatorName: "Lab Carrier", mcc: 999, mnc: 42))
        defer { modem.close() }
        let output = try await modem.qmicli("--nas-get-serving-system")
        #expect(output.contains("Registration state: 'registered'"))
        #expect(output.contains("PS: 'attached'"))
        #expect(output.contains("[0]: 'lte'"))
        #expect(output.contains("MCC: '999'"))
        #expect(output.contains("MNC: '42'"))
        #expect(output.contains("Description: 'Lab Carrier'"))
    }

    @Test func lowPowerDeregisters() async throws {
        let modem = try LinkedModem()
        defer { modem.close() }
        _ = try await modem.qmicli("--dms-set-operating-mode=low-power")
        let output = try await modem.qmicli("--nas-get-serving-system")
        #expect(output.contains("Registration state: 'not-registered'"))
        #expect(output.contains("PS: 'detached'"))
        #expect(!output.contains("Current PLMN"))
        #expect(!(try await modem.qmicli("--nas-get-signal-info")).contains("RSSI"))
    }

    @Test func lteSignalInfo() async throws {
        let modem = try LinkedModem(.init(signal: .init(rssi: -71, rsrq: -11, rsrp: -103, snr: 7.5)))
        defer { modem.close() }
        let output = try await modem.qmicli("--nas-get-signal-info")
        #expect(output.contains("LTE:"))
        #expect(output.contains("RSSI: '-71 dBm'"))
        #expect(output.contains("RSRQ: '-11 dB'"))
        #expect(output.contains("RSRP: '-103 dBm'"))
        #expect(output.contains("SNR: '7.5 dB'"))

        modem.modem.setSignal(.init(rssi: -90, rsrq: -15, rsrp: -118, snr: -2.0))
        let weaker = try await modem.qmicli("--nas-get-signal-info")
        #expect(weaker.contains("RSRP: '-118 dBm'"))
        #expect(weaker.contains("SNR: '-2.0 dB'"))
    }

    @Test func umtsSignalAndRadioInterface() async throws {
        let modem = try LinkedModem(.init(radioTechnology: .umts, signal: .init(rssi: -80, ecio: -7.5)))
        defer { modem.close() }
        let signal = try await modem.qmicli("--nas-get-signal-info")
        #expect(signal.contains("WCDMA:"))
        #expect(signal.contains("RSSI: '-80 dBm'"))
        #expect(signal.contains("ECIO: '-7.5 dBm'"))
        #expect(try await modem.qmicli("--nas-get-serving-system").contains("[0]: 'umts'"))
    }

    @Test func dataFormatSwitchesToRawIP() async throws {
        let modem = try LinkedModem()
        defer { modem.close() }
        #expect(try await modem.qmicli("--wda-get-data-format").contains("Link layer protocol: '802-3'"))
        let set = try await modem.qmicli("--wda-set-data-format=link-layer-protocol=raw-ip")
        #expect(set.contains("Link layer protocol: 'raw-ip'"))
        #expect(try await modem.qmicli("--wda-get-data-format").contains("Link layer protocol: 'raw-ip'"))
        #expect(modem.modem.snapshot().linkLayer == .rawIP)
    }
}
