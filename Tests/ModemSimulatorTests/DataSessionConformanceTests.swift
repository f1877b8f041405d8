import ModemSimulator
import Testing

/// qmicli against the simulator: start/stop network, current settings, rotation, client ids.
// Without qmicli (outside CI) there is nothing to judge conformance with; in CI it must exist.
@Suite(.enabled(if: Qmicli.canRun, "qmicli (Debian libqmi-utils) is not installed"))
struct DataSessionConformanceTests {
    struct Connection {
        var clientID: String
        var handle: String
    }

    static func connect(_ modem: LinkedModem, clientID: String? = nil) async throws -> Connection {
        var arguments = ["--wds-start-network=apn=internet,ip-type=4", "--client-no-release-cid"]
        if let clientID { arguments.append("--client-cid=\(clientID)") }
        let output = try await Qmicli.succeed(modem.device, arguments)
        #expect(output.contains("Network started"))
        return Connection(clientID: try capture(#"CID: '(\d+)'"#, in: output),
                          handle: try capture(#"Packet data handle: '(\d+)'"#, in: output))
    }

    static func address(_ modem: LinkedModem, _ connection: Connection) async throws -> String {
        let output = try await modem.qmicli("--wds-get-current-settings", "--client-cid=\(connection.clientID)",
                                            "--client-no-release-cid")
        return try capture(#"IPv4 address: (\S+)"#, in: output)
    }

    @Test func connectReportsSettingsAndStops() async throws {
        let pool = try #require(AddressPool(cidr: "100.64.7.0/24"))
        let modem = try LinkedModem(.init(addressPool: pool, mtu: 1430))
        defer { modem.close() }
        let connection = try await Self.connect(modem)

        let settings = try await modem.qmicli("--wds-get-current-settings", "--client-cid=\(connection.clientID)",
                                              "--client-no-release-cid")
        #expect(settings.contains("IP Family: IPv4"))
        #expect(settings.contains("IPv4 address: 100.64.7.2"))
        #expect(settings.contains("IPv4 subnet mask: 255.255.255.0"))
        #expect(settings.contains("IPv4 gateway address: 100.64.7.1"))
        #expect(settings.contains("IPv4 primary DNS: 198.51.100.53"))
        #expect(settings.contains("IPv4 secondary DNS: 198.51.100.54"))
        #expect(settings.contains("MTU: 1430"))

        let status = try await modem.qmicli("--wds-get-packet-service-status", "--client-cid=\(connection.clientID)",
                                            "--client-no-release-cid")
        #expect(status.contains("Connection status: 'connected'"))
        #expect(modem.modem.snapshot().sessions.map(\.packetDataHandle.description) == [connection.handle])

        let again = try await modem.qmicliFailing("--wds-start-network=apn=internet,ip-type=4",
                                                  "--client-cid=\(connection.clientID)", "--client-no-release-cid")
        #expect(again.contains("QMI protocol error (26): 'NoEffect'"))

        let stopped = try await modem.qmicli("--wds-stop-network=\(connection.handle)", "--client-cid=\(connection.clientID)",
                                             "--client-no-release-cid")
        #expect(stopped.contains("Network stopped"))
        let after = try await modem.qmicli("--wds-get-packet-service-status", "--client-cid=\(connection.clientID)")
        #expect(after.contains("Connection status: 'disconnected'"))
        #expect(modem.modem.snapshot().sessions.isEmpty)
        #expect(modem.modem.snapshot().clients[.wds, default: []].isEmpty)
    }

    /// One call per modem, as on real firmware: a second client's start answers NoEffect, sees
    /// the call as its own (status, settings) and may stop it with the global handle.
    @Test func aStartWhileTheCallIsUpAnswersNoEffectFromAnyClient() async throws {
        let modem = try LinkedModem()
        defer { modem.close() }
        let first = try await Self.connect(modem)
        let other = try capture(#"CID: '(\d+)'"#, in: try await modem.qmicli("--wds-noop", "--client-no-release-cid"))
        #expect(other != first.clientID)

        let again = try await modem.qmicliFailing("--wds-start-network=apn=internet,ip-type=4", "--client-cid=\(other)",
                                                  "--client-no-release-cid")
        #expect(again.contains("QMI protocol error (26): 'NoEffect'"))
        #expect(modem.modem.snapshot().sessions.count == 1)
        let status = try await modem.qmicli("--wds-get-packet-service-status", "--client-cid=\(other)", "--client-no-release-cid")
        #expect(status.contains("Connection status: 'connected'"))
        #expect(try await Self.address(modem, Connection(clientID: other, handle: "")) == (try await Self.address(modem, first)))

        let stopped = try await modem.qmicli("--wds-stop-network=disable-autoconnect", "--client-cid=\(other)")
        #expect(stopped.contains("Network stopped"))
        #expect(modem.modem.snapshot().sessions.isEmpty)
        #expect(modem.modem.snapshot().clients[.wds, default: []] == [UInt8(first.clientID)!])
    }

    /// The client-id table as firmware keeps it: 16 per service, exhausted after 16 kept ids, and
    /// a kept id released by another process (qmicli --client-cid) is free again.
    @Test func clientIdsAreBoundedAndAKeptIdCanBeReleasedByAnotherProcess() async throws {
        let modem = try LinkedModem()
        defer { modem.close() }
        var kept: [String] = []
        for _ in 0..<16 {
            kept.append(try capture(#"CID: '(\d+)'"#, in: try await modem.qmicli("--dms-get-ids", "--client-no-release-cid")))
        }
        #expect(Set(kept).count == 16)
        #expect(try await modem.qmicliFailing("--dms-get-ids", "--client-no-release-cid").contains("'ClientIdsExhausted'"))
        _ = try await modem.qmicli("--dms-get-ids", "--client-cid=\(kept[3])")
        #expect(modem.modem.snapshot().clients[.dms, default: []].count == 15)
        _ = try await modem.qmicli("--dms-get-ids")
        #expect(modem.modem.snapshot().clients[.dms, default: []].count == 15)
        #expect(try await modem.qmicliFailing("--dms-get-ids", "--client-cid=\(kept[3])").contains("'InvalidClientId'"))
    }

    @Test func stopWithAnotherHandleIsRefused() async throws {
        let modem = try LinkedModem()
        defer { modem.close() }
        let connection = try await Self.connect(modem)
        let output = try await modem.qmicliFailing("--wds-stop-network=12345", "--client-cid=\(connection.clientID)",
                                                   "--client-no-release-cid")
        #expect(output.contains("QMI protocol error (9): 'InvalidHandle'"))
        #expect(modem.modem.snapshot().sessions.count == 1)
    }

    @Test func currentSettingsWithoutSessionIsOutOfCall() async throws {
        let modem = try LinkedModem()
        defer { modem.close() }
        #expect(try await modem.qmicliFailing("--wds-get-current-settings").contains("'OutOfCall'"))
    }

    @Test func connectFailsWhileNotRegistered() async throws {
        let modem = try LinkedModem(.init(pin: "1234"))
        defer { modem.close() }
        let output = try await modem.qmicliFailing("--wds-start-network=apn=internet,ip-type=4")
        #expect(output.contains("QMI protocol error (14): 'CallFailed'"))
        #expect(output.contains("call end reason (3): generic-no-service"))
        #expect(modem.modem.snapshot().sessions.isEmpty)
    }

    @Test func unknownAPNIsRejected() async throws {
        let modem = try LinkedModem(.init(requiredAPN: "internet.op"))
        defer { modem.close() }
        let output = try await modem.qmicliFailing("--wds-start-network=apn=wrong,ip-type=4")
        #expect(output.contains("'CallFailed'"))
        #expect(output.contains("verbose call end reason (6,27)"))
        _ = try await modem.qmicli("--wds-start-network=apn=internet.op,ip-type=4")
    }

    @Test func credentialsAreCheckedAndTheSessionRemembersWhatWasSent() async throws {
        let credentials = SimulatedModem.Credentials(username: "farm", password: "s3cret-apn")
        let modem = try LinkedModem(.init(requiredCredentials: credentials))
        defer { modem.close() }
        let wrong = try await modem.qmicliFailing("--wds-start-network=apn=internet,auth=CHAP,username=farm,password=nope")
        #expect(wrong.contains("verbose call end reason (6,29)"))
        _ = try await modem.qmicli("--wds-start-network=apn=internet,auth=CHAP,username=farm,password=s3cret-apn",
                                   "--client-no-release-cid")
        let session = try #require(modem.modem.snapshot().sessions.first)
        #expect(session.apn == "internet")
        #expect(session.username == "farm")
        #expect(session.authentication == 2)
        #expect(!"\(modem.modem.snapshot())".contains("s3cret-apn"))
        #expect(!"\(modem.modem.configuration)".contains("s3cret-apn"))
        #expect(!String(reflecting: modem.modem.configuration).contains("s3cret-apn"))
    }

    @Test func lostCoverageDropsSessionsAndRegistration() async throws {
        let modem = try LinkedModem()
        defer { modem.close() }
        _ = try await Self.connect(modem)
        modem.modem.setCoverage(false)
        #expect(modem.modem.snapshot().sessions.isEmpty)
        let searching = try await modem.qmicli("--nas-get-serving-system")
        #expect(searching.contains("Registration state: 'not-registered-searching'"))
        #expect(try await modem.qmicliFailing("--wds-start-network=apn=internet").contains("generic-no-service"))
        modem.modem.setCoverage(true)
        #expect(try await modem.qmicli("--nas-get-serving-system").contains("Registration state: 'registered'"))
    }

    @Test func ipv6IsRefused() async throws {
        let modem = try LinkedModem()
        defer { modem.close() }
        let output = try await modem.qmicliFailing("--wds-start-network=apn=internet,ip-type=6")
        #expect(output.contains("'InvalidIpFamilyPreference'"))
    }

    @Test func lowPowerThenOnlineGivesANewAddress() async throws {
        let modem = try LinkedModem()
        defer { modem.close() }
        let first = try await Self.connect(modem)
        #expect(try await Self.address(modem, first) == "100.64.1.2")

        _ = try await modem.qmicli("--dms-set-operating-mode=low-power")
        #expect(modem.modem.snapshot().sessions.isEmpty)
        let dropped = try await modem.qmicli("--wds-get-packet-service-status", "--client-cid=\(first.clientID)",
                                             "--client-no-release-cid")
        #expect(dropped.contains("Connection status: 'disconnected'"))
        _ = try await modem.qmicli("--dms-set-operating-mode=online")

        let second = try await Self.connect(modem, clientID: first.clientID)
        #expect(second.handle != first.handle)
        #expect(try await Self.address(modem, second) == "100.64.1.3")
    }

    @Test func stickyModemKeepsItsAddress() async throws {
        let modem = try LinkedModem(.init(stickyIP: true))
        defer { modem.close() }
        let first = try await Self.connect(modem)
        #expect(try await Self.address(modem, first) == "100.64.1.2")
        _ = try await modem.qmicli("--dms-set-operating-mode=low-power")
        _ = try await modem.qmicli("--dms-set-operating-mode=online")
        let second = try await Self.connect(modem, clientID: first.clientID)
        #expect(try await Self.address(modem, second) == "100.64.1.2")
    }

    @Test func clientIDsAreReleasedAndValidated() async throws {
        let modem = try LinkedModem()
        defer { modem.close() }
        _ = try await modem.qmicli("--wds-noop")
        #expect(modem.modem.snapshot().clients[.wds, default: []].isEmpty)

        let kept = try await modem.qmicli("--wds-noop", "--client-no-release-cid")
        let clientID = try capture(#"CID: '(\d+)'"#, in: kept)
        #expect(modem.modem.snapshot().clients[.wds] == [try #require(UInt8(clientID))])

        let unknown = try await modem.qmicliFailing("--wds-get-packet-service-status", "--client-cid=200")
        #expect(unknown.contains("'InvalidClientId'"))
    }

    @Test func syncReleasesEveryClientAndItsSession() async throws {
        let modem = try LinkedModem()
        defer { modem.close() }
        let connection = try await Self.connect(modem)
        _ = try await modem.qmicli("--device-open-sync", "--dms-noop")
        #expect(modem.modem.snapshot().sessions.isEmpty)
        #expect(modem.modem.snapshot().clients[.wds, default: []].isEmpty)
        let stale = try await modem.qmicliFailing("--wds-get-packet-service-status",
                                                  "--client-cid=\(connection.clientID)")
        #expect(stale.contains("'InvalidClientId'"))
    }

    @Test func versionInfoListsTheServices() async throws {
        let modem = try LinkedModem()
        defer { modem.close() }
        let output = try await modem.qmicli("--get-service-version-info")
        for service in ["ctl", "wds", "dms", "nas", "uim", "wda"] {
            #expect(output.contains("\t\(service) ("), "\(service) missing in:\n\(output)")
        }
        let opened = try await modem.qmicli("--device-open-version-info", "--dms-get-ids")
        #expect(opened.contains("IMEI: '359072060000001'"))
    }

    @Test func unsupportedRequestIsAnsweredWithAnError() async throws {
        let modem = try LinkedModem()
        defer { modem.close() }
        let output = try await modem.qmicliFailing("--dms-get-msisdn")
        #expect(output.contains("QMI protocol error (71): 'InvalidQmiCommand'"))
    }
}
