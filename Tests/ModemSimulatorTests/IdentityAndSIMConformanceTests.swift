import ModemSimulator
import Testing

/// qmicli against the simulator: identity, operating mode and the SIM.
// Without qmicli (outside CI) there is nothing to judge conformance with; in CI it must exist.
@Suite(.enabled(if: Qmicli.canRun, "qmicli (Debian libqmi-utils) is not installed"))
struct IdentityAndSIMConformanceTests {
    @Test func getIDsReportsTheConfiguredIMEI() async throws {
        let modem = try LinkedModem(.init(imei: "861234050000042"))
        defer { modem.close() }
        let output = try await modem.qmicli("--dms-get-ids")
        #expect(output.contains("IMEI: '861234050000042'"))
    }

    @Test func manufacturerModelAndRevision() async throws {
        let modem = try LinkedModem(.init(manufacturer: "Quectel", model: "EC25", revision: "EC25EFAR06A06M4G"))
        defer { modem.close() }
        #expect(try await modem.qmicli("--dms-get-manufacturer").contains("Manufacturer: 'Quectel'"))
        #expect(try await modem.qmicli("--dms-get-model").contains("Model: 'EC25'"))
        #expect(try await modem.qmicli("--dms-get-revision").contains("Revision: 'EC25EFAR06A06M4G'"))
    }

    @Test func operatingModeLowPowerAndBack() async throws {
        let modem = try LinkedModem()
        defer { modem.close() }
        #expect(try await modem.qmicli("--dms-get-operating-mode").contains("Mode: 'online'"))
        #expect(try await modem.qmicli("--dms-set-operating-mode=low-power").contains("Operating mode set successfully"))
        #expect(try await modem.qmicli("--dms-get-operating-mode").contains("Mode: 'low-power'"))
        #expect(try await modem.qmicli("--dms-set-operating-mode=online").contains("Operating mode set successfully"))
        #expect(try await modem.qmicli("--dms-get-operating-mode").contains("Mode: 'online'"))
    }

    @Test func simWithoutPINIsReady() async throws {
        let modem = try LinkedModem()
        defer { modem.close() }
        let output = try await modem.qmicli("--uim-get-card-status")
        #expect(output.contains("Card state: 'present'"))
        #expect(output.contains("Application state: 'ready'"))
        #expect(output.contains("PIN1 state: 'disabled'"))
        let verify = try await modem.qmicliFailing("--uim-verify-pin=PIN1,0000")
        #expect(verify.contains("'NoEffect'"))
    }

    @Test func pinRequiredThenUnlocked() async throws {
        let modem = try LinkedModem(.init(pin: "1234"))
        defer { modem.close() }
        let locked = try await modem.qmicli("--uim-get-card-status")
        #expect(locked.contains("Application state: 'pin1-or-upin-pin-required'"))
        #expect(locked.contains("PIN1 state: 'enabled-not-verified'"))
        #expect(locked.contains("PIN1 retries: '3'"))

        let wrong = try await modem.qmicliFailing("--uim-verify-pin=PIN1,1111")
        #expect(wrong.contains("QMI protocol error (12): 'IncorrectPin'"))
        #expect(wrong.contains("Verify: 2"))
        #expect(modem.modem.snapshot().sim == .pinRequired(retriesLeft: 2))

        #expect(try await modem.qmicli("--uim-verify-pin=PIN1,1234").contains("PIN verified successfully"))
        let ready = try await modem.qmicli("--uim-get-card-status")
        #expect(ready.contains("Application state: 'ready'"))
        #expect(ready.contains("PIN1 state: 'enabled-verified'"))
        #expect(ready.contains("PIN1 retries: '3'"))
        #expect(modem.modem.snapshot().sim == .ready)
        #expect(!"\(modem.modem.configuration)".contains("1234"))
        #expect(!String(reflecting: modem.modem.configuration).contains("1234"))
    }

    @Test func threeWrongPINsLockToPUK() async throws {
        let modem = try LinkedModem(.init(pin: "1234"))
        defer { modem.close() }
        for left in [2, 1, 0] {
            let output = try await modem.qmicliFailing("--uim-verify-pin=PIN1,9999")
            #expect(output.contains("'IncorrectPin'"))
            #expect(output.contains("Verify: \(left)"))
        }
        let status = try await modem.qmicli("--uim-get-card-status")
        #expect(status.contains("Application state: 'puk1-or-upin-puk-required'"))
        #expect(status.contains("PIN1 state: 'blocked'"))
        #expect(status.contains("PUK1 retries: '10'"))
        let blocked = try await modem.qmicliFailing("--uim-verify-pin=PIN1,1234")
        #expect(blocked.contains("QMI protocol error (35): 'PinBlocked'"))
        #expect(modem.modem.snapshot().sim == .pukLocked)
    }

    @Test func pukLockedFromTheStart() async throws {
        let modem = try LinkedModem(.init(pin: "1234", pukLocked: true))
        defer { modem.close() }
        #expect(try await modem.qmicli("--uim-get-card-status").contains("PIN1 state: 'blocked'"))
        #expect(try await modem.qmicliFailing("--uim-verify-pin=PIN1,1234").contains("'PinBlocked'"))
    }

    @Test func legacyDMSPINRequests() async throws {
        let modem = try LinkedModem(.init(pin: "1234"))
        defer { modem.close() }
        let before = try await modem.qmicli("--dms-uim-get-pin-status")
        #expect(before.contains("Status: enabled-not-verified"))
        #expect(before.contains("Verify: 3"))
        #expect(try await modem.qmicli("--dms-uim-verify-pin=PIN,1234").contains("PIN verified successfully"))
        #expect(try await modem.qmicli("--dms-uim-get-pin-status").contains("Status: enabled-verified"))
    }

    @Test func oldFirmwareWithoutUIMService() async throws {
        let modem = try LinkedModem(.init(pin: "1234", hasUIMService: false))
        defer { modem.close() }
        let versions = try await modem.qmicli("--get-service-version-info")
        #expect(!versions.contains("uim ("))
        #expect(versions.contains("dms ("))
        let uim = try await modem.qmicliFailing("--uim-get-card-status")
        #expect(uim.contains("'InvalidServiceType'"), "\(uim)")
        #expect(try await modem.qmicli("--dms-uim-verify-pin=PIN,1234").contains("PIN verified successfully"))
        #expect(modem.modem.snapshot().sim == .ready)
    }

    @Test func registrationNeedsAReadySIM() async throws {
        let modem = try LinkedModem(.init(pin: "1234"))
        defer { modem.close() }
        let locked = try await modem.qmicli("--nas-get-serving-system")
        #expect(locked.contains("Registration state: 'not-registered'"))
        _ = try await modem.qmicli("--uim-verify-pin=PIN1,1234")
        let registered = try await modem.qmicli("--nas-get-serving-system")
        #expect(registered.contains("Registration state: 'registered'"))
    }
}
