import Foundation
import Reconciler
import SimulatedDrivers
import Spec
import Testing

/// Executor against the simulated farm: lanes, ordering, batch bound, timeouts, verification.
@Suite struct ExecutorTests {
    @Test func oneFailingLaneDoesNotStopTheOthersAndBacksOff() async throws {
        let harness = try await Harness(spec: makeSpec(count: 4))
        await harness.farm.inject(.fail("NoService"), on: .connect, key: serial(2))
        let result = try await harness.pass()
        #expect(!result.converged)
        #expect(result.outcomes["m02"]?.failure?.reason == "NoService")
        #expect(result.outcomes["m02"]?.failedStep == .connection)
        for name in ["m01", "m03", "m04"] {
            let status = try #require(try harness.store.readModemStatus(name))
            #expect(status.condition(.connected)?.status == "True")
        }
        let m02 = try #require(try harness.store.readModemStatus("m02"))
        #expect(m02.phase == .error)
        #expect(m02.condition(.connected)?.reason == "NoService")
        #expect(m02.waiting?.hasPrefix("backing off after NoService") == true)
        let memory = try #require(result.memory[serial(2)])
        #expect(memory.consecutiveFailures == 1)
        // Within the backoff the lane is left alone; after it, and once the fault is gone, it converges.
        await harness.farm.clearFaults()
        #expect(try await harness.pass().applied.isEmpty)
        harness.clock.advance(by: .seconds(6))
        let healed = try await harness.pass()
        #expect(healed.converged)
        #expect(healed.memory[serial(2)]?.consecutiveFailures == 0)
    }

    @Test func hungDriverCallBecomesATimeout() async throws {
        var harness = try await Harness(spec: makeSpec(count: 3))
        harness.settings.connectTimeout = .milliseconds(200)
        await harness.farm.inject(.hang, on: .connect, key: serial(3))
        let started = ContinuousClock.now
        let result = try await harness.pass()
        #expect(ContinuousClock.now - started < .seconds(10), "the pass must not wait for the hung call")
        #expect(result.outcomes["m03"]?.failure?.reason == "Timeout")
        #expect(result.outcomes["m03"]?.failure?.message == "connect did not finish within 200ms")
        #expect(try harness.store.readModemStatus("m01")?.condition(.routed)?.status == "True")
        await harness.farm.releaseHangs()
    }

    @Test func laneStepsRunInDesignOrderWithinARound() async throws {
        let harness = try await Harness(spec: makeSpec(count: 2))
        let result = try await harness.pass()
        #expect(result.converged, "\(result.remaining.lines)")
        let calls = await harness.farm.calls
        let rounds = calls.indices.filter { calls[$0] == "inventory " }
        #expect(rounds.count == 3, "two rounds (connect, then address) and a final look")
        let firstRound = calls[rounds[0]..<rounds[1]]
            .filter { $0.hasSuffix(serial(2)) || $0.hasSuffix("m02") || $0.hasPrefix("applyNetwork") }
            .map { String($0.split(separator: " ")[0]) }.filter { $0 != "observeModem" }
        #expect(firstRound == ["setRawIP", "connect", "applyNetwork", "writeConfig", "startProxy"])
    }

    @Test func simPinIsUnlockedBeforeTheModemConnects() async throws {
        var spec = makeSpec(count: 1)
        spec.modems[0].pin = .env("PIN")
        let harness = try await Harness(spec: spec, plug: false)
        await harness.farm.plug(serial: serial(1), usbSerial: false, pin: TestSecrets.pin)
        let result = try await harness.pass()
        #expect(result.converged, "\(result.remaining.lines)")
        let calls = await harness.farm.calls.map { String($0.split(separator: " ")[0]) }
        let unlock = try #require(calls.firstIndex(of: "unlockSIM"))
        let connect = try #require(calls.firstIndex(of: "connect"))
        #expect(unlock < connect)
        #expect(try harness.store.readModemStatus("m01")?.condition(.simReady)?.status == "True")
    }

    @Test func atMostBatchLanesRunAtOnce() async throws {
        var harness = try await Harness(spec: makeSpec(count: 12), latency: .milliseconds(15))
        harness.settings.batch = 3
        harness.settings.actionTimeout = .seconds(5)
        harness.settings.connectTimeout = .seconds(5)
        harness.settings.observeTimeout = .seconds(5)
        let result = try await harness.pass()
        #expect(result.converged)
        let concurrent = await harness.farm.maxConcurrentModems
        #expect(concurrent <= 3)
        #expect(concurrent >= 2, "lanes should overlap")
    }

    @Test func networkChangeThatDoesNotTakeIsARoutedError() async throws {
        let harness = try await Harness(spec: makeSpec(count: 2))
        await harness.farm.inject(.ignore, on: .applyNetwork)
        let result = try await harness.pass()
        #expect(!result.converged)
        #expect(result.outcomes["m01"]?.failure?.reason == "VerifyFailed")
        let status = try #require(try harness.store.readModemStatus("m01"))
        #expect(status.condition(.routed)?.status == "False")
        #expect(status.condition(.routed)?.reason == "VerifyFailed")
        #expect(status.condition(.connected)?.status == "True")
    }

    @Test func rotationGetsANewAddressKeepingTheProxy() async throws {
        let harness = try await Harness(spec: makeSpec(count: 2, rotation: .every(.seconds(600))))
        try await harness.pass()
        let pid = await harness.farm.proxyPID("m01")
        harness.clock.advance(by: .seconds(601))
        let result = try await harness.pass()
        #expect(result.converged, "\(result.remaining.lines)")
        #expect(result.applied.contains { $0.action.description.hasPrefix("m01: rotate — schedule every 10m") })
        #expect(await harness.farm.proxyPID("m01") == pid)
        let status = try #require(try harness.store.readModemStatus("m01"))
        #expect(status.ip == "100.64.1.11")
        #expect(status.rotation.count == 1)
        #expect(status.rotation.lastKeptSameAddress == false)
        #expect(await harness.farm.network.rules.contains(RoutingRule(priority: 101, selector: .from("100.64.1.11"), table: 101)))
        #expect(!(await harness.farm.network.rules.contains(RoutingRule(priority: 101, selector: .from("100.64.1.10"), table: 101))))
    }

    @Test func stickyAddressIsReportedAsSameIP() async throws {
        let harness = try await Harness(spec: makeSpec(count: 1, rotation: .every(.seconds(60))))
        try await harness.pass()
        await harness.farm.setStickyAddress(serial: serial(1))
        harness.clock.advance(by: .seconds(61))
        try await harness.pass()
        #expect(try harness.store.readModemStatus("m01")?.rotation.lastKeptSameAddress == true)
    }

    @Test func unhealthyModemIsResetAfterThreeFailedProbes() async throws {
        let harness = try await Harness(spec: makeSpec(count: 2))
        try await harness.pass()
        await harness.farm.setHealthy(serial: serial(2), false)
        for _ in 0..<2 {
            harness.clock.advance(by: .seconds(31))
            let result = try await harness.pass()
            #expect(!result.applied.contains { $0.action.kind == .reset })
        }
        #expect(try harness.store.readModemStatus("m02")?.phase == .degraded)
        harness.clock.advance(by: .seconds(31))
        let result = try await harness.pass()
        #expect(result.applied.map(\.action.description).contains("m02: reset — 3 consecutive health failures"))
        let status = try #require(try harness.store.readModemStatus("m02"))
        #expect(status.health.resets == 1)
        #expect(status.condition(.connected)?.status == "True")
        #expect(status.ip == "100.64.2.11")
    }

    @Test func wrongPinIsTriedOnlyOnce() async throws {
        var spec = makeSpec(count: 1)
        spec.modems[0].pin = .value("0000")
        let harness = try await Harness(spec: spec, plug: false)
        await harness.farm.plug(serial: serial(1), pin: TestSecrets.pin)
        try await harness.pass()
        harness.clock.advance(by: .seconds(3600))
        try await harness.pass()
        let tries = await harness.farm.calls.filter { $0.hasPrefix("unlockSIM") }.count
        #expect(tries == 1)
        let status = try #require(try harness.store.readModemStatus("m01"))
        #expect(status.condition(.simReady)?.reason == "SimPinRejected")
        #expect(status.phase == .error)
        #expect(!harness.allStateText().contains("0000\""))
    }
}

@Suite struct ObservationTests {
    @Test func modemThatDoesNotAnswerIsLeftAloneAndTheOthersConverge() async throws {
        let harness = try await Harness(spec: makeSpec(count: 3))
        try await harness.pass()
        await harness.farm.inject(.hang, on: .observeModem, key: serial(2))
        let result = try await harness.pass()
        await harness.farm.releaseHangs()
        #expect(result.applied.map(\.action.kind) == [.recover(.reopen)], "nothing of m02 is torn down because it could not be read; only its recovery starts")
        let status = try #require(try harness.store.readModemStatus("m02"))
        #expect(status.phase == .error)
        #expect(status.condition(.simReady)?.reason == "NotRead")
        #expect(status.condition(.simReady)?.message.contains("Timeout") == true)
        #expect(status.condition(.present)?.status == "True")
        #expect(await harness.farm.network.rules.filter { $0.table == 102 }.count == 3)
        #expect(await harness.farm.network.rules.filter { $0.selector == .uidTCPSourcePort(uid: 20002, port: 20002) }.count == 1)
        #expect(try harness.store.readModemStatus("m03")?.phase == .ready)
    }
}
