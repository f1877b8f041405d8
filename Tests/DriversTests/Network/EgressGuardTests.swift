import Drivers
import Foundation
import Reconciler
import Testing

/// The egress guard on the real kernel (docs/routing.md): whatever routing does, a lane's uid
/// leaves only through its modem.
@Suite(.enabled(if: NetnsLab.canRun, "needs root to create network namespaces; CI (CI=true) fails instead of skipping"))
struct EgressGuardTests {
    /// Source addresses the internet side saw from the host's own uplink: each one is a leak.
    private func leaks(_ lab: NetnsLab) -> [String] {
        lab.seenSources().filter { $0.hasSuffix(" " + NetnsLab.uplinkAddress) }
    }

    @Test func withItsRulesDeletedALaneIsRefusedNotLeaked() async throws {
        try await NetnsLab.with(modems: 1) { lab in
            let driver = IPRouteNetworkControl(namespace: lab.farm)
            let modem = RoutingFixtures.modem(1, in: lab)
            try await RoutingFixtures.converge(driver, [modem])
            let egress = try await lab.httpGet(from: lab.farm, uid: modem.uid)
            #expect(egress.stdout == lab.address(1) + "\n", "\(egress.stderr)")

            // What the hostile audit did: the lane's rules gone while the modem cannot be read.
            try lab.ip(lab.farm, "rule", "del", "priority", "101", "uidrange", "20001-20001", "lookup", "101")
            try lab.ip(lab.farm, "rule", "del", "priority", "101", "oif", "wwan1", "lookup", "101")
            for _ in 0..<5 {
                let refused = try await lab.httpGet(from: lab.farm, uid: modem.uid, timeout: .seconds(2))
                #expect(!refused.succeeded, "uid 20001 got out without its rules: \(refused.stdout)")
                let dns = try await lab.udpAsk(from: lab.farm, uid: modem.uid, timeout: .seconds(1))
                #expect(!dns.succeeded)
            }
            #expect(leaks(lab) == [])
            // Another uid is none of the guard's business.
            #expect(try await lab.httpGet(from: lab.farm, uid: 4242).stdout == NetnsLab.uplinkAddress + "\n")
        }
    }

    @Test func theHostsLoopbackAndOwnAddressesAreRefusedToALane() async throws {
        try await NetnsLab.with(modems: 1) { lab in
            let driver = IPRouteNetworkControl(namespace: lab.farm)
            let modem = RoutingFixtures.modem(1, in: lab)
            try await RoutingFixtures.converge(driver, [modem])
            let service = Task.detached {
                try await lab.run(in: lab.farm, [NetnsLab.python, "-c", Self.oneShotServer], timeout: .seconds(20))
            }
            try await lab.waitUntilListening(in: lab.farm, port: 8399)
            for target in ["127.0.0.1", NetnsLab.uplinkAddress, lab.address(1), NetnsLab.uplinkGateway] {
                let attempt = try await lab.run(in: lab.farm, uid: modem.uid, [NetnsLab.python, "-c", Self.connect, target], timeout: .seconds(10))
                #expect(attempt.stdout.hasPrefix("refused"), "uid 20001 reached \(target): \(attempt.stdout) \(attempt.stderr)")
            }
            // The host itself (root) still reaches its service: the guard is only about the lane.
            let root = try await lab.run(in: lab.farm, [NetnsLab.python, "-c", Self.connect, "127.0.0.1"], timeout: .seconds(10))
            #expect(root.stdout.hasPrefix("connected"))
            #expect(try await service.value.succeeded, "the service saw exactly the host's one connection")
        }
    }

    @Test func foreignTablesStayAndAHandEditedOrDeletedGuardIsRewrittenWhole() async throws {
        try await NetnsLab.with(modems: 2) { lab in
            let foreign = "table inet operator {\n\tchain out {\n\t\ttype filter hook output priority 10; policy accept;\n\t\tmeta skuid 20001 counter\n\t}\n}\n"
            try await lab.run(in: lab.farm, ["nft", "-f", "-"], input: foreign).check()
            let driver = IPRouteNetworkControl(namespace: lab.farm)
            let desired = RoutingFixtures.farm(lab)
            try await RoutingFixtures.converge(driver, desired)
            let observed = try await driver.observe(tables: RoutingFixtures.ownedTables).egressGuard
            #expect(observed.unreadable == nil)
            #expect(observed.fence == RoutingFixtures.owned.uids)
            #expect(observed.lanes == Dictionary(uniqueKeysWithValues: desired.map { ($0.uid, $0.guardLane) }))

            try await lab.run(in: lab.farm, ["nft", "insert", "rule", "inet", "proxyfarm", "lane_20001", "accept"]).check()
            let edited = try await driver.observe(tables: RoutingFixtures.ownedTables).egressGuard
            #expect(edited.lanes[20001] == nil && edited.lanes[20002] != nil, "a lane that is not ours to the letter is not trusted")
            try await RoutingFixtures.converge(driver, desired)
            try await lab.run(in: lab.farm, ["nft", "delete", "table", "inet", "proxyfarm"]).check()
            #expect(try await driver.observe(tables: RoutingFixtures.ownedTables).egressGuard == GuardState())
            try await RoutingFixtures.converge(driver, desired)

            let ours = try await lab.run(in: lab.farm, ["nft", "list", "table", "inet", "proxyfarm"]).check()
            #expect(!ours.contains("\t\taccept\n"))
            let theirs = try await lab.run(in: lab.farm, ["nft", "list", "table", "inet", "operator"]).check()
            #expect(theirs.contains("meta skuid 20001 counter"), "the operator's table is left alone: \(theirs)")
            try await RoutingFixtures.converge(driver, [])
            let empty = try await driver.observe(tables: RoutingFixtures.ownedTables).egressGuard
            #expect(empty.lanes.isEmpty && empty.fence == RoutingFixtures.owned.uids, "no lanes: every uid of the range is refused")
        }
    }

    @Test func refusedPacketsAreCountedPerLane() async throws {
        try await NetnsLab.with(modems: 1) { lab in
            let driver = IPRouteNetworkControl(namespace: lab.farm)
            let modem = RoutingFixtures.modem(1, in: lab)
            try await RoutingFixtures.converge(driver, [modem])
            _ = try await lab.run(in: lab.farm, uid: modem.uid, [NetnsLab.python, "-c", Self.connect, "127.0.0.1"], timeout: .seconds(10))
            let counted = try await driver.observe(tables: RoutingFixtures.ownedTables).egressGuard.refusedPackets[modem.uid] ?? 0
            #expect(counted >= 1)
        }
    }

    @Test func aGuardThatCannotBeReachedIsUnreadableAndCannotBeWritten() async throws {
        try await NetnsLab.with(modems: 1) { lab in
            let modem = RoutingFixtures.modem(1, in: lab)
            let driver = NFTablesGuard(namespace: lab.farm + "-gone")
            let observed = await driver.observe()
            #expect(observed.unreadable?.contains("cannot open network namespace /var/run/netns/\(lab.farm)-gone") == true)
            let failure = await #expect(throws: NetworkError.self) { try await driver.apply([.setGuardLane(modem.guardLane)], to: observed) }
            #expect(failure?.reason == "NetworkChangeFailed")
        }
    }

    /// The host's own service on port 8399 (as root): accepts one connection, then exits.
    private static let oneShotServer = """
        import socket
        s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("0.0.0.0", 8399)); s.listen(16); s.settimeout(15)
        c, _ = s.accept(); c.close()
        """

    /// Connects to ARGV[1]:8399 and says `connected` or `refused …`.
    private static let connect = """
        import socket, sys
        try:
            socket.create_connection((sys.argv[1], 8399), timeout=3).close(); print("connected")
        except OSError as e:
            print("refused", e)
        """
}
