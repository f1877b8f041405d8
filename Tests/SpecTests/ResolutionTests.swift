import Testing
@testable import Spec

/// `defaults` are inherited key by key; the example farm resolves exactly as documented.
@Suite struct ResolutionTests {
    private let example = FarmFile.load(path: examplePath, environment: [:])

    private func modem(_ name: String) throws -> ModemSpec {
        try #require(example.spec?.modems.first { $0.name == name })
    }

    private var defaultProxy: ProxySettings {
        ProxySettings(listen: "0.0.0.0", http: true, socks: true, users: ["alice"],
                      allow: [CIDR(address: "192.168.1.0", prefixLength: 24), CIDR(address: "10.20.0.0", prefixLength: 16)],
                      maxConnections: 200, bandwidth: Bandwidth(inBitsPerSecond: 20_000_000, outBitsPerSecond: 5_000_000),
                      dns: ["1.1.1.1", "8.8.8.8"])
    }

    @Test func farmLevelSettings() throws {
        let spec = try #require(example.spec)
        #expect(spec.version == 1)
        #expect(spec.portRange == 20000...29999)
        #expect(spec.routing == RoutingSettings(tableBase: 100, uidBase: 20000))
        #expect(spec.users == [
            User(name: "alice", password: .file("secrets/alice")),
            User(name: "bob", password: .hash("$1$pfexampl$ZQIW7vhM700KNCzIIiVXE0"), quota: Quota(bytes: 50 << 30, period: .month)),
            User(name: "carol", password: .value("carol-example-password")),
        ])
        #expect(spec.modems.map(\.name) == ["m01", "m02", "m03", "m04-spare"])
        #expect(spec.api == APISettings(listen: ListenAddress(host: "127.0.0.1", port: 8080), token: .file("secrets/api-token")))
        #expect(spec.modems.filter { $0.link == nil }.map(\.name) == ["m03", "m04-spare"])
    }

    @Test func usersShorthandOverridesOnlyTheUsers() throws {
        var proxy = defaultProxy
        proxy.users = ["alice", "bob"]
        #expect(try modem("m01") == ModemSpec(
            serial: "860000000000001", name: "m01", apn: "internet", ipType: .ipv4, pin: .file("secrets/m01.pin"),
            ports: PortRequest(http: 20001, socks: 20002), proxy: proxy, health: HealthSettings(),
            rotation: .every(.seconds(600)), enabled: true, link: LinkSettings(token: .file("secrets/m01-link"), minInterval: .seconds(120))))
    }

    @Test func nestedOverridesMergeKeyByKeyAndRotationReplacesWhole() throws {
        var proxy = defaultProxy
        proxy.users = ["bob", "carol"]
        proxy.bandwidth = Bandwidth(inBitsPerSecond: 50_000_000, outBitsPerSecond: 5_000_000)
        #expect(try modem("m02") == ModemSpec(
            serial: "860000000000002", name: "m02", apn: "internet.operator.example", ipType: .ipv4v6, pin: .value("4321"),
            ports: PortRequest(http: 20003), proxy: proxy, health: HealthSettings(),
            rotation: .at([TimeOfDay(hour: 4, minute: 0), TimeOfDay(hour: 16, minute: 30)]), enabled: true,
            link: LinkSettings(token: .value("example-m02-link-5d0c8a37e1f94b26"), minInterval: .seconds(60))))
    }

    @Test func healthOverridesAndAllocatedPorts() throws {
        let m03 = try modem("m03")
        #expect(m03.ports == PortRequest())
        #expect(m03.health == HealthSettings(url: "http://connectivitycheck.gstatic.com/generate_204", interval: .seconds(60),
                                             timeout: .seconds(10), failuresBeforeReset: 5, powerCycle: true))
        #expect(m03.rotation == .never)
        #expect(m03.proxy == defaultProxy)
    }

    @Test func disabledModemKeepsItsSettings() throws {
        var proxy = defaultProxy
        proxy.socks = false
        proxy.listen = "192.168.1.10"
        proxy.maxConnections = 50
        let m04 = try modem("m04-spare")
        #expect(m04.enabled == false)
        #expect(m04.serial == "1-1.4")
        #expect(m04.proxy == proxy)
        #expect(m04.rotation == .every(.seconds(1800)))
    }

    @Test func builtInDefaultsApplyWhenNothingIsSaid() throws {
        let spec = try #require(load(minimalFarm).spec)
        #expect(spec.portRange == 20000...29999)
        #expect(spec.routing == RoutingSettings(tableBase: 100, uidBase: 20000))
        #expect(spec.modems == [ModemSpec(serial: "860000000000001", name: "m01", apn: "internet",
                                          proxy: ProxySettings(users: ["alice"]))])
        #expect(spec.modems[0].proxy == ProxySettings(listen: "0.0.0.0", http: true, socks: true, users: ["alice"], allow: [],
                                                      maxConnections: 200, bandwidth: Bandwidth(), dns: []))
        #expect(spec.modems[0].health == HealthSettings(url: "http://connectivitycheck.gstatic.com/generate_204",
                                                        interval: .seconds(30), timeout: .seconds(5), failuresBeforeReset: 3))
        #expect(spec.modems[0].rotation == .never)
        #expect(spec.modems[0].enabled)
    }

    @Test func valuesAreNormalised() throws {
        let yaml = minimalFarm + "    proxy: { allow: [\"2001:0db8:0::/32\", 192.0.2.7], bandwidth: { in: 1gbit, out: 500kbit } }\n"
            + "    health: { interval: 2h, timeout: 90s }\n"
        let m01 = try #require(load(yaml).spec?.modems.first)
        #expect(m01.proxy.allow == [CIDR(address: "2001:db8::", prefixLength: 32), CIDR(address: "192.0.2.7", prefixLength: 32)])
        #expect(m01.proxy.bandwidth == Bandwidth(inBitsPerSecond: 1_000_000_000, outBitsPerSecond: 500_000))
        #expect(m01.health.interval == .seconds(7200))
        #expect(m01.health.timeout == .seconds(90))
    }
}
