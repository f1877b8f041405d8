import Foundation
import Reconciler
import Testing
@testable import Drivers

/// The network look (rtnetlink dumps) on the real kernel: every shape of rule and route that
/// `ip` can write, made with `ip` in a namespace and read back; and the batch lines changes become.
@Suite struct RoutingDumpTests {
    @Test(.enabled(if: NetnsLab.canRun, "needs root to create network namespaces; CI (CI=true) fails instead of skipping"))
    func onlyRulesOfOurShapesAreRead() async throws {
        try await NetnsLab.with(modems: 1) { lab in
            let foreign = [
                "priority 50 fwmark 3 lookup 7", "priority 120 not oif wwan1 lookup 101", "priority 130 iif lo lookup 101",
                "priority 140 lookup 101", "priority 141 to 10.0.0.0/8 lookup 101", "priority 142 tos 0x10 lookup 101",
                "priority 143 uidrange 20001-20001 unreachable", "priority 144 uidrange 20001-20001 goto 150",
                "priority 145 uidrange 20001-20001 lookup 101 suppress_prefixlength 0", "priority 146 uidrange 20001-20001 dport 80 lookup 101",
                "priority 147 uidrange 20001-20001 fwmark 0x1/0xff lookup 101",
                "priority 100 uidrange 20001-20001 ipproto udp sport 8101 lookup main",
                "priority 100 uidrange 20001-20002 ipproto tcp sport 8101 lookup main",
                "priority 100 uidrange 20001-20001 ipproto tcp sport 1-9 lookup main",
                "priority 100 uidrange 20001-20001 ipproto tcp lookup main", "priority 100 ipproto tcp sport 8101 lookup main",
                "priority 100 from 10.0.0.1 uidrange 20001-20001 ipproto tcp sport 8101 lookup main",
            ]
            let ours = [
                "priority 101 uidrange 20001-20001 lookup 101", "priority 101 from 100.64.1.2 lookup 101 protocol 4",
                "priority 101 from 100.64.3.0/24 lookup 101", "priority 101 oif wwan9 lookup 101",
                "priority 101 uidrange 20001-20001 lookup 101 protocol 4",  // a duplicate (only `ip` protocols differ) stays one
                "priority 99 uidrange 20001-20001 ipproto tcp sport 8101 lookup main",
                "priority 99 uidrange 20001-20001 ipproto 6 sport 9101 lookup 254",
            ]
            for rule in foreign + ours {
                _ = try LabCommand.check(["ip", "-n", lab.farm, "rule", "add"] + rule.split(separator: " ").map(String.init))
            }
            let state = try await IPRouteNetworkControl(namespace: lab.farm).observe(tables: RoutingFixtures.ownedTables)
            #expect(state.rules.sorted { $0.description < $1.description } == [
                RoutingRule(priority: 101, selector: .uidRange(20001, 20001), table: 101),
                RoutingRule(priority: 101, selector: .uidRange(20001, 20001), table: 101),
                RoutingRule(priority: 101, selector: .from("100.64.1.2"), table: 101),
                RoutingRule(priority: 101, selector: .from("100.64.3.0/24"), table: 101),
                RoutingRule(priority: 101, selector: .oif("wwan9"), table: 101),
                RoutingRule(priority: 99, selector: .uidTCPSourcePort(uid: 20001, port: 8101), table: 254),
                RoutingRule(priority: 99, selector: .uidTCPSourcePort(uid: 20001, port: 9101), table: 254),
            ].sorted { $0.description < $1.description })
        }
    }

    @Test(.enabled(if: NetnsLab.canRun, "needs root to create network namespaces; CI (CI=true) fails instead of skipping"))
    func onlyDefaultAndFailClosedRoutesOfOurTablesAreRead() async throws {
        try await NetnsLab.with(modems: 3) { lab in
            for n in 2...3 { _ = try lab.ip(lab.farm, "link", "set", "wwan\(n)", "up") }
            for route in [
                "default via 100.64.2.1 dev wwan2 onlink table 102", "unreachable default metric 4294967295 table 102",
                "default dev wwan3 table 103", "default dev wwan3 metric 5 table 103", "unreachable default metric 10 table 103",
                "10.0.0.0/8 dev wwan3 table 103", "blackhole default table 104", "unreachable default metric 4294967295 table 300",
                "default via 100.64.3.1 dev wwan3 onlink metric 0 table 105",
            ] {
                _ = try LabCommand.check(["ip", "-n", lab.farm, "route", "add"] + route.split(separator: " ").map(String.init))
            }
            _ = try lab.ip(lab.farm, "address", "add", "100.64.1.2/24", "dev", "wwan1")
            _ = try lab.ip(lab.farm, "address", "add", "100.64.1.9/32", "dev", "wwan1")
            let state = try await IPRouteNetworkControl(namespace: lab.farm).observe(tables: RoutingFixtures.ownedTables)
            #expect(state.routes.sorted { $0.description < $1.description } == [
                TableRoute(table: 102, kind: .defaultVia(interface: "wwan2", gateway: "100.64.2.1")),
                TableRoute(table: 102, kind: .unreachableDefault),
                TableRoute(table: 103, kind: .defaultVia(interface: "wwan3", gateway: nil)),
                TableRoute(table: 105, kind: .defaultVia(interface: "wwan3", gateway: "100.64.3.1")),
            ].sorted { $0.description < $1.description })
            // Every interface, up or not, with its IPv4 addresses: as `ip` shows them.
            let links = try lab.ipJSON(lab.farm, "link", "show")
            #expect(Set(state.addresses.keys) == Set(links.compactMap { $0["ifname"] as? String }))
            #expect(state.upInterfaces == Set(links.filter { ($0["flags"] as? [String] ?? []).contains("UP") }.compactMap { $0["ifname"] as? String }))
            #expect(state.upInterfaces.contains("wwan2") && !state.upInterfaces.contains("wwan1"))
            #expect(state.addresses["wwan1"] == ["100.64.1.2/24", "100.64.1.9/32"])
            #expect(state.addresses["wwan2"] == [])
            #expect(Set(state.counters.keys) == Set(state.addresses.keys))
            let indexes = Dictionary(uniqueKeysWithValues: links.compactMap { link in (link["ifname"] as? String).map { ($0, link["ifindex"] as? Int) } })
            #expect(state.counters.allSatisfy { indexes[$0.key] == $0.value.index })
        }
    }

    @Test func batchLinesSayExactlyWhatIsChanged() {
        let lines = [
            NetworkChange.setAddress(interface: "wwan2", cidr: "100.64.2.7/24"),
            .linkUp(interface: "wwan2"),
            .addRoute(TableRoute(table: 102, kind: .defaultVia(interface: "wwan2", gateway: "100.64.2.1"))),
            .addRoute(TableRoute(table: 103, kind: .defaultVia(interface: "wwan3", gateway: nil))),
            .removeRoute(TableRoute(table: 104, kind: .unreachableDefault)),
            .addRule(RoutingRule(priority: 102, selector: .uidRange(20002, 20002), table: 102)),
            .removeRule(RoutingRule(priority: 102, selector: .from("100.64.2.2"), table: 102)),
            .addRule(RoutingRule(priority: 102, selector: .oif("wwan2"), table: 102)),
            .addRule(RoutingRule(priority: 100, selector: .uidTCPSourcePort(uid: 20002, port: 8102), table: 254)),
        ].flatMap(IPRouteNetworkControl.batchLines)
        #expect(lines == [
            "address flush dev wwan2", "address add 100.64.2.7/24 dev wwan2",
            "link set dev wwan2 up",
            "route replace default via 100.64.2.1 dev wwan2 onlink table 102",
            "route replace default dev wwan3 table 103",
            "route del unreachable default metric 4294967295 table 104",
            "rule add priority 102 uidrange 20002-20002 lookup 102",
            "rule del priority 102 from 100.64.2.2 lookup 102",
            "rule add priority 102 oif wwan2 lookup 102",
            "rule add priority 100 uidrange 20002-20002 ipproto tcp sport 8102 lookup 254",
        ])
    }

    /// One netlink message: `length type flags sequence pid`, then `body`.
    private static func message(type: UInt16, flags: UInt16 = 0x2, sequence: UInt32, body: [UInt8]) -> [UInt8] {
        func bytes<T: FixedWidthInteger>(_ value: T) -> [UInt8] { withUnsafeBytes(of: value.littleEndian) { Array($0) } }
        let padded = body + [UInt8](repeating: 0, count: (4 - body.count % 4) % 4)
        return bytes(UInt32(16 + body.count)) + bytes(type) + bytes(flags) + bytes(sequence) + bytes(UInt32(0)) + padded
    }

    /// A dump the kernel marks interrupted (NLM_F_DUMP_INTR on any of its messages) is read whole,
    /// said to be interrupted, and asked again; answers to other requests are skipped.
    @Test func anInterruptedDumpIsNoticedAndAskedAgainAtMostThreeTimes() throws {
        let sequence: UInt32 = 0x1_0012
        // RTM_NEWLINK with a 16-byte ifinfomsg and one IFLA_IFNAME attribute.
        let link = [UInt8](repeating: 0, count: 16) + [9, 0, 3, 0] + Array("wwan".utf8) + [0]
        var reader = Netlink.DumpReader(type: 18, sequence: sequence, headerSize: 16)
        let first = Self.message(type: 16, sequence: sequence, body: link)
            + Self.message(type: 16, sequence: sequence + 1, body: link)  // another request's answer
        #expect(try reader.read(first[...]) == nil)
        let second = Self.message(type: 16, flags: 0x2 | 0x10, sequence: sequence, body: link)
            + Self.message(type: 3, sequence: sequence, body: [0, 0, 0, 0])
        let dump = try #require(try reader.read(second[...]))
        #expect(dump.interrupted)
        #expect(dump.messages.map(\.type) == [16, 16])
        #expect(dump.messages.first?.string(3) == "wwan")

        var clean = Netlink.DumpReader(type: 18, sequence: sequence, headerSize: 16)
        let whole = Self.message(type: 16, sequence: sequence, body: link) + Self.message(type: 3, sequence: sequence, body: [0, 0, 0, 0])
        #expect(try clean.read(whole[...])?.interrupted == false)

        var attempts: [Int] = []
        let messages = try Netlink.untilComplete(type: 18) { attempt in
            attempts.append(attempt)
            return Netlink.DumpReader.Dump(messages: attempt == 3 ? dump.messages : [], interrupted: attempt < 3)
        }
        #expect(attempts == [1, 2, 3] && messages.count == 2)
        attempts = []
        #expect(throws: RoutingDumpError.self) {
            try Netlink.untilComplete(type: 18) { attempt in
                attempts.append(attempt)
                return Netlink.DumpReader.Dump(messages: [], interrupted: true)
            }
        }
        #expect(attempts == [1, 2, 3])
    }

    @Test func anErrorAnswerOrACutMessageEndsTheDumpWithWhatWentWrong() throws {
        let sequence: UInt32 = 7
        var reader = Netlink.DumpReader(type: 26, sequence: sequence, headerSize: 12)
        let error = Self.message(type: 2, sequence: sequence, body: withUnsafeBytes(of: Int32(-ENOBUFS).littleEndian) { Array($0) } + [UInt8](repeating: 0, count: 16))
        do {
            _ = try reader.read(error[...])
            Issue.record("an error answer was taken")
        } catch {
            #expect(error.detail == "netlink dump 26: No buffer space available")
        }
        var cut = Netlink.DumpReader(type: 26, sequence: sequence, headerSize: 12)
        let whole = Self.message(type: 24, sequence: sequence, body: [UInt8](repeating: 0, count: 12))
        do {
            _ = try cut.read(whole.dropLast(4))
            Issue.record("a cut message was taken")
        } catch {
            #expect(error.detail == "netlink dump 26: a cut message")
        }
    }
}
