import Foundation
import Reconciler
import Spec
import Testing

/// Planner: addresses, routes, rules; cleanup of exactly what is ours.
@Suite struct PlannerNetworkTests {
    @Test func addressChangeSwapsOnlyAddressAndFromRuleWithoutTouchingTheProxy() async throws {
        var farm = try await Converged.make()
        farm.state("m02") { $0.settings?.address = "100.64.2.77" }
        let plan = farm.plan()
        #expect(plan.actions.allSatisfy { $0.modem == "m02" && $0.kind.step == .network })
        #expect(plan.lines.contains("m02: address 100.64.2.77/24 on wwan1 — address changed from 100.64.2.10/24 to 100.64.2.77/24"))
        #expect(plan.lines.contains("m02: add rule 102 from 100.64.2.77 lookup 102 — address changed from 100.64.2.10"))
        #expect(plan.lines.contains("m02: remove rule 102 from 100.64.2.10 lookup 102 — stale: the address is now 100.64.2.77/24"))
        let kinds = plan.actions.map(\.kind.name).filter { $0 != "add-route" }
        #expect(kinds.sorted() == ["add-rule", "remove-rule", "set-address"])
    }

    @Test func foreignRulesAndTablesAreNeverTouched() async throws {
        var farm = try await Converged.make()
        farm.observed.network.rules += [
            RoutingRule(priority: 50, selector: .from("192.0.2.9"), table: 50),
            RoutingRule(priority: 32000, selector: .oif("eth0"), table: 254),
            RoutingRule(priority: 5000, selector: .uidRange(1000, 1000), table: 5000),
        ]
        farm.observed.network.routes.append(TableRoute(table: 5000, kind: .unreachableDefault))
        #expect(farm.plan().isEmpty)
    }

    @Test func ruleOfNoModemInOurRangeIsRemoved() async throws {
        var farm = try await Converged.make()
        farm.observed.network.rules.append(RoutingRule(priority: 150, selector: .from("10.0.0.9"), table: 150))
        #expect(farm.plan().lines == ["remove rule 150 from 10.0.0.9 lookup 150 — no modem owns it"])
    }

    @Test func duplicateRuleIsCollapsed() async throws {
        var farm = try await Converged.make()
        farm.observed.network.rules.append(RoutingRule(priority: 101, selector: .uidRange(20001, 20001), table: 101))
        farm.observed.network.rules.append(RoutingRule(priority: 100, selector: .uidTCPSourcePort(uid: 20001, port: 20000), table: 254))
        #expect(farm.plan().lines == [
            "m01: remove rule 100 uidrange 20001-20001 ipproto tcp sport 20000 lookup 254 — duplicate",
            "m01: remove rule 101 uidrange 20001-20001 lookup 101 — duplicate",
        ])
    }

    @Test func missingFailClosedRouteIsAdded() async throws {
        var farm = try await Converged.make()
        farm.observed.network.routes.removeAll { $0 == TableRoute(table: 103, kind: .unreachableDefault) }
        #expect(farm.plan().lines == ["m03: add table 103 unreachable default metric 4294967295 — fail-closed route missing"])
    }

    @Test func removedModemLosesExactlyItsOwnThings() async throws {
        let harness = try await Harness(spec: makeSpec(count: 4))
        try await harness.pass()
        let before = await harness.farm.network
        var spec = harness.spec
        spec.modems.removeAll { $0.name == "m03" }
        var shrunk = harness
        shrunk.spec = spec
        let plan = try await shrunk.plan()
        #expect(plan.actions.allSatisfy { $0.modem == "m03" || $0.modem == nil })
        #expect(plan.lines.contains { $0.hasPrefix("m03: stop proxy (pid ") && $0.hasSuffix("— m03 is no longer in farm.yaml") })
        #expect(plan.lines.contains("forget memory of \(serial(3)) — no longer in farm.yaml"))
        let removed = plan.actions.compactMap { action -> String? in
            guard case .network(let change) = action.kind else { return nil }
            return change.description
        }
        let isM03s = { (rule: RoutingRule) in rule.table == 103 || rule.selector == .uidTCPSourcePort(uid: 20003, port: 20004)
            || rule.selector == .uidTCPSourcePort(uid: 20003, port: 20005) }
        let m03s = before.rules.filter(isM03s).map(\.description) + before.routes.filter { $0.table == 103 }.map(\.description) + ["guard uid 20003"]
        #expect(m03s.count == 8)
        #expect(Set(removed) == Set(m03s))
        let result = try await shrunk.pass()
        #expect(result.converged)
        let after = await harness.farm.network
        #expect(!after.rules.contains(where: isM03s) && !after.routes.contains { $0.table == 103 })
        #expect(after.rules == before.rules.filter { !isM03s($0) })
        #expect(await harness.farm.proxyPID("m03") == nil)
        #expect(await harness.farm.proxyPID("m01") != nil)
        #expect(!FileManager.default.fileExists(atPath: harness.store.root + "/modems/\(serial(3)).json"))
        #expect(!FileManager.default.fileExists(atPath: harness.store.root + "/status/modems/m03.json"))
        #expect(FileManager.default.fileExists(atPath: harness.store.root + "/status/modems/m04.json"))
        #expect(try shrunk.store.loadAllocations().modems[serial(3)] == nil)
    }
}

/// The rules that route each proxy's replies to its clients by the main table (docs/routing.md).
@Suite struct PlannerReplyRuleTests {
    private func isReply(_ rule: RoutingRule) -> Bool {
        if case .uidTCPSourcePort = rule.selector { true } else { false }
    }

    @Test func everyProxyPortHasOneReplyRuleBeforeEveryModemRule() async throws {
        let farm = try await Converged.make()
        #expect(farm.plan().isEmpty)
        let replies = farm.observed.network.rules.filter(isReply)
        let wanted = farm.desired.modems.flatMap { modem in
            modem.ports.map { RoutingRule(priority: 100, selector: .uidTCPSourcePort(uid: modem.uid, port: $0), table: 254) }
        }
        #expect(wanted.count == 8)
        #expect(replies.sorted { $0.description < $1.description } == wanted.sorted { $0.description < $1.description })
        let modemPriorities = farm.observed.network.rules.filter { !isReply($0) }.map(\.priority)
        #expect(modemPriorities.allSatisfy { $0 > 100 })
    }

    @Test func portChangeSwapsOnlyThatReplyRule() async throws {
        var farm = try await Converged.make()
        let index = try #require(farm.desired.modems.firstIndex { $0.name == "m02" })
        farm.desired.modems[index].httpPort = 21000
        let network = farm.plan().actions.filter { $0.kind.step == .network }.map(\.description)
        #expect(network == [
            "m02: guard uid 20002: out only via wwan1, replies from 20003, 21000 — proxy ports changed from 20002, 20003",
            "m02: add rule 100 uidrange 20002-20002 ipproto tcp sport 21000 lookup 254 — missing",
            "m02: remove rule 100 uidrange 20002-20002 ipproto tcp sport 20002 lookup 254 — stale: the proxy now listens on 21000, 20003",
        ])
    }

    @Test func explicitPortChangeConvergesInOnePassAndStaysConverged() async throws {
        var harness = try await Harness(spec: makeSpec(count: 2))
        try await harness.pass()
        harness.spec.modems[1].ports = PortRequest(http: 21000)
        let result = try await harness.pass()
        #expect(result.converged, "\(result.remaining.lines)")
        let replies = await harness.farm.network.rules.filter(isReply).map(\.description)
        #expect(replies.filter { $0.contains("uidrange 20002-20002") }.sorted() == [
            "rule 100 uidrange 20002-20002 ipproto tcp sport 20003 lookup 254",
            "rule 100 uidrange 20002-20002 ipproto tcp sport 21000 lookup 254",
        ])
        #expect(try harness.store.readModemStatus("m02")?.condition(.routed)?.status == "True")
        #expect(try await harness.plan().isEmpty)
    }

    @Test func duplicateReplyRuleIsCollapsedAndForeignReplyShapedRulesStay() async throws {
        let harness = try await Harness(spec: makeSpec(count: 2))
        try await harness.pass()
        let foreign = RoutingRule(priority: 50, selector: .uidTCPSourcePort(uid: 20001, port: 22), table: 254)
        await harness.farm.addRule(foreign)
        let before = await harness.farm.network.rules
        await harness.farm.addRule(RoutingRule(priority: 100, selector: .uidTCPSourcePort(uid: 20001, port: 20000), table: 254))
        let result = try await harness.pass()
        #expect(result.converged)
        #expect(result.applied.map(\.action.description) == ["m01: remove rule 100 uidrange 20001-20001 ipproto tcp sport 20000 lookup 254 — duplicate"])
        #expect(await harness.farm.network.rules.map(\.description).sorted() == before.map(\.description).sorted())
    }
}

@Suite struct PlannerLaneTests {
    @Test func downInterfaceIsBroughtUp() async throws {
        var farm = try await Converged.make(count: 2)
        farm.observed.network.upInterfaces.remove("wwan1")
        #expect(farm.plan().lines == ["m02: link wwan1 up — wwan1 is down"])
    }

    @Test func modemsBeyondTheOwnedRangeGetNoLaneAndAreLeftAlone() throws {
        let spec = makeSpec(count: 1000)
        let (allocations, failures) = Allocations().updated(for: spec)
        // Lane 0 is the reply rules' and 1000 tables from 100 span the kernel's 253–255: four modems cannot be placed.
        #expect(failures.count == 4)
        let desired = DesiredFarm.resolve(spec: spec, allocations: allocations, allocationFailures: failures, secrets: testSecrets,
                                          stateDirectory: "/state", revision: "r")
        let unplaced = desired.modems.filter { !$0.placed }
        #expect(unplaced.count == 4)
        #expect(unplaced.allSatisfy { $0.proxy == nil && $0.problems.first?.hasPrefix("no free lane") == true })
        let observed = ObservedFarm(modems: [:], network: NetworkState(), proxies: [:])
        let plan = Planner.plan(desired: desired, observed: observed, memory: [:], now: epoch)
        #expect(!plan.actions.contains { action in unplaced.contains { $0.name == action.modem } })
    }
}
