import Reconciler
import Testing

/// The planner on hand-written kernel states: the cases a namespace farm cannot easily show.
struct RoutingPlanTests {
    private let owned = OwnedKernel(tables: 100...199, uids: 20001...20099)
    private let modem = ModemRouting(modem: "m02", table: 102, priority: 102, repliesPriority: 100, uid: 20002, interface: "wwan2",
                                     proxyPorts: [8102, 9102], address: "100.64.2.2/24", gateway: "100.64.2.1")

    private func rule(_ selector: RoutingRule.Selector, priority: Int = 102, table: Int = 102) -> RoutingRule {
        RoutingRule(priority: priority, selector: selector, table: table)
    }

    /// `priority 100 uidrange U-U ipproto tcp sport P lookup main`
    private func reply(_ port: Int, uid: UInt32 = 20002, priority: Int = 100) -> RoutingRule {
        RoutingRule(priority: priority, selector: .uidTCPSourcePort(uid: uid, port: port), table: 254)
    }

    private var converged: NetworkState {
        NetworkState(addresses: ["wwan2": ["100.64.2.2/24"], "eth0": ["192.0.2.2/24"]], upInterfaces: ["wwan2", "eth0"],
                     routes: [TableRoute(table: 102, kind: .defaultVia(interface: "wwan2", gateway: "100.64.2.1")),
                              TableRoute(table: 102, kind: .unreachableDefault)],
                     rules: [reply(8102), reply(9102), rule(.uidRange(20002, 20002)), rule(.oif("wwan2")), rule(.from("100.64.2.2"))],
                     egressGuard: GuardState(lanes: [20002: modem.guardLane], fence: owned.uids))
    }

    @Test func convergedStateNeedsNothing() {
        #expect(networkChanges(desired: [modem], observed: converged, owned: owned) == [])
        #expect(routingMismatches(desired: [modem], observed: converged, owned: owned) == [])
    }

    @Test func missingInterfaceGetsOnlyTheFailClosedParts() {
        var observed = converged
        observed.addresses["wwan2"] = nil
        observed.upInterfaces.remove("wwan2")
        observed.routes = []
        observed.rules = []
        #expect(networkChanges(desired: [modem], observed: observed, owned: owned) == [
            .addRoute(TableRoute(table: 102, kind: .unreachableDefault)),
            .addRule(reply(8102)),
            .addRule(reply(9102)),
            .addRule(rule(.uidRange(20002, 20002))),
            .addRule(rule(.oif("wwan2"))),
            .addRule(rule(.from("100.64.2.2"))),
        ])
        let mismatches = routingMismatches(desired: [modem], observed: observed, owned: owned)
        #expect(mismatches.first?.problems.first == "interface wwan2 not found")
    }

    @Test func modemWithoutAddressKeepsOnlyUidAndOifRules() {
        var disconnected = modem
        disconnected.address = nil
        #expect(networkChanges(desired: [disconnected], observed: converged, owned: owned) == [
            .removeRule(rule(.from("100.64.2.2"))),
            .removeRoute(TableRoute(table: 102, kind: .defaultVia(interface: "wwan2", gateway: "100.64.2.1"))),
        ])
    }

    @Test func gatewayChangeReplacesTheDefaultRouteWithoutRemovingIt() {
        var moved = modem
        moved.gateway = "100.64.2.254"
        #expect(networkChanges(desired: [moved], observed: converged, owned: owned) == [
            .addRoute(TableRoute(table: 102, kind: .defaultVia(interface: "wwan2", gateway: "100.64.2.254"))),
        ])
    }

    @Test func downLinkComesUpBeforeItsRouteIsAdded() {
        var observed = converged
        observed.upInterfaces.remove("wwan2")
        observed.routes.removeFirst()
        #expect(networkChanges(desired: [modem], observed: observed, owned: owned) == [
            .linkUp(interface: "wwan2"),
            .addRoute(TableRoute(table: 102, kind: .defaultVia(interface: "wwan2", gateway: "100.64.2.1"))),
        ])
        #expect(routingMismatches(desired: [modem], observed: observed, owned: owned).map(\.description) == [
            "m02: wwan2 is down; missing route table 102 default dev wwan2 via 100.64.2.1",
        ])
    }

    @Test func extraAddressIsReplacedAndBareAddressMeansSlash32() {
        var observed = converged
        observed.addresses["wwan2"] = ["100.64.2.2/24", "100.64.2.9/24"]
        var hostOnly = modem
        hostOnly.address = "100.64.2.2"
        let changes = networkChanges(desired: [hostOnly], observed: observed, owned: owned)
        #expect(changes.first == .setAddress(interface: "wwan2", cidr: "100.64.2.2/32"))
        #expect(!changes.contains(.addRule(rule(.from("100.64.2.2")))))
    }

    @Test func foreignRulesAndRoutesAreNeverPlanned() {
        var observed = converged
        observed.rules += [rule(.uidRange(20002, 20002), priority: 32000, table: 500), rule(.from("10.0.0.9"), priority: 99, table: 99),
                           rule(.oif("eth0"), priority: 200, table: 200)]
        observed.routes += [TableRoute(table: 200, kind: .unreachableDefault), TableRoute(table: 99, kind: .unreachableDefault)]
        #expect(networkChanges(desired: [modem], observed: observed, owned: owned) == [])
        #expect(networkChanges(desired: [], observed: observed, owned: owned).allSatisfy { change in
            switch change {
            case .removeRule(let rule): rule.table == 102 || rule == reply(8102) || rule == reply(9102)
            case .removeRoute(let route): route.table == 102
            case .removeGuardLane(let uid): uid == 20002
            default: false
            }
        })
    }

    @Test func kernelTablesAreNeverOursEvenInsideTheRange() {
        var observed = converged
        observed.rules += [rule(.oif("eth0"), priority: 150, table: 254), rule(.uidRange(1, 1), priority: 160, table: 255)]
        observed.routes.append(TableRoute(table: 254, kind: .defaultVia(interface: "eth0", gateway: "192.0.2.1")))
        #expect(networkChanges(desired: [modem], observed: observed, owned: OwnedKernel(tables: 100...300, uids: 20001...20099)) == [])
    }

    @Test func ourRuleIsOneWhosePriorityOrTableIsOurs() {
        var observed = converged
        let byPriority = rule(.uidRange(5, 5), priority: 150, table: 500)
        let byTable = rule(.oif("wwan7"), priority: 32000, table: 107)
        observed.rules += [byPriority, byTable, byTable]
        #expect(networkChanges(desired: [modem], observed: observed, owned: owned) == [
            .removeRule(byPriority), .removeRule(byTable), .removeRule(byTable),
        ])
        #expect(routingMismatches(desired: [modem], observed: observed, owned: owned).map(\.description) == [
            "no modem: unexpected rule 150 uidrange 5-5 lookup 500; unexpected rule 32000 oif wwan7 lookup 107 (2 copies)",
        ])
    }

    @Test func replyRulesComeBeforeEveryModemRuleAndFollowThePorts() {
        var observed = converged
        observed.rules.removeAll { $0 == reply(9102) }
        var moved = modem
        moved.proxyPorts = [8102, 9200]
        #expect(networkChanges(desired: [moved], observed: observed, owned: owned) == [.setGuardLane(moved.guardLane), .addRule(reply(9200))])
        observed.rules.append(reply(9200))
        observed.egressGuard.lanes[20002] = moved.guardLane
        #expect(networkChanges(desired: [moved], observed: observed, owned: owned) == [])

        moved.proxyPorts = [8102]
        #expect(networkChanges(desired: [moved], observed: observed, owned: owned) == [.setGuardLane(moved.guardLane), .removeRule(reply(9200))])
        let added = networkChanges(desired: [moved], observed: NetworkState(), owned: owned).compactMap { change -> RoutingRule? in
            if case .addRule(let rule) = change { rule } else { nil }
        }
        #expect(added.map(\.priority) == [100, 102, 102, 102])
        #expect(added.first == reply(8102))
    }

    @Test func portChangeOpensTheGuardAndAddsTheNewReplyRuleBeforeRemovingTheOld() {
        var moved = modem
        moved.proxyPorts = [8102, 9300]
        #expect(networkChanges(desired: [moved], observed: converged, owned: owned) == [
            .setGuardLane(GuardLane(uid: 20002, interface: "wwan2", replyPorts: [8102, 9300])), .addRule(reply(9300)), .removeRule(reply(9102)),
        ])
        #expect(routingMismatches(desired: [moved], observed: converged, owned: owned).map(\.description) == [
            "m02: missing guard uid 20002: out only via wwan2, replies from 8102, 9300; missing rule 100 uidrange 20002-20002 ipproto tcp sport 9300 lookup 254; unexpected rule 100 uidrange 20002-20002 ipproto tcp sport 9102 lookup 254",
        ])
    }

    @Test func duplicateReplyRulesAndPortsCollapseToOne() {
        var observed = converged
        observed.rules += [reply(8102), reply(8102)]
        var twice = modem
        twice.proxyPorts = [8102, 9102, 8102]
        #expect(networkChanges(desired: [twice], observed: observed, owned: owned) == [
            .removeRule(reply(8102)), .removeRule(reply(8102)),
        ])
        #expect(routingMismatches(desired: [twice], observed: observed, owned: owned).map(\.description) == [
            "m02: rule 100 uidrange 20002-20002 ipproto tcp sport 8102 lookup 254 present 3 times",
        ])
    }

    @Test func removedModemsReplyRulesGoButForeignOnesStay() {
        var observed = converged
        let removedModems = reply(8105, uid: 20005)
        let outsideTheRange = reply(8102, priority: 99)
        let otherTable = RoutingRule(priority: 100, selector: .uidTCPSourcePort(uid: 20002, port: 7000), table: 255)
        observed.rules += [removedModems, outsideTheRange, otherTable]
        #expect(networkChanges(desired: [modem], observed: observed, owned: owned) == [.removeRule(removedModems)])
        #expect(routingMismatches(desired: [modem], observed: observed, owned: owned).map(\.description) == [
            "no modem: unexpected rule 100 uidrange 20005-20005 ipproto tcp sport 8105 lookup 254",
        ])
    }

    @Test func modemWithoutPortsHasNoReplyRules() {
        var quiet = modem
        quiet.proxyPorts = []
        #expect(networkChanges(desired: [quiet], observed: converged, owned: owned) == [
            .setGuardLane(GuardLane(uid: 20002, interface: "wwan2", replyPorts: [])), .removeRule(reply(8102)), .removeRule(reply(9102)),
        ])
    }

    @Test func guardLanesAreWrittenFirstAndAnUnreadableGuardIsWrittenWhole() {
        var observed = converged
        observed.egressGuard = GuardState(unreadable: "cannot run nft")
        #expect(networkChanges(desired: [modem], observed: observed, owned: owned) == [
            .setGuardLane(modem.guardLane), .setGuardFence(owned.uids),
        ])
        #expect(!isProtected(modem, in: observed, owned: owned))
        #expect(isProtected(modem, in: converged, owned: owned))

        observed = converged
        observed.egressGuard.lanes[20007] = GuardLane(uid: 20007, interface: "wwan7", replyPorts: [8107])
        observed.egressGuard.fence = nil
        #expect(networkChanges(desired: [modem], observed: observed, owned: owned) == [.removeGuardLane(uid: 20007), .setGuardFence(owned.uids)])
        #expect(!isProtected(modem, in: observed, owned: owned), "without the fence a stopping proxy of a removed lane could leak")
    }

    @Test func aModemNotPluggedInKeepsItsUidRuleUnreachableRouteAndAClosedGuardLane() {
        var unplugged = modem
        unplugged.interface = nil
        unplugged.address = nil
        let changes = networkChanges(desired: [unplugged], observed: converged, owned: owned)
        #expect(changes.first == .setGuardLane(GuardLane(uid: 20002, interface: nil, replyPorts: [8102, 9102])))
        #expect(!changes.contains(.removeRule(rule(.uidRange(20002, 20002)))))
        #expect(!changes.contains(.removeRoute(TableRoute(table: 102, kind: .unreachableDefault))))
        #expect(changes.contains(.removeRule(rule(.oif("wwan2")))))
        #expect(changes.contains(.removeRule(rule(.from("100.64.2.2")))))
    }
}
