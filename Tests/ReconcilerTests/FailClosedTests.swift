import Foundation
import Reconciler
import SimulatedDrivers
import Testing

/// Safety before sight (DESIGN §7): a lane's guard, uid/oif rules and `unreachable` route are kept
/// whatever the modem does, and a proxy never serves a lane whose protection is not in place.
@Suite struct FailClosedTests {
    /// The kernel side that keeps m01's lane (uid 20001, table 101, wwan0) from leaking.
    private func isProtected(_ network: NetworkState, uid: UInt32 = 20001, table: Int = 101, interface: String = "wwan0") -> Bool {
        network.egressGuard.lanes[uid]?.interface == interface && network.egressGuard.fence == 20001...20999
            && network.rules.contains(RoutingRule(priority: table, selector: .uidRange(uid, uid), table: table))
            && network.rules.contains(RoutingRule(priority: table, selector: .oif(interface), table: table))
            && network.routes.contains(TableRoute(table: table, kind: .unreachableDefault))
    }

    private func stripProtection(_ farm: SimulatedFarm) async {
        await farm.tamper { network in
            network.rules.removeAll { $0.table == 101 }
            network.routes.removeAll { $0.table == 101 }
            network.egressGuard = GuardState()
        }
    }

    @Test func aModemHungBeforeTheFirstPassGetsItsLaneClosedAndTheOthersConverge() async throws {
        let harness = try await Harness(spec: makeSpec(count: 2))
        await harness.farm.inject(.fail("Timeout"), on: .observeModem, key: serial(1))
        try await harness.pass()
        #expect(isProtected(await harness.farm.network))
        let farm = try #require(try harness.store.readFarmStatus())
        #expect(!farm.converged, "a modem that cannot be read is not Ready")
        let m01 = try #require(try harness.store.readModemStatus("m01"))
        #expect(m01.phase == .error && m01.reason != nil && m01.message?.isEmpty == false)
        #expect(try harness.store.readModemStatus("m02")?.phase == .ready)
    }

    @Test func aHungModemWhoseRulesWereDeletedGetsThemBackAndKeepsServing() async throws {
        let harness = try await Harness(spec: makeSpec(count: 2))
        try await harness.pass()
        let pid = await harness.farm.proxyPID("m01")
        await harness.farm.inject(.fail("Timeout"), on: .observeModem, key: serial(1))
        await stripProtection(harness.farm)
        let plan = try await harness.plan()
        #expect(plan.actions(for: "m01").map(\.kind.name).sorted() == ["add-route", "add-rule", "add-rule", "recover-reopen", "set-guard-lane"])
        #expect(plan.actions.contains { $0.kind.name == "set-guard-fence" })
        #expect(plan.blocked["m01"]?.hasPrefix("cannot be read") == true)
        let result = try await harness.pass()
        #expect(isProtected(await harness.farm.network))
        #expect(result.applied.allSatisfy { $0.failure == nil })
        #expect(await harness.farm.proxyPID("m01") == pid, "a protected lane keeps its proxy")
        #expect(try harness.store.readFarmStatus()?.converged == false)
    }

    @Test func aBackingOffModemStillGetsItsLaneProtected() async throws {
        let harness = try await Harness(spec: makeSpec(count: 1))
        try await harness.pass()
        await harness.farm.inject(.fail("Timeout"), on: .observeModem, key: serial(1))
        await harness.farm.dropSession(serial: serial(1))
        var memory = try #require(try harness.store.loadMemory()[serial(1)])
        memory = memory.recordingFailure(LaneFailure(reason: "Timeout", message: "x"), at: harness.clock.now(), backoff: .actions)
        try harness.store.saveMemory(memory)
        await stripProtection(harness.farm)
        try await harness.pass()
        #expect(isProtected(await harness.farm.network))
    }

    @Test func aGuardThatCannotBeWrittenStopsTheProxyInsteadOfLeaking() async throws {
        let harness = try await Harness(spec: makeSpec(count: 2))
        try await harness.pass()
        #expect(await harness.farm.proxyPID("m01") != nil)
        await harness.farm.tamper { $0.egressGuard = GuardState(unreadable: "cannot run nft (install nftables)") }
        await harness.farm.inject(.fail("NetworkChangeFailed"), on: .applyNetwork)
        let result = try await harness.pass()
        #expect(await harness.farm.proxyPID("m01") == nil)
        #expect(await harness.farm.proxyPID("m02") == nil)
        let stops = result.applied.filter { $0.action.kind.name == "stop-proxy" }
        #expect(stops.count == 2 && stops.allSatisfy { $0.action.reason.hasPrefix("fail closed") && $0.failure == nil })
        #expect(!result.applied.contains { $0.action.kind.name == "start-proxy" })
        let m01 = try #require(try harness.store.readModemStatus("m01"))
        #expect(m01.phase == .error && m01.condition(.routed)?.status == "False")

        await harness.farm.clearFaults()
        await harness.farm.tamper { $0.egressGuard = GuardState() }
        harness.clock.advance(by: .seconds(30))
        try await harness.pass()
        #expect(await harness.farm.proxyPID("m01") != nil, "once the guard is back the proxy serves again")
        #expect(try harness.store.readFarmStatus()?.converged == true)
    }

    @Test func anUnpluggedModemKeepsAClosedLane() async throws {
        let harness = try await Harness(spec: makeSpec(count: 2))
        try await harness.pass()
        await harness.farm.unplug(serial: serial(1))
        let result = try await harness.pass()
        let network = await harness.farm.network
        #expect(network.egressGuard.lanes[20001] == GuardLane(uid: 20001, interface: nil, replyPorts: [20000, 20001]))
        #expect(network.rules.contains(RoutingRule(priority: 101, selector: .uidRange(20001, 20001), table: 101)))
        #expect(network.routes.contains(TableRoute(table: 101, kind: .unreachableDefault)))
        #expect(await harness.farm.proxyPID("m01") == nil)
        #expect(result.remaining.blocked["m01"] != nil)
        #expect(try harness.store.readFarmStatus()?.converged == false)
        #expect(try harness.store.readModemStatus("m01")?.reason == "NotPluggedIn")
    }
}
