import Foundation
import Synchronization
import Spec

/// What one modem should look like: its lane in the farm (DESIGN §7) with every secret resolved.
public struct DesiredModem: Sendable, Equatable {
    public var name: String
    public var serial: String
    public var enabled: Bool
    public var apn: String
    public var ipType: IPType
    /// The PIN when the SIM asks for one; nil when none is configured or it could not be read.
    public var pin: Secret?
    /// Routing table and rule priority, both `tableBase + k`.
    public var table: Int
    /// Priority of the rules that route this proxy's replies to its clients by the main table.
    public var repliesPriority: Int
    public var uid: UInt32
    public var httpPort: Int?
    public var socksPort: Int?
    /// Nil when the proxy cannot be configured (see `problems`): the running proxy is then left alone.
    public var proxy: ProxyConfigInput? {
        didSet { proxyConfig = proxy.map(ProxyConfigRenderer.render) }
    }
    /// `proxy` rendered (once per pass: planning and status compare it with every running config).
    public private(set) var proxyConfig: String?
    public var rotation: Rotation
    public var health: HealthSettings
    /// Errors that keep parts of this modem from converging (an unreadable secret, no free port).
    public var problems: [String]
    /// Whether the modem got its lane (table, uid); one without is left alone entirely.
    public var placed: Bool = true

    public var priority: Int { table }
    public var ports: [Int] { [httpPort, socksPort].compactMap { $0 } }

    /// The routing this modem needs on `interface` with `settings` (nil while it has no session).
    func routing(interface: String?, settings: IPSettings?) -> ModemRouting {
        ModemRouting(modem: name, table: table, priority: priority, repliesPriority: repliesPriority, uid: uid, interface: interface,
                     proxyPorts: ports,
                     address: settings.map { "\($0.address)/\($0.prefixLength)" }, gateway: settings?.gateway)
    }
}

/// The whole desired farm.
public struct DesiredFarm: Sendable, Equatable {
    public var modems: [DesiredModem]
    public var ownedTables: ClosedRange<Int>
    /// The uids of ProxyFarm's lanes (the egress guard's fence).
    public var ownedUIDs: ClosedRange<UInt32>
    /// Time zone of rotation `at` times (the host's local zone in production).
    public var timeZone: TimeZone
    public var revision: String

    public func modem(named name: String) -> DesiredModem? { modems.first { $0.name == name } }

    public var owned: OwnedKernel { OwnedKernel(tables: ownedTables, uids: ownedUIDs) }
}

extension DesiredFarm {
    /// Builds the desired farm. Secrets that fail to resolve become problems of the modems that need
    /// them, never a failure of the whole farm.
    public static func resolve(spec: FarmSpec, allocations: Allocations, allocationFailures: [String: AllocationFailure] = [:],
                               secrets: SecretResolver, stateDirectory: String, revision: String,
                               timeZone: TimeZone = .current, configs: CheckedConfigs = CheckedConfigs()) -> DesiredFarm {
        let passwords = Dictionary(uniqueKeysWithValues: spec.users.map { user in (user.name, credential(user.password, secrets)) })
        let quotas = Dictionary(uniqueKeysWithValues: spec.users.map { ($0.name, $0.quota) })
        let modems = spec.modems.map { modem -> DesiredModem in
            let entry = allocations.modems[modem.serial]
            let index = entry?.index ?? 0
            let placed = entry.map { $0.index >= 0 } ?? false
            let uid = UInt32(clamping: spec.routing.uidBase + index)
            var problems = allocationFailures[modem.name].map { [$0.message] } ?? []
            if !placed, problems.isEmpty { problems.append("no lane allocated") }
            var pin: Secret?
            if let source = modem.pin {
                switch secrets(source) {
                case .success(let value): pin = Secret(value)
                case .failure(let failure): problems.append("PIN (\(source)): \(failure.message)")
                }
            }
            var users: [ProxyConfigInput.ProxyUser] = []
            for name in modem.proxy.users.sorted() {
                switch passwords[name] {
                case .success(let credential):
                    let slot = CounterSlot(entry?.counters?[name] ?? 0)
                    users.append(.init(name: name, credential: credential, counters: slot, quota: quotas[name] ?? nil))
                case .failure(let failure): problems.append("password of user \(name): \(failure.message)")
                case nil: problems.append("user \(name) is not defined in users")
                }
            }
            let httpPort = modem.proxy.http ? (modem.ports.http ?? entry?.httpPort) : nil
            let socksPort = modem.proxy.socks ? (modem.ports.socks ?? entry?.socksPort) : nil
            let rendered = ProxyConfigInput(
                modem: modem.name, uid: uid, listen: modem.proxy.listen, httpPort: httpPort, socksPort: socksPort,
                users: users, allow: modem.proxy.allow, maxConnections: modem.proxy.maxConnections,
                bandwidth: modem.proxy.bandwidth, dns: modem.proxy.dns,
                logDirectory: stateDirectory + "/log/proxies/" + modem.name)
            // A value 3proxy would silently mangle never reaches a config file.
            let checked = configs.checked(rendered)
            problems += checked.problems
            let proxy = problems.isEmpty ? rendered : nil
            return DesiredModem(
                name: modem.name, serial: modem.serial, enabled: modem.enabled, apn: modem.apn, ipType: modem.ipType,
                pin: pin, table: spec.routing.tableBase + index,
                repliesPriority: OwnedRange.repliesPriority(base: spec.routing.tableBase), uid: uid, httpPort: httpPort, socksPort: socksPort,
                proxy: proxy, proxyConfig: proxy == nil ? nil : checked.config, rotation: modem.rotation, health: modem.health, problems: problems, placed: placed)
        }
        configs.keep(only: Set(modems.map(\.name)))
        return DesiredFarm(modems: modems, ownedTables: OwnedRange.tables(base: spec.routing.tableBase),
                           ownedUIDs: OwnedRange.uids(base: spec.routing.uidBase),
                           timeZone: timeZone, revision: revision)
    }

    private static func credential(_ source: SecretSource, _ secrets: SecretResolver) -> Result<ProxyConfigInput.Credential, SecretFailure> {
        if case .hash(let hash) = source { return .success(.hash(hash)) }
        return secrets(source).map { .clear($0) }
    }
}

/// Each modem's proxy config as last checked and rendered (`ProxyConfigRenderer.checked`): a farm
/// that did not change resolves the same inputs every pass, and comparing an input is far cheaper
/// than rendering and checking it again (a tenth of an idle 1,000-modem pass). A daemon keeps one
/// for its life.
public final class CheckedConfigs: Sendable {
    private let last = Mutex<[String: (input: ProxyConfigInput, checked: (config: String?, problems: [String]))]>([:])

    public init() {}

    func checked(_ input: ProxyConfigInput) -> (config: String?, problems: [String]) {
        if let hit = last.withLock({ $0[input.modem] }), hit.input == input { return hit.checked }
        let checked = ProxyConfigRenderer.checked(input)
        last.withLock { $0[input.modem] = (input, checked) }
        return checked
    }

    /// Forgets modems that left farm.yaml.
    func keep(only modems: Set<String>) {
        last.withLock { $0 = $0.filter { modems.contains($0.key) } }
    }
}
