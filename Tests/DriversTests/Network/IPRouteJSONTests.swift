import Foundation
import Reconciler
import Testing
@testable import Drivers

/// Reading `ip -N -json` dumps as this iproute2 prints them.
struct IPRouteJSONTests {
    @Test func rulesOfOtherShapesAreNotOurs() throws {
        let dump = #"""
        [{"priority":0,"src":"all","table":"255"},
         {"priority":50,"src":"all","fwmark":"0x3","table":"7"},
         {"priority":101,"src":"all","uid_start":20001,"uid_end":20001,"table":"101"},
         {"priority":101,"src":"100.64.1.2","table":"101","protocol":"4"},
         {"priority":101,"src":"100.64.3.0","srclen":24,"table":"101"},
         {"priority":101,"src":"all","oif":"wwan9","oif_detached":null,"table":"101"},
         {"priority":120,"not":null,"src":"all","oif":"wwan1","table":"101"},
         {"priority":130,"src":"all","iif":"lo","table":"101"},
         {"priority":140,"src":"all","table":"101"},
         {"priority":100,"src":"all","uid_start":20001,"uid_end":20001,"ipproto":"ipproto-6","sport":8101,"table":"254"},
         {"priority":100,"src":"all","uid_start":20001,"uid_end":20001,"ipproto":"tcp","sport":9101,"table":"254"},
         {"priority":100,"src":"all","uid_start":20001,"uid_end":20001,"ipproto":"ipproto-17","sport":8101,"table":"254"},
         {"priority":100,"src":"all","uid_start":20001,"uid_end":20002,"ipproto":"ipproto-6","sport":8101,"table":"254"},
         {"priority":100,"src":"all","uid_start":20001,"uid_end":20001,"ipproto":"ipproto-6","sport_start":1,"sport_end":9,"table":"254"},
         {"priority":100,"src":"all","uid_start":20001,"uid_end":20001,"ipproto":"ipproto-6","table":"254"},
         {"priority":100,"src":"all","ipproto":"ipproto-6","sport":8101,"table":"254"},
         {"priority":100,"src":"10.0.0.1","uid_start":20001,"uid_end":20001,"ipproto":"ipproto-6","sport":8101,"table":"254"},
         {"priority":32766,"src":"all","table":"254"}]
        """#
        #expect(try IPRouteJSON.rules(Data(dump.utf8)) == [
            RoutingRule(priority: 101, selector: .uidRange(20001, 20001), table: 101),
            RoutingRule(priority: 101, selector: .from("100.64.1.2"), table: 101),
            RoutingRule(priority: 101, selector: .from("100.64.3.0/24"), table: 101),
            RoutingRule(priority: 101, selector: .oif("wwan9"), table: 101),
            RoutingRule(priority: 100, selector: .uidTCPSourcePort(uid: 20001, port: 8101), table: 254),
            RoutingRule(priority: 100, selector: .uidTCPSourcePort(uid: 20001, port: 9101), table: 254),
        ])
    }

    @Test func onlyDefaultAndFailClosedRoutesOfOurTablesAreRead() throws {
        let dump = #"""
        [{"dst":"default","gateway":"192.0.2.1","dev":"eth0","flags":[]},
         {"dst":"default","gateway":"100.64.2.1","dev":"wwan2","table":"102","flags":["onlink"]},
         {"type":"7","dst":"default","table":"102","metric":4294967295,"flags":[]},
         {"dst":"default","dev":"wwan3","table":"103","scope":"253","flags":["linkdown"]},
         {"dst":"default","dev":"wwan3","table":"103","metric":5,"flags":[]},
         {"type":"7","dst":"default","table":"103","metric":10,"flags":[]},
         {"dst":"10.0.0.0/8","dev":"wwan3","table":"103","flags":[]},
         {"type":"6","dst":"default","table":"104","flags":[]},
         {"type":"7","dst":"default","table":"300","metric":4294967295,"flags":[]}]
        """#
        #expect(try IPRouteJSON.routes(Data(dump.utf8), tables: 100...199) == [
            TableRoute(table: 102, kind: .defaultVia(interface: "wwan2", gateway: "100.64.2.1")),
            TableRoute(table: 102, kind: .unreachableDefault),
            TableRoute(table: 103, kind: .defaultVia(interface: "wwan3", gateway: nil)),
        ])
    }

    @Test func addressesListEveryInterfaceWithItsIPv4Addresses() throws {
        // `ip -4 link show` lists every interface; `ip -4 address show` only those with an IPv4 address.
        let links = #"""
        [{"ifindex":1,"ifname":"lo","flags":["LOOPBACK"]},{"ifindex":3,"ifname":"wwan2","flags":["BROADCAST","UP","LOWER_UP"]},
         {"ifindex":4,"ifname":"wwan3","flags":["BROADCAST","UP"]}]
        """#
        let addresses = #"""
        [{"ifindex":3,"ifname":"wwan2","flags":["BROADCAST","UP","LOWER_UP"],"addr_info":[
           {"family":"inet","local":"100.64.2.2","prefixlen":24}]}]
        """#
        let read = try IPRouteJSON.links(Data(links.utf8))
        #expect(read.names == ["lo", "wwan2", "wwan3"])
        #expect(read.up == ["wwan2", "wwan3"])
        #expect(try IPRouteJSON.addresses(Data(addresses.utf8)) == ["wwan2": ["100.64.2.2/24"]])
    }

    @Test func linksWithStatisticsGiveTheirByteCounters() throws {
        // `ip -s -json link show`: stats64 per interface; counters run up to 2^64 − 1.
        let links = #"""
        [{"ifindex":1,"ifname":"lo","flags":["LOOPBACK"]},
         {"ifindex":7,"ifname":"wwan0","flags":["UP"],"stats64":{"rx":{"bytes":123456,"packets":90},"tx":{"bytes":7890,"packets":40}}},
         {"ifindex":9,"ifname":"wwan1","flags":["UP"],"stats64":{"rx":{"bytes":18446744073709551615},"tx":{"bytes":0}}}]
        """#
        let read = try IPRouteJSON.links(Data(links.utf8))
        #expect(read.counters == [
            "wwan0": InterfaceCounters(index: 7, bytes: ByteCounts(receive: 123_456, transmit: 7890)),
            "wwan1": InterfaceCounters(index: 9, bytes: ByteCounts(receive: UInt64.max, transmit: 0)),
        ])
    }

    @Test func garbageIsAnError() {
        #expect(throws: IPRouteJSONError.self) { try IPRouteJSON.rules(Data("RTNETLINK answers".utf8)) }
        #expect(throws: IPRouteJSONError.self) { try IPRouteJSON.links(Data(#"{"ifname":"x"}"#.utf8)) }
        #expect(throws: IPRouteJSONError.self) { try IPRouteJSON.addresses(Data(#"[{"addr_info":[]}]"#.utf8)) }
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
}
