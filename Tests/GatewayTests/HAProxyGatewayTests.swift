import Drivers
import Foundation
import Gateway
import Spec
import Testing

/// The gateway with the real HAProxy (Debian's 2.6) on loopback: two "hosts" of stand-in proxies
/// and `/healthz`, entry ports, the customers' allow list, readiness and reloads.
@Suite(.serialized) struct HAProxyGatewayTests {
    /// A running gateway in a scratch directory; `stop` ends HAProxy and removes it all.
    final class Fixture: @unchecked Sendable {
        let base: Int
        let directory: URL
        let store: GatewayStore
        let reconciler: GatewayReconciler
        let backends: Backends

        /// Entry ports base...base+9, proxy ports base+10..., metrics base+18, the healthz port base+19.
        init() throws {
            let base = try Self.freePorts()
            self.base = base
            directory = FileManager.default.temporaryDirectory.appendingPathComponent("pf-gwstate-\(getpid())-\(UUID().uuidString)")
            store = try GatewayStore(root: directory.path)
            let driver = HAProxyDriver(directory: directory.path + "/haproxy")
            reconciler = GatewayReconciler(driver: driver, paths: driver.paths)
            backends = try Backends(healthPort: base + 19, ports: (0..<6).map { (modem: "m0\($0 / 2 + 1)", port: base + 10 + $0) })
        }

        /// The first of 20 consecutive loopback ports that nothing listens on now (other tests share the machine).
        static func freePorts() throws -> Int {
            for candidate in stride(from: 32000 + Int(getpid() % 300) * 20, to: 60000, by: 20) {
                let free = (candidate..<(candidate + 20)).allSatisfy { port in
                    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
                    defer { close(fd) }
                    var address = sockaddr_in()
                    address.sin_family = sa_family_t(AF_INET)
                    address.sin_port = in_port_t(UInt16(port).bigEndian)
                    address.sin_addr.s_addr = inet_addr("127.0.0.1")
                    return withUnsafePointer(to: &address) {
                        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
                    } == 0
                }
                if free { return candidate }
            }
            throw TestFailure("no 20 free loopback ports")
        }

        /// m01 on pi-1, m02 (and m03 when asked) on pi-2; both hosts are 127.0.0.1 here.
        func spec(modems: Int = 2, allow: String = "127.0.0.1/32") -> FarmSpec {
            let parts = allow.split(separator: "/")
            let modemSpecs = (1...modems).map { index in
                ModemSpec(serial: "s\(index)", name: "m0\(index)", apn: "internet",
                          ports: PortRequest(http: base + 8 + 2 * index, socks: base + 9 + 2 * index),
                          proxy: ProxySettings(users: ["alice"]), host: index == 1 ? "pi-1" : "pi-2")
            }
            return FarmSpec(portRange: 20000...29999, routing: RoutingSettings(), users: [], modems: modemSpecs,
                            api: APISettings(listen: ListenAddress(host: "0.0.0.0", port: base + 19), token: .value("a-token-of-sixteen-or-more")),
                            hosts: [HostSpec(name: "pi-1", address: "127.0.0.1"), HostSpec(name: "pi-2", address: "127.0.0.1")],
                            gateway: GatewaySettings(listen: "127.0.0.1", ports: base...(base + 9),
                                                     allow: [CIDR(address: String(parts[0]), prefixLength: Int(parts[1]) ?? 32)],
                                                     checkInterval: .milliseconds(500)))
        }

        func entry(_ modem: String) throws -> EntryAllocations.Ports {
            try #require(try store.loadStatus()?.modems.first { $0.name == modem }?.entry)
        }

        func stop() {
            if let pid = FileManager.default.contents(atPath: directory.path + "/haproxy/haproxy.pid")
                .flatMap({ Int32(String(decoding: $0, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)) }) {
                kill(pid, SIGTERM)
                // Not our child (it daemonized): wait until it is gone, so the next test can bind the ports.
                let deadline = ContinuousClock.now + .seconds(10)
                while kill(pid, 0) == 0 && ContinuousClock.now < deadline { usleep(20_000) }
            }
            backends.stop()
            try? FileManager.default.removeItem(at: directory)
        }
    }

    static func with(_ body: (Fixture) async throws -> Void) async throws {
        let fixture = try Fixture()
        defer { fixture.stop() }
        try await body(fixture)
    }

    @Test func entryPortsReachTheirModemsAndOnlyAllowedCustomers() async throws {
        try await Self.with { gw in
            var spec = gw.spec()
            spec.gateway?.metrics = ListenAddress(host: "127.0.0.1", port: gw.base + 18)
            let status = try await gw.reconciler.apply(spec: spec, store: gw.store, revision: "r1")
            #expect(status.error == nil)
            let m1 = try gw.entry("m01"), m2 = try gw.entry("m02")
            #expect(await eventually { Customer.greeting(port: m2.socks) == "hello m02" })
            #expect(Customer.greeting(port: m1.http) == "hello m01")
            #expect(Customer.greeting(port: m1.socks) == "hello m01")
            #expect(Customer.greeting(port: m2.http) == "hello m02")
            // 127.0.0.2 is not in allow: the gateway resets it before any byte of a modem's.
            #expect(Customer.greeting(port: m1.http, source: "127.0.0.2") == nil)
            // A second pass changes nothing.
            let plan = try await gw.reconciler.plan(spec: spec, store: gw.store)
            #expect(plan.action == nil)
            // HAProxy's Prometheus exporter names every entry port's backend.
            let scrape = try Customer(port: gw.base + 18)
            scrape.send("GET /metrics HTTP/1.0\r\n")
            let lines = Array(sequence(state: scrape) { $0.line() })
            #expect(lines.contains { $0.hasPrefix("haproxy_server_status{proxy=\"m02_socks\",server=\"pi-2\",state=\"UP\"} 1") },
                    "\(lines.filter { $0.contains("server_status") })")
        }
    }

    @Test func aModemThatIsNotReadyIsRefusedAndComesBack() async throws {
        try await Self.with { gw in
            _ = try await gw.reconciler.apply(spec: gw.spec(), store: gw.store, revision: "r1")
            let m1 = try gw.entry("m01"), m2 = try gw.entry("m02")
            #expect(await eventually { Customer.greeting(port: m2.http) == "hello m02" })
            try gw.backends.setHealth("m02", ready: false)
            // Two failed checks at 500 ms (each entry port's backend checks on its own): refused,
            // never another modem's greeting.
            #expect(await eventually(within: .seconds(5)) { Customer.greeting(port: m2.http) == nil && Customer.greeting(port: m2.socks) == nil })
            #expect(Customer.greeting(port: m1.http) == "hello m01")
            let status = try await gw.reconciler.apply(spec: gw.spec(), store: gw.store, revision: "r1")
            #expect(status.modems.first { $0.name == "m02" }?.state == ["http": "DOWN", "socks": "DOWN"])
            try gw.backends.setHealth("m02", ready: true)
            #expect(await eventually(within: .seconds(5)) { Customer.greeting(port: m2.http) == "hello m02" })
        }
    }

    @Test func aReloadKeepsEstablishedConnectionsAndMovesNoPort() async throws {
        try await Self.with { gw in
            _ = try await gw.reconciler.apply(spec: gw.spec(), store: gw.store, revision: "r1")
            let m1 = try gw.entry("m01"), m2 = try gw.entry("m02")
            #expect(await eventually { Customer.greeting(port: m2.socks) == "hello m02" })
            let long = try (0..<10).map { index in try Customer(port: index % 2 == 0 ? m1.http : m2.socks) }
            for customer in long { #expect(customer.line()?.hasPrefix("hello") == true) }
            // A third modem: HAProxy reloads, the old worker keeps the established connections.
            let status = try await gw.reconciler.apply(spec: gw.spec(modems: 3), store: gw.store, revision: "r2")
            #expect(status.error == nil && status.revision == "r2")
            #expect(try gw.entry("m01") == m1 && gw.entry("m02") == m2)
            for (index, customer) in long.enumerated() {
                customer.send("still here \(index)")
                #expect(customer.line() == "still here \(index)")
            }
            #expect(await eventually { Customer.greeting(port: (try? gw.entry("m03").http) ?? 0) == "hello m03" })
        }
    }

    @Test func aReloadHAProxyRefusesKeepsTheRunningConfigurationAndSaysSo() async throws {
        try await Self.with { gw in
            _ = try await gw.reconciler.apply(spec: gw.spec(), store: gw.store, revision: "r1")
            let m1 = try gw.entry("m01")
            #expect(await eventually { Customer.greeting(port: m1.http) == "hello m01" })
            // m03's entry port is taken by another program: `haproxy -c` cannot see it, the reload fails.
            let squatter = try Backends(healthPort: gw.base + 4, ports: [])
            defer { squatter.stop() }
            let status = try await gw.reconciler.apply(spec: gw.spec(modems: 3), store: gw.store, revision: "r2")
            #expect(status.error?.hasPrefix("ReloadFailed") == true, "\(status.error ?? "no error")")
            #expect(status.revision == "r1")
            #expect(Customer.greeting(port: m1.http) == "hello m01")
        }
    }

    @Test func aKilledHAProxyIsStartedAgainByTheNextPass() async throws {
        try await Self.with { gw in
            _ = try await gw.reconciler.apply(spec: gw.spec(), store: gw.store, revision: "r1")
            let m1 = try gw.entry("m01")
            #expect(await eventually { Customer.greeting(port: m1.http) == "hello m01" })
            let pidFile = gw.directory.path + "/haproxy/haproxy.pid"
            let master = try #require(FileManager.default.contents(atPath: pidFile)
                .flatMap { Int32(String(decoding: $0, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)) })
            kill(-master, SIGKILL)   // the master daemonized into its own process group, with its worker
            #expect(await eventually { kill(master, 0) != 0 && Customer.greeting(port: m1.http) == nil })
            let plan = try await gw.reconciler.plan(spec: gw.spec(), store: gw.store)
            #expect(plan.action == .start)
            let status = try await gw.reconciler.apply(spec: gw.spec(), store: gw.store, revision: "r1")
            #expect(status.error == nil, "\(status.error ?? "")")
            #expect(await eventually { Customer.greeting(port: m1.http) == "hello m01" })
            #expect(try gw.entry("m01") == m1)
        }
    }
}
