import Reconciler
import Testing

/// The planner on hand-written kernel states: the cases a namespace farm cannot easily show.
struct RoutingPlanTests {
    private let owned = 100...199
    private let modem = ModemRouting(modem: "m02", table: 102, priority: 102, uid: 20002, interface: "wwan2",
                                     address: "100.64.2.2/24", gateway: "100.64.2.1")

    private func rule(_ selector: RoutingRule.Selector, priority: Int = 102, table: Int = 102) -> RoutingRule {
        RoutingRule(priority: priority, selector: selector, table: table)
    }

    private var converged: NetworkState {
        NetworkState(addresses: ["wwan2": ["100.64.2.2/24"], "eth0": ["192.0.2.2/24"]], upInterfaces: ["wwan2", "eth0"],
                     routes: [TableRoute(table: 102, kind: .defaultVia(interface: "wwan2", gateway: "100.64.2.1")),
                              TableRoute(table: 102, kind: .unreachableDefault)],
                     rules: [rule(.uidRange(20002, 20002)), rule(.oif("wwan2")), rule(.from("100.64.2.2"))])
    }

    @Test func convergedStateNeedsNothing() {
        #expect(networkChanges(desired: [modem], observed: converged, ownedTables: owned) == [])
        #expect(routingMismatches(desired: [modem], observed: converged, ownedTables: owned) == [])
    }

    @Test func missingInterfaceGetsOnlyTheFailClosedParts() {
        var observed = converged
        observed.addresses["wwan2"] = nil
        observed.upInterfaces.remove("wwan2")
        observed.routes = []
        observed.rules = []
        #expect(networkChanges(desired: [modem], observed: observed, ownedTables: owned) == [
            .addRoute(TableRoute(table: 102, kind: .unreachableDefault)),
            .addRule(rule(.uidRange(20002, 20002))),
            .addRule(rule(.oif("wwan2"))),
            .addRule(rule(.from("100.64.2.2"))),
        ])
        let mismatches = routingMismatches(desired: [modem], observed: observed, ownedTables: owned)
        #expect(mismatches.first?.problems.first == "interface wwan2 not found")
    }

    @Test func modemWithoutAddressKeepsOnlyUidAndOifRules() {
        var disconnected = modem
        disconnected.address = nil
        #expect(networkChanges(desired: [disconnected], observed: converged, ownedTables: owned) == [
            .removeRule(rule(.from("100.64.2.2"))),
            .removeRoute(TableRoute(table: 102, kind: .defaultVia(interface: "wwan2", gateway: "100.64.2.1"))),
        ])
    }

    @Test func gatewayChangeReplacesTheDefaultRouteWithoutRemovingIt() {
        var moved = modem
        moved.gateway = "100.64.2.254"
        #expect(networkChanges(desired: [moved], observed: converged, ownedTables: owned) == [
            .addRoute(TableRoute(table: 102, kind: .defaultVia(interface: "wwan2", gateway: "100.64.2.254"))),
        ])
    }

    @Test func downLinkComesUpBeforeItsRouteIsAdded() {
        var observed = converged
        observed.upInterfaces.remove("wwan2")
        observed.routes.removeFirst()
        #expect(networkChanges(desired: [modem], observed: observed, ownedTables: owned) == [
            .linkUp(interface: "wwan2"),
            .addRoute(TableRoute(table: 102, kind: .defaultVia(interface: "wwan2", gateway: "100.64.2.1"))),
        ])
        #expect(routingMismatches(desired: [modem], observed: observed, ownedTables: owned).map(\.description) == [
            "m02: wwan2 is down; missing route table 102 default dev wwan2 via 100.64.2.1",
        ])
    }

    @Test func extraAddressIsReplacedAndBareAddressMeansSlash32() {
        var observed = converged
        observed.addresses["wwan2"] = ["100.64.2.2/24", "100.64.2.9/24"]
        var hostOnly = modem
        hostOnly.address = "100.64.2.2"
        let changes = networkChanges(desired: [hostOnly], observed: observed, ownedTables: owned)
        #expect(changes.first == .setAddress(interface: "wwan2", cidr: "100.64.2.2/32"))
        #expect(!changes.contains(.addRule(rule(.from("100.64.2.2")))))
    }

    @Test func foreignRulesAndRoutesAreNeverPlanned() {
        var observed = converged
        observed.rules += [rule(.uidRange(20002, 20002), priority: 32000, table: 500), rule(.from("10.0.0.9"), priority: 99, table: 99),
                           rule(.oif("eth0"), priority: 200, table: 200)]
        observed.routes += [TableRoute(table: 200, kind: .unreachableDefault), TableRoute(table: 99, kind: .unreachableDefault)]
        #expect(networkChanges(desired: [modem], observed: observed, ownedTables: owned) == [])
        #expect(networkChanges(desired: [], observed: observed, ownedTables: owned).allSatisfy { change in
            switch change {
            case .removeRule(let rule): rule.table == 102
            case .removeRoute(let route): route.table == 102
            default: false
            }
        })
    }

    @Test func kernelTablesAreNeverOursEvenInsideTheRange() {
        var observed = converged
        observed.rules += [rule(.oif("eth0"), priority: 150, table: 254), rule(.uidRange(1, 1), priority: 160, table: 255)]
        observed.routes.append(TableRoute(table: 254, kind: .defaultVia(interface: "eth0", gateway: "192.0.2.1")))
        #expect(networkChanges(desired: [modem], observed: observed, ownedTables: 100...300) == [])
    }

    @Test func ourRuleIsOneWhosePriorityOrTableIsOurs() {
        var observed = converged
        let byPriority = rule(.uidRange(5, 5), priority: 150, table: 500)
        let byTable = rule(.oif("wwan7"), priority: 32000, table: 107)
        observed.rules += [byPriority, byTable, byTable]
        #expect(networkChanges(desired: [modem], observed: observed, ownedTables: owned) == [
            .removeRule(byPriority), .removeRule(byTable), .removeRule(byTable),
        ])
        #expect(routingMismatches(desired: [modem], observed: observed, ownedTables: owned).map(\.description) == [
            "no modem: unexpected rule 150 uidrange 5-5 lookup 500; unexpected rule 32000 oif wwan7 lookup 107 (2 copies)",
        ])
    }
}
