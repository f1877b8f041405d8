import Foundation
import Reconciler
import Spec
import Testing

/// Planner: proxy config, start, reload, stop, strays; secrets never in reasons.
@Suite struct PlannerProxyTests {
    static let newBob = "bob-New-Secret-55d0"

    @Test func onePasswordChangeReloadsOnlyTheModemsThatUserIsOn() async throws {
        var farm = try await Converged.make(count: 4)
        let spec = makeSpec(count: 4)
        var changed = spec
        changed.users = [User(name: "alice", password: .value(TestSecrets.alice)), User(name: "bob", password: .value(Self.newBob))]
        farm.desired = DesiredFarm.resolve(spec: changed, allocations: Allocations().updated(for: changed).0, secrets: testSecrets,
                                           stateDirectory: farm.desired.modems[0].proxy?.logDirectory.components(separatedBy: "/log/").first ?? "",
                                           revision: "rev2", timeZone: farm.desired.timeZone)
        let plan = farm.plan()
        #expect(Set(plan.actions.compactMap(\.modem)) == ["m02", "m04"])
        // 3proxy re-checks open connections after a reload: the plan says whose it will cut.
        #expect(plan.lines.contains { $0.hasPrefix("m02: reload proxy (pid ")
            && $0.hasSuffix("— user bob's password changed; drops the open connections of bob") })
        #expect(plan.lines.contains("m04: write proxy config — user bob's password changed"))
        #expect(!plan.actions.contains { $0.kind.name == "start-proxy" || $0.kind.name == "stop-proxy" })
        for secret in TestSecrets.all { #expect(!plan.lines.joined().contains(secret)) }
    }

    @Test func addedUserIsNamedInTheReason() async throws {
        var farm = try await Converged.make(count: 2)
        let index = try #require(farm.desired.modems.firstIndex { $0.name == "m01" })
        farm.desired.modems[index].proxy?.users.append(.init(name: "bob", credential: .clear(TestSecrets.bob), counters: CounterSlot(1)))
        #expect(farm.plan().lines.contains("m01: write proxy config — user bob added"))
    }

    @Test func crashedProxyIsStartedAndADeafOneRestarted() async throws {
        var farm = try await Converged.make(count: 2)
        farm.observed.proxies["m01"]?.process = nil
        farm.observed.proxies["m02"]?.process?.listening = false
        let plan = farm.plan()
        #expect(plan.lines.contains("m01: start proxy (ports 20000, 20001) — not running"))
        #expect(plan.actions(for: "m02").map(\.kind.name) == ["stop-proxy", "start-proxy"])
        #expect(plan.actions(for: "m02").allSatisfy { $0.reason == "not listening on its ports" })
    }

    /// A removed user's connections go too; an added user cuts nobody's.
    @Test func reloadNamesTheUsersWhoseConnectionsItDrops() async throws {
        var farm = try await Converged.make(count: 2)
        let index = try #require(farm.desired.modems.firstIndex { $0.name == "m01" })
        farm.desired.modems[index].proxy?.users = [.init(name: "bob", credential: .clear(TestSecrets.bob), counters: CounterSlot(1))]
        let reload = try #require(farm.plan().actions(for: "m01").first { $0.kind.name == "reload-proxy" })
        #expect(reload.reason == "user bob added; user alice removed; drops the open connections of alice")
        farm.desired.modems[index].proxy?.users.append(.init(name: "alice", credential: .clear(TestSecrets.alice), counters: CounterSlot(0)))
        farm.desired.modems[index].proxy?.users.sort { $0.name < $1.name }
        #expect(farm.plan().actions(for: "m01").first { $0.kind.name == "reload-proxy" }?.reason == "user bob added")
    }

    /// A reload that 3proxy refused (or never finished) leaves it on an old config: restarted.
    @Test func failedReloadRestartsTheProxy() async throws {
        var farm = try await Converged.make(count: 2)
        farm.observed.proxies["m02"]?.process?.reloadFailure = "reload failed: 3proxy reported a config error"
        let plan = farm.plan()
        #expect(plan.actions(for: "m02").map(\.kind.name) == ["stop-proxy", "start-proxy"])
        #expect(plan.actions(for: "m02").allSatisfy { $0.reason == "reload failed: 3proxy reported a config error" })
        #expect(plan.actions(for: "m01").isEmpty)
    }

    @Test func strayOnOurPortIsStopped() async throws {
        var farm = try await Converged.make(count: 2)
        farm.observed.proxies["m02"]?.strays = [777]
        #expect(farm.plan().lines == ["m02: stop proxy (pid 777) — stray process on m02's ports"])
    }

    /// A daemon keeps the rendered configs between passes: what farm.yaml changes is rendered
    /// afresh, what it does not is the same, and a modem that left is forgotten.
    @Test func configsKeptBetweenPassesFollowEveryChange() throws {
        let configs = CheckedConfigs()
        func resolve(_ spec: FarmSpec) -> DesiredFarm {
            DesiredFarm.resolve(spec: spec, allocations: Allocations().updated(for: spec).0, secrets: testSecrets,
                                stateDirectory: "/state", revision: "r", configs: configs)
        }
        let spec = makeSpec(count: 3)
        let first = resolve(spec)
        #expect(resolve(spec) == first)
        var changed = spec
        changed.users[1].password = .value(Self.newBob)
        changed.modems.removeLast()
        let second = resolve(changed)
        #expect(second == DesiredFarm.resolve(spec: changed, allocations: Allocations().updated(for: changed).0, secrets: testSecrets,
                                              stateDirectory: "/state", revision: "r"))
        #expect(second.modem(named: "m02")?.proxyConfig?.contains(Self.newBob) == true)
        #expect(second.modem(named: "m01")?.proxyConfig == first.modem(named: "m01")?.proxyConfig)
        #expect(resolve(spec) == first, "m03 is rendered again, the old password is back")
    }

    @Test func unreadableSecretIsAProblemOfThatModemOnly() async throws {
        let farm = try await Converged.make(count: 3)
        var spec = makeSpec(count: 3)
        spec.users[1].password = .file("secrets/bob")
        let desired = DesiredFarm.resolve(spec: spec, allocations: Allocations().updated(for: spec).0, secrets: testSecrets,
                                          stateDirectory: "/state", revision: "r", timeZone: farm.desired.timeZone)
        #expect(desired.modem(named: "m02")?.proxy == nil)
        #expect(desired.modem(named: "m02")?.problems == ["password of user bob: cannot read secrets/bob"])
        #expect(desired.modem(named: "m01")?.proxy != nil)
        #expect(desired.modem(named: "m03")?.problems.isEmpty == true)
    }
}
