import Gateway
import Spec
import Testing

/// Entry-port allocations and the rendered haproxy.cfg: pure, from a FarmSpec.
@Suite struct GatewayPlanTests {
    static func modem(_ name: String, serial: String, host: String, ports: (Int, Int), entry: PortRequest = PortRequest()) -> ModemSpec {
        ModemSpec(serial: serial, name: name, apn: "internet", ports: PortRequest(http: ports.0, socks: ports.1),
                  proxy: ProxySettings(users: ["alice"]), host: host, entry: entry)
    }

    static func farm(_ modems: [ModemSpec], ports: ClosedRange<Int> = 30000...30009) -> FarmSpec {
        FarmSpec(portRange: 20000...29999, routing: RoutingSettings(), users: [], modems: modems,
                 api: APISettings(listen: ListenAddress(host: "0.0.0.0", port: 8080), token: .value("a-token-of-sixteen-or-more")),
                 hosts: [HostSpec(name: "pi-1", address: "10.8.0.11"), HostSpec(name: "pi-2", address: "10.8.0.12")],
                 gateway: GatewaySettings(ports: ports, allow: [CIDR(address: "203.0.113.0", prefixLength: 24)], checkInterval: .seconds(1)))
    }

    @Test func pinnedFirstThenLowestFreeInFileOrder() throws {
        let spec = Self.farm([
            Self.modem("m01", serial: "1", host: "pi-1", ports: (20001, 20002)),
            Self.modem("m02", serial: "2", host: "pi-2", ports: (20001, 20002), entry: PortRequest(http: 30000)),
        ])
        let entries = try #require(EntryAllocations.allocate(spec, previous: EntryAllocations()))
        #expect(entries.modems == ["1": .init(http: 30001, socks: 30002), "2": .init(http: 30000, socks: 30003)])
    }

    @Test func aModemKeepsItsEntryPortsWhenItMovesHost() throws {
        let before = Self.farm([
            Self.modem("m01", serial: "1", host: "pi-1", ports: (20001, 20002)),
            Self.modem("m02", serial: "2", host: "pi-1", ports: (20003, 20004)),
        ])
        let first = try #require(EntryAllocations.allocate(before, previous: EntryAllocations()))
        // m01 is removed and m02 moves to pi-2: m02 keeps its ports, m01's are given back.
        let after = Self.farm([Self.modem("m02", serial: "2", host: "pi-2", ports: (20001, 20002))])
        let second = try #require(EntryAllocations.allocate(after, previous: first))
        #expect(second.modems == ["2": first.modems["2"]])
        let desired = try #require(GatewayDesired.of(after, entries: second))
        #expect(desired.routes.map { "\($0.entryPort)→\($0.hostAddress):\($0.proxyPort)" } == ["30002→10.8.0.12:20001", "30003→10.8.0.12:20002"])
    }

    @Test func anEarlierPortOutsideTheRangeOrPinnedByAnotherIsReallocated() throws {
        let spec = Self.farm([
            Self.modem("m01", serial: "1", host: "pi-1", ports: (20001, 20002)),
            Self.modem("m02", serial: "2", host: "pi-1", ports: (20003, 20004), entry: PortRequest(http: 30005)),
        ])
        let previous = EntryAllocations(modems: ["1": .init(http: 40000, socks: 30005)])
        let entries = try #require(EntryAllocations.allocate(spec, previous: previous))
        #expect(entries.modems["1"] == .init(http: 30000, socks: 30001))
        #expect(entries.modems["2"] == .init(http: 30005, socks: 30002))
    }

    @Test func aFullRangeAllocatesNothing() {
        let spec = Self.farm([Self.modem("m01", serial: "1", host: "pi-1", ports: (20001, 20002))], ports: 30000...30000)
        #expect(EntryAllocations.allocate(spec, previous: EntryAllocations()) == nil)
    }

    @Test func disabledModemsAndServicesGetNoRoute() throws {
        var off = Self.modem("m02", serial: "2", host: "pi-1", ports: (20003, 20004))
        off.enabled = false
        var httpOnly = Self.modem("m03", serial: "3", host: "pi-2", ports: (20005, 20006))
        httpOnly.proxy.socks = false
        let spec = Self.farm([Self.modem("m01", serial: "1", host: "pi-1", ports: (20001, 20002)), off, httpOnly])
        let entries = try #require(EntryAllocations.allocate(spec, previous: EntryAllocations()))
        let desired = try #require(GatewayDesired.of(spec, entries: entries))
        #expect(desired.routes.map { "\($0.modem)/\($0.service)" } == ["m01/http", "m01/socks", "m03/http"])
    }

    @Test func renderedConfiguration() throws {
        var spec = Self.farm([Self.modem("m01", serial: "1", host: "pi-1", ports: (20001, 20002))])
        spec.gateway?.metrics = ListenAddress(host: "10.8.0.1", port: 9101)
        let entries = try #require(EntryAllocations.allocate(spec, previous: EntryAllocations()))
        let files = HAProxyFiles.render(try #require(GatewayDesired.of(spec, entries: entries)),
                                        paths: .init(allowList: "/gw/allow.lst", adminSocket: "/gw/admin.sock"))
        #expect(files.allowList == "203.0.113.0/24\n")
        #expect(files.config == """
            # Written by `reconcile gateway` from farm.yaml; changes here are overwritten.
            global
                stats socket /gw/admin.sock mode 600 level admin expose-fd listeners
                log stderr format short daemon notice

            defaults
                mode tcp
                log global
                retries 0
                timeout connect 5s
                timeout client 1h
                timeout server 1h
                timeout check 1000ms

            frontend metrics
                mode http
                bind 10.8.0.1:9101
                http-request use-service prometheus-exporter if { path /metrics }

            frontend entry_30000
                bind 0.0.0.0:30000
                tcp-request connection reject if !{ src -f /gw/allow.lst }
                tcp-request connection reject if { nbsrv(m01_http) eq 0 }
                default_backend m01_http

            backend m01_http
                option httpchk
                http-check send meth GET uri /healthz/m01
                http-check expect status 200
                server pi-1 10.8.0.11:20001 check port 8080 inter 1000ms fall 2 rise 2

            frontend entry_30001
                bind 0.0.0.0:30001
                tcp-request connection reject if !{ src -f /gw/allow.lst }
                tcp-request connection reject if { nbsrv(m01_socks) eq 0 }
                default_backend m01_socks

            backend m01_socks
                option httpchk
                http-check send meth GET uri /healthz/m01
                http-check expect status 200
                server pi-1 10.8.0.11:20002 check port 8080 inter 1000ms fall 2 rise 2

            """)
    }
}
