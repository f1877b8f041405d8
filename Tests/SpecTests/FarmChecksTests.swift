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
            "farm.yaml:14:23: error: routing.tableBase: tables 252-253 for 2 modems overlap the kernel's reserved tables 253-255; use a tableBase of 256 or more",
        ])
        #expect(report(twoModems + "routing: { tableBase: 32765 }\n") == [
            "farm.yaml:14:23: error: routing.tableBase: tables 32765-32766 for 2 modems reach rule priority 32766 (the main table's rule); use a tableBase of at most 32764",
        ])
        #expect(report(twoModems + "routing: { uidBase: 65533, tableBase: 40000 }\n") == [
            "farm.yaml:14:21: error: routing.uidBase: uids 65533-65534 include 65534 (nobody); choose another uidBase",
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
