import Drivers
import Foundation
import Reconciler
import Testing

/// DESIGN §7 on the real kernel: three veth modems in a namespace farm.
@Suite(.enabled(if: NetnsLab.canRun, "needs root to create network namespaces; CI (CI=true) fails instead of skipping"))
struct IPRouteNetworkControlTests {
    @Test func applyWritesExactlyTheRulesRoutesAndAddresses() async throws {
        try await NetnsLab.with(modems: 3) { lab in
            let driver = IPRouteNetworkControl(namespace: lab.farm)
            try await RoutingFixtures.converge(driver, RoutingFixtures.farm(lab))

            #expect(try RoutingFixtures.rules(lab, priority: 102) == [
                "priority=102 src=all table=102 uid_end=20002 uid_start=20002",
                "oif=wwan2 priority=102 src=all table=102",
                "priority=102 src=100.64.2.2 table=102",
            ])
            #expect(try RoutingFixtures.rules(lab, priority: 100) == (1...3).flatMap { n in
                RoutingFixtures.ports(n).map { "ipproto=tcp priority=100 sport=\($0) src=all table=main uid_end=2000\(n) uid_start=2000\(n)" }
            })
            #expect(try RoutingFixtures.routes(lab, table: 102) == [
                "dev=wwan2 dst=default flags=[onlink] gateway=100.64.2.1",
                "dst=default flags=[] metric=4294967295 type=unreachable",
            ])
            #expect(try RoutingFixtures.routes(lab, table: 103) == [
                "dev=wwan3 dst=default flags=[] scope=link",
                "dst=default flags=[] metric=4294967295 type=unreachable",
            ])
            let link = try #require(try lab.ipJSON(lab.farm, "-4", "address", "show", "dev", "wwan2").first)
            let addresses = (link["addr_info"] as? [[String: Any]] ?? []).map { "\($0["local"] ?? "")/\($0["prefixlen"] ?? "")" }
            #expect(addresses == ["100.64.2.2/24"])
            #expect((link["flags"] as? [String] ?? []).contains("UP"))
        }
    }

    @Test func secondApplyChangesNothing() async throws {
        try await NetnsLab.with(modems: 3) { lab in
            let driver = IPRouteNetworkControl(namespace: lab.farm)
            let desired = RoutingFixtures.farm(lab)
            let first = try await RoutingFixtures.converge(driver, desired)
            let perModem = 10 // guard lane, address, link, two routes, three rules, two reply rules
            #expect(first.count == 3 * perModem + 1, "and the guard's fence")
            try await RoutingFixtures.waitForCarrier(lab)
            let before = try RoutingFixtures.fullDump(lab)
            let second = try await RoutingFixtures.converge(driver, desired)
            #expect(second == [])
            #expect(try RoutingFixtures.fullDump(lab) == before)
        }
    }

    @Test func aLargerFarmConvergesInOnePass() async throws {
        try await NetnsLab.with(modems: 40) { lab in
            let driver = IPRouteNetworkControl(namespace: lab.farm)
            let desired = RoutingFixtures.farm(lab)
            let clock = ContinuousClock()
            let started = clock.now
            let changes = try await RoutingFixtures.converge(driver, desired)
            #expect(changes.count == 40 * 10 + 1)
            #expect(clock.now - started < .seconds(5))
            #expect(try await RoutingFixtures.converge(driver, desired) == [])
            let egress = try await lab.httpGet(from: lab.farm, uid: RoutingFixtures.uid(37))
            #expect(egress.stdout == lab.address(37) + "\n", "\(egress.stderr)")
        }
    }

    @Test func addressChangeSwapsOnlyThatModemsFromRule() async throws {
        try await NetnsLab.with(modems: 3) { lab in
            let driver = IPRouteNetworkControl(namespace: lab.farm)
            var desired = RoutingFixtures.farm(lab)
            try await RoutingFixtures.converge(driver, desired)
            let untouched = try [101, 103].map { try RoutingFixtures.rules(lab, priority: $0) + RoutingFixtures.routes(lab, table: $0) }

            desired[1] = RoutingFixtures.modem(2, in: lab, host: 7)
            let changes = try await RoutingFixtures.converge(driver, desired)
            #expect(changes == [
                .setAddress(interface: "wwan2", cidr: "100.64.2.7/24"),
                .addRoute(TableRoute(table: 102, kind: .defaultVia(interface: "wwan2", gateway: "100.64.2.1"))),
                .addRule(RoutingRule(priority: 102, selector: .from("100.64.2.7"), table: 102)),
                .removeRule(RoutingRule(priority: 102, selector: .from("100.64.2.2"), table: 102)),
            ])
            #expect(try RoutingFixtures.rules(lab, priority: 102) == [
                "priority=102 src=all table=102 uid_end=20002 uid_start=20002",
                "oif=wwan2 priority=102 src=all table=102",
                "priority=102 src=100.64.2.7 table=102",
            ])
            #expect(try [101, 103].map { try RoutingFixtures.rules(lab, priority: $0) + RoutingFixtures.routes(lab, table: $0) } == untouched)
            let egress = try await lab.httpGet(from: lab.farm, uid: RoutingFixtures.uid(2))
            #expect(egress.stdout == "100.64.2.7\n", "\(egress.stderr)")
        }
    }

    @Test func removedModemLeavesNoRuleOrRoute() async throws {
        try await NetnsLab.with(modems: 3) { lab in
            let driver = IPRouteNetworkControl(namespace: lab.farm)
            let desired = RoutingFixtures.farm(lab)
            try await RoutingFixtures.converge(driver, desired)
            try await RoutingFixtures.converge(driver, Array(desired.prefix(2)))
            #expect(try RoutingFixtures.rules(lab, priority: 103) == [])
            #expect(try RoutingFixtures.routes(lab, table: 103) == [])
            #expect(try RoutingFixtures.rules(lab, priority: 102).count == 3)
            #expect(try RoutingFixtures.rules(lab, priority: 100).count == 4)
            #expect(try RoutingFixtures.rules(lab, priority: 100).allSatisfy { !$0.contains("uid_start=20003") })
        }
    }

    @Test func foreignRulesAndTablesSurvive() async throws {
        try await NetnsLab.with(modems: 3) { lab in
            try lab.ip(lab.farm, "rule", "add", "priority", "50", "fwmark", "3", "lookup", "7")
            try lab.ip(lab.farm, "rule", "add", "priority", "300", "from", "100.64.9.9", "lookup", "300")
            try lab.ip(lab.farm, "rule", "add", "priority", "32000", "uidrange", "20002-20002", "lookup", "500")
            try lab.ip(lab.farm, "rule", "add", "priority", "99", "uidrange", "20002-20002", "ipproto", "tcp", "sport", "8102", "lookup", "main")
            try lab.ip(lab.farm, "route", "add", "unreachable", "default", "metric", "4294967295", "table", "300")
            try lab.ip(lab.farm, "route", "add", "default", "via", NetnsLab.uplinkGateway, "table", "500")
            let foreign = try RoutingFixtures.ruleDump(lab).filter { !$0.contains("table=10") }
                + RoutingFixtures.routes(lab, table: 300) + RoutingFixtures.routes(lab, table: 500)

            let driver = IPRouteNetworkControl(namespace: lab.farm)
            let desired = RoutingFixtures.farm(lab)
            try await RoutingFixtures.converge(driver, desired)
            try await RoutingFixtures.converge(driver, [])
            let after = try RoutingFixtures.ruleDump(lab).filter { !$0.contains("table=10") }
                + RoutingFixtures.routes(lab, table: 300) + RoutingFixtures.routes(lab, table: 500)
            #expect(after == foreign)
            #expect(foreign.count == 4 + 3 + 2)
            #expect(try RoutingFixtures.ruleDump(lab).allSatisfy { !$0.contains("table=10") && !$0.contains("priority=100 ") })
        }
    }

    @Test func duplicateAndStaleRulesAreCollapsedAndRemoved() async throws {
        try await NetnsLab.with(modems: 3) { lab in
            let driver = IPRouteNetworkControl(namespace: lab.farm)
            let desired = RoutingFixtures.farm(lab)
            try await RoutingFixtures.converge(driver, desired)
            // The kernel refuses an exact duplicate, but not one that differs only in protocol.
            for proto in ["static", "boot"] {
                try lab.ip(lab.farm, "rule", "add", "priority", "102", "uidrange", "20002-20002", "lookup", "102", "protocol", proto)
            }
            try lab.ip(lab.farm, "rule", "add", "priority", "100", "uidrange", "20002-20002", "ipproto", "tcp", "sport", "8102",
                       "lookup", "main", "protocol", "static")
            try lab.ip(lab.farm, "rule", "add", "priority", "100", "uidrange", "20002-20002", "ipproto", "tcp", "sport", "9999", "lookup", "main")
            try lab.ip(lab.farm, "rule", "add", "priority", "150", "oif", "wwan9", "lookup", "150")
            try lab.ip(lab.farm, "route", "add", "unreachable", "default", "metric", "4294967295", "table", "150")

            let observed = try await driver.observe(tables: RoutingFixtures.ownedTables)
            let mismatches = routingMismatches(desired: desired, observed: observed, owned: RoutingFixtures.owned)
            #expect(mismatches.map(\.description) == [
                "m02: rule 100 uidrange 20002-20002 ipproto tcp sport 8102 lookup 254 present 2 times; unexpected rule 100 uidrange 20002-20002 ipproto tcp sport 9999 lookup 254; rule 102 uidrange 20002-20002 lookup 102 present 3 times",
                "no modem: unexpected rule 150 oif wwan9 lookup 150; unexpected route table 150 unreachable default metric 4294967295",
            ])
            try await RoutingFixtures.converge(driver, desired)
            #expect(try RoutingFixtures.rules(lab, priority: 102).filter { $0.contains("uid_start") }.count == 1)
            let replies = try RoutingFixtures.rules(lab, priority: 100).filter { $0.contains("uid_start=20002") }
            #expect(RoutingFixtures.ports(2).map { port in replies.filter { $0.contains(" sport=\(port) ") }.count } == [1, 1])
            #expect(replies.count == 2)
            #expect(try RoutingFixtures.rules(lab, priority: 150) == [])
            #expect(try RoutingFixtures.routes(lab, table: 150) == [])
        }
    }

    @Test func failedChangesAreNamedAndTheRestIsApplied() async throws {
        try await NetnsLab.with(modems: 1) { lab in
            let driver = IPRouteNetworkControl(namespace: lab.farm)
            let broken = TableRoute(table: 101, kind: .defaultVia(interface: "wwan1", gateway: "100.64.1.1"))
            let fine = RoutingRule(priority: 101, selector: .uidRange(20001, 20001), table: 101)
            // wwan1 is still down, so a route through it is refused; the rule after it must still land.
            let failure = await #expect(throws: NetworkError.self) {
                try await driver.apply([.addRoute(broken), .addRule(fine)])
            }
            #expect(failure?.reason == "NetworkChangeFailed")
            if case .changesFailed(let failures) = failure {
                #expect(failures.map(\.change) == [broken.description])
                #expect(failures.first?.answer.isEmpty == false)
            } else {
                Issue.record("expected changesFailed, got \(String(describing: failure))")
            }
            let observed = try await driver.observe(tables: RoutingFixtures.ownedTables)
            #expect(observed.rules.contains(fine))
        }
    }

    @Test func changesIpCouldNotParseAreNeverSent() async throws {
        try await NetnsLab.with(modems: 1) { lab in
            let driver = IPRouteNetworkControl(namespace: lab.farm)
            let smuggled = NetworkChange.linkUp(interface: "wwan1\nrule flush")
            let fine = NetworkChange.addRule(RoutingRule(priority: 101, selector: .uidRange(20001, 20001), table: 101))
            let failure = await #expect(throws: NetworkError.self) { try await driver.apply([smuggled, fine]) }
            #expect(failure?.message == #"1 network change(s) failed: link wwan1\nrule flush up: not sent: invalid interface name "wwan1\nrule flush""#)
            let rules = try RoutingFixtures.ruleDump(lab)
            #expect(rules.count == 4, "local, main, default and the one added: \(rules)")
        }
    }

    @Test func aFailedChangeIsThatModemsMismatchOnly() async throws {
        try await NetnsLab.with(modems: 2) { lab in
            var desired = RoutingFixtures.farm(lab)
            desired[0].gateway = "fe80::1"
            let pass = try await applyRouting(desired, using: IPRouteNetworkControl(namespace: lab.farm),
                                              owned: RoutingFixtures.owned)
            #expect(pass.applyError?.reason == "NetworkChangeFailed")
            #expect(pass.problems(of: "m01") == ["missing route table 101 default dev wwan1 via fe80::1"])
            #expect(pass.problems(of: "m02") == [])
            #expect(!pass.converged)
        }
    }

    /// The kernel's counters of the modem's interface grow with what its uid sends and receives.
    @Test func observeReadsTheInterfacesByteCounters() async throws {
        try await NetnsLab.with(modems: 2) { lab in
            let driver = IPRouteNetworkControl(namespace: lab.farm)
            try await RoutingFixtures.converge(driver, RoutingFixtures.farm(lab))
            try await RoutingFixtures.waitForCarrier(lab)
            let before = try #require(try await driver.observe(tables: RoutingFixtures.ownedTables).counters["wwan2"])
            let http = try await lab.httpGet(from: lab.farm, uid: 20002)
            #expect(http.stdout == lab.address(2) + "\n", "\(http.stderr)")
            let after = try #require(try await driver.observe(tables: RoutingFixtures.ownedTables).counters["wwan2"])
            #expect(after.index == before.index)
            // A TCP handshake, request and answer: well over 100 bytes each way.
            #expect(after.bytes.receive >= before.bytes.receive + 100)
            #expect(after.bytes.transmit >= before.bytes.transmit + 100)
        }
    }

    @Test func missingNamespaceIsAnObserveError() async throws {
        let driver = IPRouteNetworkControl(namespace: "pf\(getpid())-no-such-namespace")
        await #expect(throws: NetworkError.self) { try await driver.observe(tables: RoutingFixtures.ownedTables) }
    }
}
