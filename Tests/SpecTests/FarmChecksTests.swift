import Testing
@testable import Spec

/// Checks that need more than one value: uniqueness, ports, references, routing ranges.
@Suite struct FarmChecksTests {
    @Test func duplicateSerialsAndNames() {
        let yaml = minimalFarm + "  - serial: \"860000000000001\"\n    name: m01\n"
        #expect(report(yaml) == [
            "farm.yaml:12:13: error: modems[1].serial: '860000000000001' is already the serial of modems[0] (m01)",
            "farm.yaml:13:11: error: modems[1].name: 'm01' is already the name of modems[0] (m01)",
        ])
    }

    @Test func duplicatePortsWithinAndAcrossModems() {
        let yaml = minimalFarm + """
                ports: { http: 20001, socks: 20002 }
              - serial: "2"
                name: m02
                ports: { http: 20003, socks: 20003 }
              - serial: "3"
                name: m03
                ports: { http: 20001 }

            """
        #expect(report(yaml) == [
            "farm.yaml:15:34: error: modems[1].ports.socks: 20003 is already this modem's http port",
            "farm.yaml:18:20: error: modems[2].ports.http: 20001 is already used by modems[0] (m01)",
        ])
    }

    @Test func explicitPortsInsideTheAllocationRangeAreAllowed() {
        let yaml = minimalFarm + "    ports: { http: 20005 }\nports: { range: 20000-20010 }\n"
        let result = load(yaml)
        #expect(result.diagnostics.isEmpty)
        #expect(result.spec?.modems.first?.ports == PortRequest(http: 20005, socks: nil))
        #expect(result.spec?.portRange == 20000...20010)
    }

    @Test func allocationRangeMustHoldEveryAllocatedPort() {
        let yaml = minimalFarm + "    ports: { http: 20001 }\n  - serial: \"2\"\n    name: m02\nports: { range: 20000-20002 }\n"
        #expect(report(yaml) == [
            "farm.yaml:15:17: error: ports.range: 20000-20002 has 2 free ports but 3 must be allocated from it; widen the range",
        ])
    }

    @Test func referencedUsersMustBeDefined() {
        let yaml = minimalFarm + "    users: [alice, alcie]\n  - serial: \"2\"\n    name: m02\n    proxy: { users: [zed] }\n"
        #expect(report(yaml) == [
            "farm.yaml:12:20: error: modems[0].users[1]: user 'alcie' is not defined under users; did you mean 'alice'?",
            "farm.yaml:15:22: error: modems[1].proxy.users[0]: user 'zed' is not defined under users (defined: alice)",
        ])
    }

    @Test func usersShorthandAndProxyUsersAreExclusive() {
        let yaml = minimalFarm + "    users: [alice]\n    proxy: { users: [alice] }\n"
        #expect(report(yaml) == ["farm.yaml:12:12: error: modems[0].users: users are set both here and in proxy.users; keep one"])
    }

    @Test func aProxyNeedsUsers() {
        let yaml = minimalFarm.replacingOccurrences(of: "  proxy:\n    users: [alice]\n", with: "")
        #expect(report(yaml) == [
            "farm.yaml:5:3: warning: users.alice: user 'alice' is defined but no modem lists it",
            "farm.yaml:8:5: error: modems[0].proxy.users: nobody can use this modem's proxy: list users in proxy.users here or in defaults (or set proxy.http and proxy.socks to false)",
        ])
        let closed = yaml + "    proxy: { http: false, socks: false }\n"
        #expect(load(closed).errors.isEmpty)
    }

    @Test func healthTimeoutMustBeShorterThanTheInterval() {
        let yaml = minimalFarm.replacingOccurrences(of: "  apn: internet\n", with: "  apn: internet\n  health: { interval: 10s, timeout: 1m }\n")
            + "  - serial: \"2\"\n    name: m02\n"
        #expect(report(yaml) == [
            "farm.yaml:4:37: error: defaults.health.timeout: health.timeout (1m) must be shorter than health.interval (10s)",
        ])
    }

    @Test func routingTablesAvoidReservedTablesAndTheMainRule() {
        let twoModems = minimalFarm + "  - serial: \"2\"\n    name: m02\n"
        #expect(report(twoModems + "routing: { tableBase: 252 }\n") == [
            "farm.yaml:14:23: error: routing.tableBase: tables 253-254 for 2 modems overlap the kernel's reserved tables 253-255; use a tableBase of 256 or more",
        ])
        #expect(report(twoModems + "routing: { tableBase: 32765 }\n") == [
            "farm.yaml:14:23: error: routing.tableBase: tables 32766-32767 for 2 modems reach rule priority 32766 (the main table's rule); use a tableBase of at most 32763",
        ])
        #expect(report(twoModems + "routing: { uidBase: 65533, tableBase: 40000 }\n") == [
            "farm.yaml:14:21: error: routing.uidBase: uids 65534-65535 include 65534 (nobody); choose another uidBase",
            "farm.yaml:14:39: error: routing.tableBase: 40000 is outside 1-32765",
        ])
        #expect(report(twoModems + "routing: { uidBase: 999 }\n") == ["farm.yaml:14:21: error: routing.uidBase: 999 is outside 1000-2000000000"])
    }

    @Test func unusedUsersAreAWarningOnly() {
        let yaml = minimalFarm.replacingOccurrences(of: "users:\n", with: "users:\n  bob: { password: { env: ALICE_PW } }\n")
        let result = load(yaml)
        #expect(result.diagnostics.map(\.description) == ["farm.yaml:7:3: warning: users.bob: user 'bob' is defined but no modem lists it"])
        #expect(result.spec != nil)
    }
}

/// A file with many problems gets all of them in one run, in file order.
@Suite struct AllProblemsTests {
    @Test func everyProblemIsReportedTogether() {
        let result = FarmFile.load(path: fixture("all-problems.yaml"), environment: [:])
        let file = fixture("all-problems.yaml")
        #expect(result.spec == nil)
        #expect(result.diagnostics.map { $0.description.replacingOccurrences(of: file, with: "all-problems.yaml") } == [
            "all-problems.yaml:2:10: error: version: 2 is not supported; this reconciler reads version 1",
            "all-problems.yaml:5:3: error: defaults.ipTyp: unknown key 'ipTyp'; did you mean 'ipType'?",
            "all-problems.yaml:7:13: error: defaults.proxy.listen: 'lo' is not an IP address such as 0.0.0.0 or ::1 (host and interface names are not allowed here)",
            "all-problems.yaml:8:20: error: defaults.proxy.users[1]: user 'carl' is not defined under users (defined: alice, bob)",
            "all-problems.yaml:9:13: error: defaults.proxy.allow[0]: '192.168.1.5/24' has host bits set; did you mean '192.168.1.0/24'?",
            "all-problems.yaml:10:22: error: defaults.proxy.bandwidth.in: '20mbps' is not a bandwidth such as 500kbit, 20mbit or 1gbit",
            "all-problems.yaml:11:37: error: defaults.health.timeout: health.timeout (30s) must be shorter than health.interval (10s)",
            "all-problems.yaml:13:30: error: users.alice.password.file: the secret file named here does not exist (looked in \(repositoryRoot.path)/Tests/SpecTests/Fixtures; its name is not shown)",
            "all-problems.yaml:14:27: error: users.bob.password.env: the environment variable named here is not set (its name is not shown, in case a secret was put under env: by mistake)",
            "all-problems.yaml:16:13: error: modems[0].serial: expected a serial number (IMEI or USB serial) of letters, digits, '.', '_', ':', '-', found the number 860000000000001; put it in quotes: \"860000000000001\"",
            "all-problems.yaml:17:11: error: modems[0].name: 'M01' is not a name of 1-32 characters a-z, 0-9, '_', '-' starting with a letter or digit; did you mean 'm01'?",
            "all-problems.yaml:18:34: error: modems[0].ports.socks: 20001 is already this modem's http port",
            "all-problems.yaml:19:22: error: modems[0].rotation.at[0]: '25:00' is not a time of day \"HH:MM\" from 00:00 to 23:59, in quotes",
            "all-problems.yaml:22:20: error: modems[1].ports.http: 20001 is already used by modems[0]",
            "all-problems.yaml:22:34: error: modems[1].ports.socks: 70000 is outside 1-65535",
            "all-problems.yaml:23:19: warning: modems[1].pin.value: plain-text PIN in farm.yaml; prefer file or env",
            "all-problems.yaml:23:19: error: modems[1].pin.value: the PIN must be 4-8 digits",
            "all-problems.yaml:24:13: error: modems[2].serial: '860000000000002' is already the serial of modems[1] (m02)",
            "all-problems.yaml:25:11: error: modems[2].name: 'm02' is already the name of modems[1] (m02)",
            "all-problems.yaml:27:14: error: modems[2].enabled: expected true or false, found 'maybe'",
        ])
    }
}
