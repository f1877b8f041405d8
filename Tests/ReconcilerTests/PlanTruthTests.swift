import Foundation
import Reconciler
import SimulatedDrivers
import Spec
import Testing

/// The plan is what apply will do (Terraform's promise): after random edits of a simulated farm —
/// farm.yaml, hardware and the kernel — the actions a one-round apply runs are exactly the actions
/// the dry run printed just before. Seeded (`srand48`, hence serialized), so a failure replays.
@Suite(.serialized) struct PlanTruthTests {
    enum Edit: CaseIterable {
        case explicitPort, users, password, rotationDueNow, disable, enable, remove, unplug, plugBack, deleteRules, flushGuard, killProxy
    }

    @Test(arguments: [1, 2, 3, 4])
    func whatApplyRunsIsWhatTheDryRunPrinted(seed: Int) async throws {
        srand48(seed)
        func random(_ count: Int) -> Int { Int(drand48() * Double(count)) }
        var harness = try await Harness(spec: makeSpec(count: 4))
        try await converge(harness)
        var unplugged: [String] = []
        var planned = 0
        for step in 0..<16 {
            let edit = Edit.allCases[random(Edit.allCases.count)]
            let index = random(harness.spec.modems.count)
            let modem = harness.spec.modems[index]
            switch edit {
            case .explicitPort: harness.spec.modems[index].ports.http = 21000 + step
            case .users: harness.spec.modems[index].proxy.users = modem.proxy.users.count > 1 ? ["alice"] : ["alice", "bob"]
            case .password: harness.spec.users[1].password = .value("bob-New-Secret-55d0")
            case .rotationDueNow:
                harness.clock.advance(by: .seconds(120))
                harness.spec.modems[index].rotation = .every(.seconds(60))
            case .disable: harness.spec.modems[index].enabled = false
            case .enable: harness.spec.modems[index].enabled = true
            case .remove where harness.spec.modems.count > 2: harness.spec.modems.remove(at: index)
            case .remove: continue
            case .unplug:
                await harness.farm.unplug(serial: modem.serial)
                unplugged.append(modem.serial)
            case .plugBack:
                guard let serial = unplugged.popLast() else { continue }
                await harness.farm.plug(serial: serial)
            case .deleteRules:
                // The rules of this modem's lane, wherever its allocation put it.
                guard let lane = try harness.store.loadAllocations().modems[modem.serial]?.index else { continue }
                await harness.farm.tamper { $0.rules.removeAll { $0.priority == 100 + lane } }
            case .flushGuard: await harness.farm.tamper { $0.egressGuard = GuardState() }
            case .killProxy: await harness.farm.killProxy(modem.name)
            }
            let plan = try await harness.plan()
            planned += plan.isEmpty ? 0 : 1
            var oneRound = harness
            oneRound.settings.maxRounds = 1
            let result = try await oneRound.pass()
            let applied = result.applied.map(\.action.description).sorted()
            #expect(applied == plan.lines.sorted(), "seed \(seed), step \(step) (\(edit)): the plan and the apply differ")
            #expect(result.applied.allSatisfy { $0.failure == nil })
            try await converge(harness)
        }
        #expect(planned >= 6, "seed \(seed): most edits must give the apply something to do")
    }

    @Test func aScheduleChangeThatMakesARotationDueNowIsInThePlan() async throws {
        var harness = try await Harness(spec: makeSpec(count: 2))
        try await converge(harness)
        harness.clock.advance(by: .seconds(600))
        harness.spec.modems[1].rotation = .every(.seconds(300))
        let plan = try await harness.plan()
        #expect(plan.actions(for: "m02").contains { $0.kind == .rotate }, "\(plan.lines)")
    }

    @Test func aPortEditShowsItsRoutingAndGuardChanges() async throws {
        var harness = try await Harness(spec: makeSpec(count: 2))
        try await converge(harness)
        harness.spec.modems[0].ports.http = 23456
        let names = try await harness.plan().actions(for: "m01").map(\.kind.name)
        #expect(names.contains("set-guard-lane") && names.contains("add-rule") && names.contains("remove-rule"), "\(names)")
        #expect(names.contains("reload-proxy") || names.contains("start-proxy"))
    }

    /// Passes until the farm has nothing left to do (missing modems are fine).
    private func converge(_ harness: Harness) async throws {
        for _ in 0..<4 where !(try await harness.plan().isEmpty) {
            harness.clock.advance(by: .seconds(1))
            try await harness.pass()
        }
        let left = try await harness.plan()
        #expect(left.isEmpty, "still planned: \(left.lines)")
    }
}
