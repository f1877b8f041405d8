import Testing
@testable import Spec

/// `hosts:`, `gateway:`, `modems[].host` and `modems[].entry` (DESIGN §9).
@Suite struct HostKeysTests {
    /// Two hosts, a gateway, two modems; `extra` is appended to the second modem.
    static func farm(_ extra: String = "", api: String = "\"0.0.0.0:8080\"") -> String {
        """
        version: 1
        defaults:
          apn: internet
          proxy:
            users: [alice]
        users:
          alice:
            password: { env: ALICE_PW }
        api:
          listen: \(api)
          token: { env: ALICE_PW }
        hosts:
          pi-1: { address: 10.8.0.11 }
          pi-2: { address: 10.8.0.12 }
        gateway:
          ports: 30000-30009
          allow: [203.0.113.0/24]
          checkInterval: 1s
        modems:
          - serial: "1"
            name: m01
            host: pi-1
            ports: { http: 20001, socks: 20002 }
            entry: { http: 30001 }
          - serial: "2"
            name: m02
            ports: { http: 20003, socks: 20004 }
        \(extra)
        """
    }

    @Test func multiHostFarmBuilds() throws {
        let result = load(Self.farm("    host: pi-2\n"))
        #expect(result.errors.isEmpty, "\(result.errors)")
        let spec = try #require(result.spec)
        #expect(spec.hosts == [HostSpec(name: "pi-1", address: "10.8.0.11"), HostSpec(name: "pi-2", address: "10.8.0.12")])
        #expect(spec.gateway == GatewaySettings(listen: "0.0.0.0", ports: 30000...30009,
                                                allow: [CIDR(address: "203.0.113.0", prefixLength: 24)], checkInterval: .seconds(1)))
        #expect(spec.modems.map(\.host) == ["pi-1", "pi-2"])
        #expect(spec.modems[0].entry == PortRequest(http: 30001, socks: nil))
        #expect(spec.forHost("pi-2").modems.map(\.name) == ["m02"])
        #expect(spec.forHost("pi-9").modems.isEmpty)
    }

    @Test func oneHostFarmIsWholeOnEveryHost() throws {
        let spec = try #require(load(minimalFarm).spec)
        #expect(spec.hosts.isEmpty && spec.gateway == nil)
        #expect(spec.forHost("anything") == spec)
    }

    @Test func everyModemOnAKnownHost() {
        #expect(report(Self.farm()) == [
            "farm.yaml:25:5: error: modems[1].host: with hosts set, every modem names its host (one of pi-1, pi-2)",
        ])
        #expect(report(Self.farm("    host: pi-3\n")) == [
            "farm.yaml:28:11: error: modems[1].host: host 'pi-3' is not under hosts; did you mean 'pi-1'?",
        ])
    }

    @Test func hostWithoutHostsAndEntryWithoutGateway() {
        #expect(report(minimalFarm + "    host: pi-1\n    entry: { http: 30001 }\n") == [
            "farm.yaml:12:11: error: modems[0].host: no hosts are defined: add hosts: (name → address) or remove host",
            "farm.yaml:13:12: error: modems[0].entry: entry ports need a gateway: add gateway: (listen, ports, allow) or remove entry",
        ])
    }

    @Test func proxyPortsClashOnlyOnOneHost() {
        #expect(report(Self.farm("    host: pi-1\n").replacingOccurrences(of: "20003", with: "20001")) == [
            "farm.yaml:27:20: error: modems[1].ports.http: 20001 is already used by modems[0] (m01)",
        ])
    }

    @Test func entryPortsUniqueAndInRange() {
        #expect(report(Self.farm("    host: pi-2\n    entry: { http: 30001, socks: 30010 }\n")) == [
            "farm.yaml:29:20: error: modems[1].entry.http: 30001 is already used by modems[0] (m01)",
            "farm.yaml:29:34: error: modems[1].entry.socks: 30010 is outside gateway.ports 30000-30009",
        ])
    }

    @Test func entryRangeMustHoldEveryAllocatedPort() {
        let yaml = Self.farm("    host: pi-2\n").replacingOccurrences(of: "30000-30009", with: "30000-30002")
        #expect(report(yaml) == [
            "farm.yaml:16:10: error: gateway.ports: 30000-30002 has 2 free entry ports but 3 must be allocated from it; widen gateway.ports",
        ])
    }

    @Test func gatewayNeedsReachableHealthEndpoints() {
        #expect(report(Self.farm("    host: pi-2\n", api: "\"127.0.0.1:8080\"")) == [
            "farm.yaml:10:11: error: api.listen: the gateway cannot reach 127.0.0.1:8080 on another host: listen on an address it reaches, e.g. \"0.0.0.0:8080\"",
        ])
        let noAPI = Self.farm("    host: pi-2\n").replacingOccurrences(of: "api:\n  listen: \"0.0.0.0:8080\"\n  token: { env: ALICE_PW }\n", with: "")
        #expect(report(noAPI) == [
            "farm.yaml:13:3: error: gateway: the gateway checks every modem at its host's /healthz: add api: with a listen address the gateway reaches",
        ])
    }

    @Test func gatewayNeedsHosts() {
        let yaml = minimalFarm + "    ports: { http: 20001, socks: 20002 }\napi: { listen: \"0.0.0.0:8080\", token: { env: ALICE_PW } }\ngateway: { allow: [0.0.0.0/0] }\n"
        #expect(report(yaml) == [
            "farm.yaml:14:10: error: gateway: the gateway forwards to hosts: add hosts: with every host's address and each modem's host",
        ])
    }

    @Test func gatewayNeedsEveryModemsProxyPorts() {
        #expect(report(Self.farm("    host: pi-2\n").replacingOccurrences(of: "    ports: { http: 20003, socks: 20004 }\n", with: "    ports: { http: 20003 }\n")) == [
            "farm.yaml:27:12: error: modems[1].ports: the gateway forwards to this modem's proxy ports on its host: name them (missing socks)",
        ])
    }

    @Test func hostsExampleValidates() throws {
        let result = FarmFile.load(path: hostsExamplePath, environment: [:])
        #expect(result.errors.isEmpty, "\(result.errors)")
        #expect(result.spec?.hosts.count == 3)
        #expect(result.spec?.modems.compactMap(\.host) == ["pi-1", "pi-1", "pi-2", "pi-3"])
    }
}
