/// What one modem's egress needs from the kernel (DESIGN §7, docs/routing.md): its lane in the
/// egress guard, its address on its interface, its table, its three rules, and one rule per proxy
/// port that routes the proxy's replies to its clients by the main table.
public struct ModemRouting: Sendable, Hashable, Codable {
    /// The modem's name, used only to say whose mismatch it is.
    public var modem: String
    public var table: Int
    public var priority: Int
    /// Priority of the reply rules; lower than every modem's `priority` (`OwnedRange.repliesPriority`).
    public var repliesPriority: Int
    /// The uid its proxy runs as (`uidrange U-U`).
    public var uid: UInt32
    /// The modem's network interface, e.g. `wwan2`; nil while it is not plugged in (then only the
    /// uid rule, the `unreachable` route and a guard lane that lets nothing out are kept).
    public var interface: String?
    /// The ports its proxy listens on (HTTP, SOCKS).
    public var proxyPorts: [Int]
    /// The modem's current address in CIDR form (`100.64.2.7/24`, a bare address means /32);
    /// nil while it has none. Without one only the fail-closed parts are kept: the uid and oif
    /// rules and the `unreachable` route, so the proxy's traffic is refused instead of leaking.
    public var address: String?
    /// The gateway the network reported, if any.
    public var gateway: String?

    public init(modem: String, table: Int, priority: Int, repliesPriority: Int, uid: UInt32, interface: String?, proxyPorts: [Int],
                address: String? = nil, gateway: String? = nil) {
        self.modem = modem
        self.table = table
        self.priority = priority
        self.repliesPriority = repliesPriority
        self.uid = uid
        self.interface = interface
        self.proxyPorts = proxyPorts
        self.address = address
        self.gateway = gateway
    }

    /// The address in CIDR form.
    var cidr: String? { address.map { $0.contains("/" as Character) ? $0 : $0 + "/32" } }

    /// The rules this modem needs, in the order they are added: the reply rules first, so that a
    /// reloaded proxy's replies never leave through the modem, not even between two rule adds.
    var rules: [RoutingRule] {
        var rules: [RoutingRule] = []
        rules.reserveCapacity(proxyPorts.count + 3)
        // `uidrange U-U ipproto tcp sport P lookup main` per proxy port, duplicates collapsed.
        for (index, port) in proxyPorts.enumerated() where !proxyPorts[..<index].contains(port) {
            rules.append(RoutingRule(priority: repliesPriority, selector: .uidTCPSourcePort(uid: uid, port: port), table: mainTable))
        }
        rules.append(RoutingRule(priority: priority, selector: .uidRange(uid, uid), table: table))
        if let interface { rules.append(RoutingRule(priority: priority, selector: .oif(interface), table: table)) }
        if let address, interface != nil {
            rules.append(RoutingRule(priority: priority, selector: .from(String(address.prefix { $0 != "/" })), table: table))
        }
        return rules
    }

    /// The fail-closed floor, always present in the modem's table.
    var unreachableRoute: TableRoute { TableRoute(table: table, kind: .unreachableDefault) }
    var defaultRoute: TableRoute? { interface.map { TableRoute(table: table, kind: .defaultVia(interface: $0, gateway: gateway)) } }
    /// Its lane in the egress guard.
    public var guardLane: GuardLane { GuardLane(uid: uid, interface: interface, replyPorts: proxyPorts) }
}

/// What ProxyFarm owns in the kernel: its tables and rule priorities, and the uids of its lanes
/// (the guard's fence).
public struct OwnedKernel: Sendable, Hashable {
    public var tables: ClosedRange<Int>
    public var uids: ClosedRange<UInt32>
    public init(tables: ClosedRange<Int>, uids: ClosedRange<UInt32>) {
        self.tables = tables
        self.uids = uids
    }
}

/// The minimal network changes that make `observed` what `desired` needs (DESIGN §7).
///
/// "Ours" is every rule whose priority or table lies in `ownedTables`, and every route in those
/// tables — except the kernel's own tables (main, local, default), which are never ours, but for
/// the reply rules (`uidrange U-U ipproto tcp sport P lookup main` at a priority of the range);
/// nothing else is ever changed. Ours that no desired modem needs (a removed modem, the
/// `from` rule of an old address) are removed, and duplicate rules are collapsed to one. The
/// changes are ordered so that a modem is never left open: the guard first, then addresses and
/// links, then new routes and rules, and only then removals. A modem whose interface is absent
/// gets only its rules and the `unreachable` route (its address, link and default route cannot be
/// set). Every guard lane is written, and lanes of uids no modem has any more are removed; the
/// fence refuses every other uid of ProxyFarm's range.
///
/// Applying the result and observing again gives no changes: `networkChanges` is idempotent.
public func networkChanges(desired: [ModemRouting], observed: NetworkState, owned: OwnedKernel) -> [NetworkChange] {
    changes(routingDifferences(desired: desired, observed: observed, owned: owned))
}

/// `networkChanges` and `routingMismatches` from one comparison (the planner needs both).
public func routingComparison(desired: [ModemRouting], observed: NetworkState, owned: OwnedKernel)
    -> (changes: [NetworkChange], mismatches: [RoutingMismatch]) {
    let differences = routingDifferences(desired: desired, observed: observed, owned: owned)
    return (changes(differences), mismatches(differences))
}

private func changes(_ differences: [RoutingDifference]) -> [NetworkChange] {
    var guarding: [NetworkChange] = [], setup: [NetworkChange] = [], additions: [NetworkChange] = [], removals: [NetworkChange] = []
    for difference in differences {
        switch difference.kind {
        case .guardLaneDiffers(let lane, _):
            guarding.append(.setGuardLane(lane))
        case .unwantedGuardLane(let uid):
            guarding.append(.removeGuardLane(uid: uid))
        case .guardFenceDiffers(let fence):
            guarding.append(.setGuardFence(fence))
        case .interfaceMissing:
            break
        case .addressDiffers(let interface, _, let want):
            setup.append(.setAddress(interface: interface, cidr: want))
        case .linkDown(let interface):
            setup.append(.linkUp(interface: interface))
        case .missingRoute(let route):
            additions.append(.addRoute(route))
        case .routeLostWithAddress(let route):
            // Replacing a device's last address makes the kernel drop that device's routes.
            additions.append(.addRoute(route))
        case .missingRule(let rule):
            additions.append(.addRule(rule))
        case .unwantedRoute(let route):
            removals.append(.removeRoute(route))
        case .unwantedRule(let rule, let copies):
            removals += Array(repeating: .removeRule(rule), count: copies)
        case .duplicateRule(let rule, let extra):
            removals += Array(repeating: .removeRule(rule), count: extra)
        }
    }
    return guarding + setup + additions + removals
}

/// Where the kernel's state differs from what `desired` needs, per modem: the verification after
/// an apply (an empty result means converged). Leftovers that belong to no modem come last, with
/// a nil `modem`.
public func routingMismatches(desired: [ModemRouting], observed: NetworkState, owned: OwnedKernel) -> [RoutingMismatch] {
    mismatches(routingDifferences(desired: desired, observed: observed, owned: owned))
}

private func mismatches(_ differences: [RoutingDifference]) -> [RoutingMismatch] {
    var problems: [String?: [String]] = [:]
    var order: [String?] = []
    for difference in differences {
        guard let text = difference.problem else { continue }
        if problems[difference.modem] == nil { order.append(difference.modem) }
        problems[difference.modem, default: []].append(text)
    }
    return order.map { RoutingMismatch(modem: $0, problems: problems[$0] ?? []) }
}

/// Whether the kernel holds everything that keeps `routing`'s lane from leaking, whatever else
/// differs: its guard lane and the fence, its uid and oif rules, its `unreachable` route. A proxy
/// runs only while this holds (DESIGN §7).
public func isProtected(_ routing: ModemRouting, in observed: NetworkState, owned: OwnedKernel) -> Bool {
    let kernelGuard = observed.egressGuard
    guard kernelGuard.unreadable == nil, kernelGuard.fence == owned.uids, kernelGuard.lanes[routing.uid] == routing.guardLane,
          observed.routes.contains(routing.unreachableRoute) else { return false }
    var skeleton = [RoutingRule(priority: routing.priority, selector: .uidRange(routing.uid, routing.uid), table: routing.table)]
    if let interface = routing.interface { skeleton.append(RoutingRule(priority: routing.priority, selector: .oif(interface), table: routing.table)) }
    return skeleton.allSatisfy(observed.rules.contains)
}

/// One modem's (or nobody's) differences between the kernel and the desired routing.
public struct RoutingMismatch: Sendable, Hashable, Codable, CustomStringConvertible {
    /// The modem the problems belong to; nil for leftovers of no current modem.
    public var modem: String?
    /// One line each, e.g. `missing rule 102 from 100.64.2.7 lookup 102`.
    public var problems: [String]

    public init(modem: String?, problems: [String]) {
        self.modem = modem
        self.problems = problems
    }

    public var description: String { "\(modem ?? "no modem"): " + problems.joined(separator: "; ") }
}

private struct RoutingDifference {
    enum Kind {
        case interfaceMissing(String)
        case addressDiffers(interface: String, have: [String], want: String)
        case linkDown(String)
        case missingRoute(TableRoute)
        case routeLostWithAddress(TableRoute)
        case missingRule(RoutingRule)
        case unwantedRoute(TableRoute)
        case unwantedRule(RoutingRule, copies: Int)
        case duplicateRule(RoutingRule, extra: Int)
        case guardLaneDiffers(GuardLane, unreadable: String?)
        case unwantedGuardLane(UInt32)
        case guardFenceDiffers(ClosedRange<UInt32>)
    }
    var modem: String?
    var kind: Kind

    /// How verification words it; nil for differences that are a consequence of another one.
    var problem: String? {
        switch kind {
        case .interfaceMissing(let interface): "interface \(interface) not found"
        case .addressDiffers(let interface, let have, let want):
            "\(interface) has " + (have.isEmpty ? "no address" : have.joined(separator: ", ")) + ", want \(want)"
        case .linkDown(let interface): "\(interface) is down"
        case .missingRoute(let route): "missing route \(route)"
        case .routeLostWithAddress: nil
        case .missingRule(let rule): "missing \(rule)"
        case .unwantedRoute(let route): "unexpected route \(route)"
        case .unwantedRule(let rule, let copies): "unexpected \(rule)" + (copies > 1 ? " (\(copies) copies)" : "")
        case .duplicateRule(let rule, let extra): "\(rule) present \(extra + 1) times"
        case .guardLaneDiffers(let lane, let unreadable):
            "missing \(lane)" + (unreadable.map { " (the guard cannot be read: \($0))" } ?? "")
        case .unwantedGuardLane(let uid): "unexpected guard lane for uid \(uid)"
        case .guardFenceDiffers(let fence): "guard does not refuse uids \(fence.lowerBound)-\(fence.upperBound)"
        }
    }
}

/// The one comparison both planning and verification use, so they can never disagree.
private func routingDifferences(desired: [ModemRouting], observed: NetworkState, owned: OwnedKernel) -> [RoutingDifference] {
    let ownedTables = owned.tables
    var differences = guardDifferences(desired: desired, observed: observed.egressGuard, owned: owned)
    // Every rule and route, wanted or present, has one entry, found by one hash each way: a large
    // farm's comparison is mostly hashing.
    var routes = Tally<TableRoute>(capacity: observed.routes.count + desired.count * 2)
    let presentRoutes = observed.routes.map { routes.count($0) }
    /// Tables whose default route an add replaces in place (a route's identity is table + metric).
    var replacedDefaults: Set<Int> = []
    var rules = Tally<RoutingRule>(capacity: observed.rules.count + desired.count * 5)
    var wantedRules: [(modem: String, entry: Int)] = []
    wantedRules.reserveCapacity(desired.count * 5)

    for modem in desired {
        let present = modem.interface.flatMap { observed.addresses[$0] }
        var wanted = [modem.unreachableRoute]
        if let interface = modem.interface, present == nil {
            differences.append(RoutingDifference(modem: modem.modem, kind: .interfaceMissing(interface)))
        }
        if let interface = modem.interface, let present, let cidr = modem.cidr, let defaultRoute = modem.defaultRoute {
            wanted.append(defaultRoute)
            replacedDefaults.insert(modem.table)
            if present != [cidr] {
                differences.append(RoutingDifference(modem: modem.modem, kind: .addressDiffers(interface: interface, have: present, want: cidr)))
                if routes.copies(of: defaultRoute) > 0 {
                    differences.append(RoutingDifference(modem: modem.modem, kind: .routeLostWithAddress(defaultRoute)))
                }
            }
        }
        if let interface = modem.interface, present != nil, !observed.upInterfaces.contains(interface) {
            differences.append(RoutingDifference(modem: modem.modem, kind: .linkDown(interface)))
        }
        for route in wanted where routes.want(route, by: modem.modem).copies == 0 {
            differences.append(RoutingDifference(modem: modem.modem, kind: .missingRoute(route)))
        }
        for rule in modem.rules {
            wantedRules.append((modem.modem, rules.want(rule, by: modem.modem).entry))
        }
    }

    // Every rule is counted, so a wanted rule is found wherever it is; only ours are removed.
    let presentRules = observed.rules.map { rules.count($0) }
    for (modem, entry) in wantedRules where rules.entries[entry].copies == 0 {
        differences.append(RoutingDifference(modem: modem, kind: .missingRule(rules.entries[entry].item)))
    }
    for entry in firstOccurrences(presentRules) {
        let (rule, wantedBy, copies) = rules.entries[entry]
        if wantedBy != nil {
            if copies > 1 { differences.append(RoutingDifference(modem: wantedBy, kind: .duplicateRule(rule, extra: copies - 1))) }
        } else if isOurs(rule, ownedTables) {
            differences.append(RoutingDifference(modem: owner(of: rule, in: desired), kind: .unwantedRule(rule, copies: copies)))
        }
    }

    for entry in firstOccurrences(presentRoutes) {
        let (route, wantedBy, _) = routes.entries[entry]
        guard wantedBy == nil, isOurs(route.table, ownedTables) else { continue }
        if case .defaultVia = route.kind, replacedDefaults.contains(route.table) { continue }
        differences.append(RoutingDifference(modem: owner(table: route.table, priority: nil, in: desired), kind: .unwantedRoute(route)))
    }
    return differences
}

/// The entries of `occurrences` in the order each first appears.
private func firstOccurrences(_ occurrences: [Int]) -> [Int] {
    var seen = Set<Int>(minimumCapacity: occurrences.count)
    return occurrences.filter { seen.insert($0).inserted }
}

/// Rules or routes, each with the modem that wants it (the last to say so) and how many copies
/// the kernel has.
private struct Tally<Item: Hashable> {
    private(set) var entries: [(item: Item, wantedBy: String?, copies: Int)] = []
    private var index: [Item: Int]

    init(capacity: Int) {
        index = Dictionary(minimumCapacity: capacity)
        entries.reserveCapacity(capacity)
    }

    /// Counts one copy present in the kernel; returns its entry.
    mutating func count(_ item: Item) -> Int {
        let entry = self.entry(item)
        entries[entry].copies += 1
        return entry
    }

    /// Records that `modem` wants the item; returns its entry and the copies counted so far.
    mutating func want(_ item: Item, by modem: String) -> (entry: Int, copies: Int) {
        let entry = self.entry(item)
        entries[entry].wantedBy = modem
        return (entry, entries[entry].copies)
    }

    func copies(of item: Item) -> Int { index[item].map { entries[$0].copies } ?? 0 }

    /// The item's entry, added when new: one hash either way.
    private mutating func entry(_ item: Item) -> Int {
        let next = entries.count
        let entry = Self.slot(&index[item, default: next])
        if entry == next { entries.append((item, nil, 0)) }
        return entry
    }

    /// Reads a dictionary slot through `inout`: `index[item, default: next]` then stores the
    /// default for a new item in the same lookup.
    private static func slot(_ value: inout Int) -> Int { value }
}

/// The guard's lanes and fence against what `desired` needs. An unreadable guard has no lanes.
private func guardDifferences(desired: [ModemRouting], observed: GuardState, owned: OwnedKernel) -> [RoutingDifference] {
    var differences: [RoutingDifference] = []
    var wanted: Set<UInt32> = []
    for modem in desired {
        let lane = modem.guardLane
        wanted.insert(lane.uid)
        if observed.unreadable != nil || observed.lanes[lane.uid] != lane {
            differences.append(RoutingDifference(modem: modem.modem, kind: .guardLaneDiffers(lane, unreadable: observed.unreadable)))
        }
    }
    for uid in observed.lanes.keys.sorted() where !wanted.contains(uid) {
        differences.append(RoutingDifference(modem: desired.first { $0.uid == uid }?.modem, kind: .unwantedGuardLane(uid)))
    }
    if observed.unreadable != nil || observed.fence != owned.uids {
        differences.append(RoutingDifference(modem: nil, kind: .guardFenceDiffers(owned.uids)))
    }
    return differences
}

/// The kernel's own tables (unspec, default, main, local) are never ours, whatever the range says.
private let kernelTables: Set<Int> = [0, 253, 254, 255]
/// The table the proxies' replies are routed by.
private let mainTable = 254

private func isOurs(_ table: Int, _ ownedTables: ClosedRange<Int>) -> Bool {
    ownedTables.contains(table) && !kernelTables.contains(table)
}

/// A rule in our range that looks up one of our tables, or a reply rule (the only shape of ours
/// that looks up main) at a priority of our range.
private func isOurs(_ rule: RoutingRule, _ ownedTables: ClosedRange<Int>) -> Bool {
    if case .uidTCPSourcePort = rule.selector, rule.table == mainTable { return ownedTables.contains(rule.priority) }
    return (ownedTables.contains(rule.priority) || ownedTables.contains(rule.table)) && !kernelTables.contains(rule.table)
}

/// A reply rule belongs to the modem of its uid; other rules to the modem of their table or priority.
private func owner(of rule: RoutingRule, in desired: [ModemRouting]) -> String? {
    if case .uidTCPSourcePort(let uid, _) = rule.selector { return desired.first { $0.uid == uid }?.modem }
    return owner(table: rule.table, priority: rule.priority, in: desired)
}

private func owner(table: Int, priority: Int?, in desired: [ModemRouting]) -> String? {
    desired.first { $0.table == table || $0.priority == priority }?.modem
}
