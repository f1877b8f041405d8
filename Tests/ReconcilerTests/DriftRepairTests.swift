import Foundation
import Reconciler
import SimulatedDrivers
import Spec
import Testing

/// Drift the farm repairs within one pass, touching nothing else.
@Suite struct DriftRepairTests {
    @Test func crashedProxyIsBackWithinOnePass() async throws {
        let harness = try await Harness(spec: makeSpec(count: 3))
        try await harness.pass()
        let others = [await harness.farm.proxyPID("m01"), await harness.farm.proxyPID("m03")]
        await harness.farm.killProxy("m02")
        let result = try await harness.pass()
        #expect(result.converged)
        #expect(result.applied.map(\.action.description).contains("m02: start proxy (ports 20002, 20003) — not running"))
        #expect(await harness.farm.proxyPID("m02") != nil)
        #expect([await harness.farm.proxyPID("m01"), await harness.farm.proxyPID("m03")] == others)
    }

    @Test func strayOnOurPortIsStoppedBeforeOurProxyStarts() async throws {
        let harness = try await Harness(spec: makeSpec(count: 1))
        let stray = await harness.farm.startStray(ports: [20001])
        let result = try await harness.pass()
        #expect(result.converged, "\(result.remaining.lines)")
        let lines = result.applied.map(\.action.description)
        let stop = try #require(lines.firstIndex(of: "m01: stop proxy (pid \(stray)) — stray process on m01's ports"))
        let start = try #require(lines.firstIndex { $0.hasPrefix("m01: start proxy") })
        #expect(stop < start)
    }

    @Test func passwordChangeReloadsInPlaceKeepingThePid() async throws {
        var harness = try await Harness(spec: makeSpec(count: 3))
        try await harness.pass()
        let pids = [await harness.farm.proxyPID("m01"), await harness.farm.proxyPID("m02"), await harness.farm.proxyPID("m03")]
        harness.spec.users[1].password = .value(PlannerProxyTests.newBob)
        let result = try await harness.pass()
        #expect(result.converged)
        #expect(await harness.farm.proxyReloads("m02") == 1)
        #expect(await harness.farm.proxyReloads("m01") == 0)
        #expect(await harness.farm.proxyReloads("m03") == 0)
        #expect([await harness.farm.proxyPID("m01"), await harness.farm.proxyPID("m02"), await harness.farm.proxyPID("m03")] == pids)
        #expect(await harness.farm.proxyConfig("m02")?.contains("bob:CL:\(PlannerProxyTests.newBob)") == true)
    }

    @Test func sessionDroppedByTheNetworkIsReconnectedAndRerouted() async throws {
        let harness = try await Harness(spec: makeSpec(count: 2))
        try await harness.pass()
        await harness.farm.addRoute(TableRoute(table: 5000, kind: .unreachableDefault))
        await harness.farm.addRule(RoutingRule(priority: 5000, selector: .from("192.0.2.7"), table: 5000))
        await harness.farm.dropSession(serial: serial(1))
        let result = try await harness.pass()
        #expect(result.converged)
        #expect(result.applied.allSatisfy { $0.action.modem == "m01" })
        #expect(try harness.store.readModemStatus("m01")?.ip == "100.64.1.11")
        let network = await harness.farm.network
        #expect(network.rules.contains(RoutingRule(priority: 101, selector: .from("100.64.1.11"), table: 101)))
        #expect(!network.rules.contains(RoutingRule(priority: 101, selector: .from("100.64.1.10"), table: 101)))
        #expect(network.rules.contains(RoutingRule(priority: 5000, selector: .from("192.0.2.7"), table: 5000)))
    }
}

@Suite struct SettlingTests {
    @Test func failureThatResolvedItselfClearsOnceNothingIsLeftToDo() async throws {
        let harness = try await Harness(spec: makeSpec(count: 2))
        try await harness.pass()
        await harness.farm.killProxy("m02")
        await harness.farm.inject(.fail("Busy"), on: .startProxy, key: "m02", times: 1)
        let failed = try await harness.pass()
        #expect(failed.outcomes["m02"]?.failure?.reason == "Busy")
        #expect(try harness.store.readModemStatus("m02")?.phase == .error)
        harness.clock.advance(by: .seconds(6))
        let healed = try await harness.pass()
        #expect(healed.converged)
        #expect(try harness.store.readModemStatus("m02")?.phase == .ready)
        #expect(healed.memory[serial(2)]?.lastFailure == nil)
    }

    @Test func failureWithNothingLeftToRetryIsSettled() async throws {
        var harness = try await Harness(spec: makeSpec(count: 2))
        try await harness.pass()
        harness.spec.modems[1].enabled = false
        await harness.farm.inject(.fail("Busy"), on: .stopProxy, key: "m02", times: 1)
        let failed = try await harness.pass()
        #expect(failed.outcomes["m02"]?.failure?.reason == "Busy")
        #expect(failed.memory[serial(2)]?.lastFailure != nil)
        await harness.farm.killProxy("m02")
        harness.clock.advance(by: .seconds(6))
        let settled = try await harness.pass()
        #expect(settled.applied.isEmpty)
        #expect(settled.converged)
        #expect(settled.memory[serial(2)]?.lastFailure == nil)
        #expect(settled.memory[serial(2)]?.nextAttemptNotBefore == nil)
    }
}
