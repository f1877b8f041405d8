import Foundation
import Logging
import Reconciler
import SimulatedDrivers
import Spec

/// Secrets the tests use; every test that writes output greps for them.
enum TestSecrets {
    static let alice = "alice-Secret-7f3a"
    static let bob = "bob-Secret-91c2"
    static let pin = "4711"
    static var all: [String] { [alice, bob, "bob-New-Secret-55d0"] }
}

/// Resolves `.value` sources as themselves and `.env` from a fixed table; a `file` fails.
let testSecrets: SecretResolver = { source in
    switch source {
    case .value(let value): .success(value)
    case .env(let name) where name == "PIN": .success(TestSecrets.pin)
    case .env(let name): .failure(SecretFailure("environment variable \(name) is not set"))
    case .file(let path): .failure(SecretFailure("cannot read \(path)"))
    case .hash(let hash): .success(hash)
    }
}

func serial(_ n: Int) -> String { "8600000000" + String(format: "%05d", n) }

/// A farm.yaml-like spec of `count` modems m01…, alice on all, bob on the even ones.
func makeSpec(count: Int, rotation: Rotation = .never, configure: (inout ModemSpec) -> Void = { _ in }) -> FarmSpec {
    let modems = (1...max(count, 1)).prefix(count).map { n -> ModemSpec in
        var modem = ModemSpec(serial: serial(n), name: String(format: "m%02d", n), apn: "internet.op",
                              proxy: ProxySettings(users: n % 2 == 0 ? ["alice", "bob"] : ["alice"]), rotation: rotation)
        configure(&modem)
        return modem
    }
    return FarmSpec(portRange: 20000...29999, routing: RoutingSettings(tableBase: 100, uidBase: 20000),
                    users: [User(name: "alice", password: .value(TestSecrets.alice)), User(name: "bob", password: .value(TestSecrets.bob))],
                    modems: modems)
}

func temporaryDirectory() -> String {
    let path = NSTemporaryDirectory() + "proxyfarm-test-\(getpid())-\(UUID().uuidString.prefix(8))"
    try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

let epoch = Date(timeIntervalSince1970: 1_800_000_000)

/// A simulated farm plugged for `spec`, a hand-moved clock and a state directory.
struct Harness {
    let farm: SimulatedFarm
    let clock: SimulatedClock
    private(set) var store: StateStore
    var spec: FarmSpec
    var settings = ExecutorSettings(batch: 5, actionTimeout: .milliseconds(300), connectTimeout: .milliseconds(300),
                                    observeTimeout: .milliseconds(300))
    var timeZone = TimeZone(identifier: "UTC") ?? .current

    init(spec: FarmSpec, latency: Duration = .zero, plug: Bool = true, stateDirectory: String? = nil) async throws {
        farm = SimulatedFarm(latency: latency)
        clock = SimulatedClock(epoch)
        store = try StateStore(root: stateDirectory ?? temporaryDirectory())
        self.spec = spec
        if plug { for modem in spec.modems { await farm.plug(serial: modem.serial) } }
    }

    var reconciler: FarmReconciler {
        FarmReconciler(drivers: farm.drivers(clock: clock), settings: settings,
                       logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }), timeZone: timeZone)
    }

    /// A new reconciler on the same state directory, as after a daemon restart: it knows only
    /// what the files say. (The old store lets go of the lock when it is released.)
    mutating func restartReconciler() throws {
        let root = store.root
        store = try StateStore(root: temporaryDirectory())
        store = try StateStore(root: root)
    }

    @discardableResult
    func pass() async throws -> PassResult {
        try await reconciler.apply(spec: spec, store: store, secrets: testSecrets, revision: "rev1").0
    }

    func plan() async throws -> Plan {
        try await reconciler.plan(spec: spec, store: store, secrets: testSecrets, revision: "rev1")
    }

    /// Every file under the state dir, concatenated (for secret greps).
    func allStateText() -> String {
        let root = store.root
        let files = FileManager.default.enumerator(atPath: root)?.compactMap { $0 as? String } ?? []
        return files.compactMap { try? String(contentsOfFile: root + "/" + $0, encoding: .utf8) }.joined(separator: "\n")
    }
}

extension Plan {
    var lines: [String] { actions.map(\.description) }
    func actions(for modem: String) -> [PlannedAction] { actions.filter { $0.modem == modem } }
}

/// A converged farm as plain values: the starting point of the pure planner tests.
struct Converged {
    var desired: DesiredFarm
    var observed: ObservedFarm
    var memory: [String: ModemMemory]
    var now: Date

    static func make(count: Int = 4, rotation: Rotation = .never, configure: (inout ModemSpec) -> Void = { _ in }) async throws -> Converged {
        let harness = try await Harness(spec: makeSpec(count: count, rotation: rotation, configure: configure))
        let result = try await harness.pass()
        let desired = try harness.reconciler.inputs(spec: harness.spec, store: harness.store, secrets: testSecrets, revision: "rev1").desired
        return Converged(desired: desired, observed: result.observed, memory: result.memory, now: harness.clock.now())
    }

    func plan(at time: Date? = nil) -> Plan {
        Planner.plan(desired: desired, observed: observed, memory: memory, now: time ?? now)
    }

    func serialOf(_ name: String) -> String { desired.modem(named: name)?.serial ?? "" }

    mutating func state(_ name: String, _ change: (inout ModemState) -> Void) {
        guard var state = observed.modems[name]?.state else { return }
        change(&state)
        observed.modems[name]?.state = state
    }

    mutating func remember(_ name: String, _ change: (inout ModemMemory) -> Void) {
        var entry = memory[serialOf(name)] ?? ModemMemory(serial: serialOf(name))
        change(&entry)
        memory[serialOf(name)] = entry
    }
}
