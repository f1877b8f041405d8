import Testing
@testable import Spec

/// One test per class of structurally bad input: exact line, column, key path and message.
@Suite struct StructureTests {
    @Test func minimalFarmIsValid() {
        let result = load(minimalFarm)
        #expect(result.diagnostics.isEmpty)
        #expect(result.spec?.modems.map(\.name) == ["m01"])
    }

    @Test func yamlSyntaxErrorHasLineAndColumn() {
        let yaml = """
            version: 1
            modems:
              - serial: "1"
               name: a
            """
        #expect(report(yaml) == [
            "farm.yaml:4:4: error: YAML syntax: did not find expected '-' indicator (while parsing a block collection started at line 3, column 3)",
        ])
    }

    @Test func unterminatedQuoteIsASyntaxError() {
        let yaml = "version: 1\nmodems:\n  - serial: \"1\n    name: a\n"
        #expect(report(yaml) == [
            "farm.yaml:5:1: error: YAML syntax: found unexpected end of stream (while scanning a quoted scalar started at line 3, column 13)",
        ])
    }

    @Test func controlCharacterIsLocated() {
        #expect(report("version: 1\nmodems: [\u{07}]\n") == ["farm.yaml:2:10: error: YAML: control characters are not allowed"])
    }

    @Test func duplicateKeyInAMapping() {
        let yaml = minimalFarm + "    name: m02\n"
        #expect(report(yaml) == ["farm.yaml:12:5: error: key 'name' is given a second time in this mapping (first at line 11); keep one"])
        let flow = minimalFarm + "    ports: { http: 1, http: 2 }\n"
        #expect(report(flow) == ["farm.yaml:12:14: error: key 'http' is given more than once in this mapping (first here); keep one"])
    }

    @Test func emptyFileAndNonMappingRoot() {
        #expect(report("") == ["farm.yaml:1:1: error: the file is empty; it needs at least 'version: 1' and 'modems:'"])
        #expect(report("- a\n") == ["farm.yaml:1:1: error: expected a mapping, found a list"])
    }

    @Test func unknownKeySuggestsTheNearestKnownKey() {
        let yaml = minimalFarm.replacingOccurrences(of: "  apn: internet", with: "  apn: internet\n  ipTyp: ipv4")
        #expect(report(yaml) == ["farm.yaml:4:3: error: defaults.ipTyp: unknown key 'ipTyp'; did you mean 'ipType'?"])
    }

    @Test func unknownKeyThatBelongsElsewhere() {
        let yaml = minimalFarm + "    listen: 127.0.0.1\n"
        #expect(report(yaml) == [
            "farm.yaml:12:5: error: modems[0].listen: unknown key 'listen' here; it belongs under 'proxy' (proxy.listen)",
        ])
    }

    @Test func unknownKeyWithoutNearMatchListsTheKnownOnes() {
        let yaml = minimalFarm + "colour: blue\n"
        #expect(report(yaml) == [
            "farm.yaml:12:1: error: colour: unknown key 'colour'; expected one of: version, defaults, ports, routing, api, users, modems, hosts, gateway",
        ])
    }

    @Test func wrongTypes() {
        let yaml = minimalFarm + """
                enabled: maybe
                ports: 20001
                proxy: { users: alice, maxConnections: many }

            """
        #expect(report(yaml) == [
            "farm.yaml:12:14: error: modems[0].enabled: expected true or false, found 'maybe'",
            "farm.yaml:13:12: error: modems[0].ports: expected a mapping, found the number 20001",
            "farm.yaml:14:21: error: modems[0].proxy.users: expected a list of user names, found 'alice'",
            "farm.yaml:14:44: error: modems[0].proxy.maxConnections: expected a whole number from 1 to 100000, found 'many'",
        ])
    }

    @Test func numbersWhereTextIsExpectedMustBeQuoted() {
        let yaml = minimalFarm.replacingOccurrences(of: "\"860000000000001\"", with: "860000000000001")
        #expect(report(yaml) == [
            "farm.yaml:10:13: error: modems[0].serial: expected a serial number (IMEI or USB serial) of letters, digits, '.', '_', ':', '-', found the number 860000000000001; put it in quotes: \"860000000000001\"",
        ])
    }

    @Test func missingRequiredKeys() {
        #expect(report("defaults: {}\n") == [
            "farm.yaml:1:1: error: version: required key is missing: Schema version of this file. Only 1 exists.",
            "farm.yaml:1:1: error: modems: required key is missing: The modems of the farm, each with its own proxy port pair.",
        ])
        let yaml = minimalFarm.replacingOccurrences(of: "  - serial: \"860000000000001\"\n    name: m01", with: "  - enabled: true")
        #expect(report(yaml) == [
            "farm.yaml:10:5: error: modems[0].serial: required key is missing: IMEI or USB serial number, quoted: the modem's identity.",
            "farm.yaml:10:5: error: modems[0].name: required key is missing: Short unique label (a-z, 0-9, '_', '-'; up to 32): status file name and metrics label.",
        ])
    }

    @Test func apnMustComeFromTheModemOrDefaults() {
        let yaml = minimalFarm.replacingOccurrences(of: "  apn: internet\n", with: "")
        #expect(report(yaml) == ["farm.yaml:9:5: error: modems[0].apn: no apn: set apn on this modem or in defaults"])
    }

    @Test func unknownVersion() {
        let yaml = minimalFarm.replacingOccurrences(of: "version: 1", with: "version: 2")
        #expect(report(yaml) == ["farm.yaml:1:10: error: version: 2 is not supported; this reconciler reads version 1"])
    }

    @Test func namesMustBeSafeFileNamesAndMetricsLabels() {
        let yaml = minimalFarm.replacingOccurrences(of: "name: m01", with: "name: M01") + """
              - serial: "2"
                name: ../etc

            """
        #expect(report(yaml) == [
            "farm.yaml:11:11: error: modems[0].name: 'M01' is not a name of 1-32 characters a-z, 0-9, '_', '-' starting with a letter or digit; did you mean 'm01'?",
            "farm.yaml:13:11: error: modems[1].name: '../etc' is not a name of 1-32 characters a-z, 0-9, '_', '-' starting with a letter or digit",
        ])
    }

    @Test func userNamesMustRenderSafely() {
        let yaml = minimalFarm.replacingOccurrences(of: "  alice:\n", with: "  \"al:ice\":\n")
        #expect(report(yaml) == [
            "farm.yaml:5:13: error: defaults.proxy.users[0]: user 'alice' is not defined under users (no users are defined)",
            "farm.yaml:7:3: error: users.al:ice: 'al:ice' is not a user name of letters, digits, '.', '_', '-'",
        ])
    }

    @Test func listenAndDnsMustBeIPLiterals() {
        let yaml = minimalFarm.replacingOccurrences(of: "users: [alice]", with: "users: [alice]\n    listen: eth0\n    dns: [1.1.1.1, 8.8.8.300]")
        #expect(report(yaml) == [
            "farm.yaml:6:13: error: defaults.proxy.listen: 'eth0' is not an IP address such as 0.0.0.0 or ::1 (host and interface names are not allowed here)",
            "farm.yaml:7:20: error: defaults.proxy.dns[1]: '8.8.8.300' is not an IP address such as 0.0.0.0 or ::1 (host and interface names are not allowed here)",
        ])
    }

    @Test func networksMustBeValidCIDRs() {
        let yaml = minimalFarm.replacingOccurrences(
            of: "users: [alice]", with: "users: [alice]\n    allow: [192.168.1.5/24, 10.0.0.0/33, 2001:db8::/32, 192.0.2.7, bogus]")
        #expect(report(yaml) == [
            "farm.yaml:6:13: error: defaults.proxy.allow[0]: '192.168.1.5/24' has host bits set; did you mean '192.168.1.0/24'?",
            "farm.yaml:6:29: error: defaults.proxy.allow[1]: '10.0.0.0/33' has a prefix length outside 0-32",
            "farm.yaml:6:68: error: defaults.proxy.allow[4]: 'bogus' is not a network such as 192.168.1.0/24 or 2001:db8::/32",
        ])
    }

    @Test func durationsMustBePositiveWithAUnit() {
        let yaml = minimalFarm + "    health: { interval: 10 m, timeout: 0s }\n    rotation: { every: 1d }\n"
        #expect(report(yaml) == [
            "farm.yaml:12:25: error: modems[0].health.interval: '10 m' is not a duration such as 30s, 10m or 2h",
            "farm.yaml:12:40: error: modems[0].health.timeout: '0s' must be longer than zero",
            "farm.yaml:13:24: error: modems[0].rotation.every: '1d' is not a duration such as 30s, 10m or 2h",
        ])
    }

    @Test func bandwidthsNeedAUnit() {
        let yaml = minimalFarm + "    proxy: { bandwidth: { in: 20mbps, out: 0kbit } }\n"
        #expect(report(yaml) == [
            "farm.yaml:12:31: error: modems[0].proxy.bandwidth.in: '20mbps' is not a bandwidth such as 500kbit, 20mbit or 1gbit",
            "farm.yaml:12:44: error: modems[0].proxy.bandwidth.out: '0kbit' must be more than zero",
        ])
    }

    @Test func rotationTimesAreQuotedHHMM() {
        let yaml = minimalFarm + "    rotation: { at: [16:30, \"24:00\", \"4:00\", \"04:00\", \"04:00\"] }\n"
        #expect(report(yaml) == [
            "farm.yaml:12:22: error: modems[0].rotation.at[0]: expected a time of day \"HH:MM\" from 00:00 to 23:59, in quotes, found the number 16:30; put it in quotes: \"16:30\"",
            "farm.yaml:12:29: error: modems[0].rotation.at[1]: '24:00' is not a time of day \"HH:MM\" from 00:00 to 23:59, in quotes",
            "farm.yaml:12:38: error: modems[0].rotation.at[2]: '4:00' is not a time of day \"HH:MM\" from 00:00 to 23:59, in quotes",
            "farm.yaml:12:55: error: modems[0].rotation.at[4]: '04:00' is listed twice (first at modems[0].rotation.at[3])",
        ])
    }

    @Test func rotationFormsAreExclusive() {
        let yaml = minimalFarm + "    rotation: { every: 10m, at: [\"04:00\"] }\n  - serial: \"2\"\n    name: m02\n    rotation: sometimes\n"
        #expect(report(yaml) == [
            "farm.yaml:12:29: error: modems[0].rotation: give only one of every, at; found every and at",
            "farm.yaml:15:15: error: modems[1].rotation: expected never or a mapping with one of every, at, found 'sometimes'",
        ])
    }

    @Test func portsOutsideTheValidRange() {
        let yaml = minimalFarm + "    ports: { http: 0, socks: 70000 }\nports: { range: 30000-20000 }\n"
        #expect(report(yaml) == [
            "farm.yaml:12:20: error: modems[0].ports.http: 0 is outside 1-65535",
            "farm.yaml:12:30: error: modems[0].ports.socks: 70000 is outside 1-65535",
            "farm.yaml:13:17: error: ports.range: '30000-20000' starts after it ends; did you mean '20000-30000'?",
        ])
    }
}
