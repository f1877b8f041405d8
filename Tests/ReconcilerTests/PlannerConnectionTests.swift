import Foundation
import Reconciler
import Spec
import Testing

/// Planner: SIM, data format, radio, connect, disconnect. Plain values; no I/O.
@Suite struct PlannerConnectionTests {
    @Test func convergedFarmPlansNothing() async throws {
        let farm = try await Converged.make()
        #expect(farm.plan().isEmpty)
        #expect(farm.plan().deferred.isEmpty)
    }

    @Test func notConnectedPlansConnectWithApnAndReusesTheRememberedClientID() async throws {
        var farm = try await Converged.make()
        let cid = try #require(farm.memory[farm.serialOf("m03")]?.session?.clientID)
        farm.state("m03") { $0.session = nil; $0.settings = nil }
        let plan = farm.plan()
        #expect(plan.lines == ["m03: connect (apn internet.op, ipv4) — not connected"] || plan.lines.first == "m03: connect (apn internet.op, ipv4) — not connected")
        #expect(plan.actions.first?.kind == .connect(apn: "internet.op", ipType: .ipv4, reusing: cid))
        #expect(plan.actions.allSatisfy { $0.modem == "m03" })
    }

    @Test func unregisteredModemWaitsInsteadOfConnecting() async throws {
        var farm = try await Converged.make()
        farm.state("m01") { $0.session = nil; $0.settings = nil; $0.registration = Registration(registered: false) }
        #expect(!farm.plan().actions.contains { $0.kind.name == "connect" })
    }

    @Test func simPinIsTriedOnceAndNeverAgainAfterAFailure() async throws {
        var farm = try await Converged.make { $0.pin = .env("PIN") }
        farm.state("m02") { $0.sim = .pinRequired; $0.pinRetriesLeft = 3; $0.session = nil; $0.registration = Registration(registered: false) }
        let plan = farm.plan()
        let unlock = try #require(plan.actions(for: "m02").first)
        #expect(unlock.description == "m02: unlock SIM — SIM asks for its PIN (3 tries left)")
        #expect(unlock.kind == .unlockSIM(pin: Secret(TestSecrets.pin)))
        #expect(!plan.lines.joined().contains(TestSecrets.pin))
        let now = farm.now
        farm.remember("m02") { $0.pinAttemptFailedAt = now }
        #expect(!farm.plan().actions.contains { $0.kind.name == "unlock-sim" })
    }

    @Test func lockedSimsAreLeftAlone() async throws {
        var farm = try await Converged.make()
        for (name, sim) in [("m01", SIMState.pukRequired), ("m02", .absent), ("m03", .error)] {
            farm.state(name) { $0.sim = sim; $0.session = nil; $0.registration = Registration(registered: false) }
        }
        let kinds = Set(farm.plan().actions.map(\.kind.step))
        #expect(!kinds.contains(.sim) && !kinds.contains(.connection))
    }

    @Test func rawIPAndLowPowerAreFixedBeforeConnecting() async throws {
        var farm = try await Converged.make()
        farm.state("m01") { $0.rawIPAgreed = false }
        farm.state("m04") { $0.operatingMode = .lowPower; $0.session = nil; $0.registration = Registration(registered: false) }
        let plan = farm.plan()
        #expect(plan.lines.contains("m01: set raw-IP data format — device and kernel do not both use raw-IP"))
        #expect(plan.lines.contains("m04: set radio online — radio is in low-power mode"))
        #expect(!plan.actions(for: "m04").contains { $0.kind.name == "connect" })
    }

    @Test func disabledModemIsTornDown() async throws {
        var farm = try await Converged.make()
        let index = try #require(farm.desired.modems.firstIndex { $0.name == "m02" })
        farm.desired.modems[index].enabled = false
        let plan = farm.plan()
        let lines = plan.actions(for: "m02").map(\.description)
        #expect(lines.contains { $0.hasPrefix("m02: disconnect (client ") && $0.hasSuffix("— m02 is disabled") })
        #expect(lines.contains { $0.hasPrefix("m02: stop proxy (pid ") && $0.hasSuffix("— m02 is disabled") })
        #expect(lines.filter { $0.contains("remove rule 102") }.count == 3)
        #expect(lines.filter { $0.contains("remove rule 100 uidrange 20002-20002 ipproto tcp sport") }.count == 2)
        #expect(lines.contains("m02: remove table 102 unreachable default metric 4294967295 — m02 is disabled"))
        #expect(plan.actions.allSatisfy { $0.modem == "m02" })
    }

    @Test func missingModemLosesItsProxyAndRoutesButKeepsItsLaneClosed() async throws {
        var farm = try await Converged.make()
        farm.observed.modems["m03"] = nil
        let plan = farm.plan()
        #expect(plan.actions.allSatisfy { $0.modem == "m03" && $0.reason == "m03 is not plugged in" })
        #expect(plan.actions.contains { $0.kind.name == "stop-proxy" })
        let removed = plan.actions.filter { $0.kind.name == "remove-rule" || $0.kind.name == "remove-route" }.map(\.kind.summary)
        #expect(removed.count == 3, "the oif and from rules and the default route go: \(removed)")
        #expect(!removed.contains { $0.contains("uidrange 20003-20003 lookup") || $0.contains("unreachable") })
        #expect(plan.actions.contains { $0.kind == .network(.setGuardLane(GuardLane(uid: 20003, interface: nil, replyPorts: [20004, 20005]))) })
        #expect(!plan.actions.contains { $0.kind.step == .connection })
        #expect(plan.blocked["m03"]?.hasPrefix("not plugged in") == true)
    }

    @Test func unreadableModemIsLeftAlone() async throws {
        var farm = try await Converged.make()
        farm.observed.modems["m01"]?.state = nil
        farm.observed.modems["m01"]?.failure = LaneFailure(reason: "Timeout", message: "no answer")
        #expect(farm.plan().isEmpty)
    }
}
