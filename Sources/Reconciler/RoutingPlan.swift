/// One modem's wanted routing (DESIGN §7): table/priority T, uid U, interface, current address.
public struct ModemRouting: Sendable, Equatable {
    public var table: Int
    public var uid: UInt32
    public var interface: String
    /// Bare address from QMI; nil while not connected (then only the fail-closed parts are wanted).
    public var address: String?
    public var prefixLength: Int
    public var gateway: String?
    public init(table: Int, uid: UInt32, interface: String, address: String? = nil, prefixLength: Int = 32, gateway: String? = nil) {
        self.table = table
        self.uid = uid
        self.interface = interface
        self.address = address
        self.prefixLength = prefixLength
        self.gateway = gateway
    }

    var routes: [TableRoute] {
        var routes = [TableRoute(table: table, kind: .unreachableDefault)]
        if address != nil { routes.append(TableRoute(table: table, kind: .defaultVia(interface: interface, gateway: gateway))) }
        return routes
    }

    var rules: [RoutingRule] {
        var rules = [RoutingRule(priority: table, selector: .uidRange(uid, uid), table: table)]
        if let address { rules.append(RoutingRule(priority: table, selector: .from(address), table: table)) }
        rules.append(RoutingRule(priority: table, selector: .oif(interface), table: table))
        return rules
    }
}

/// The changes that make the kernel match `desired`: per modem address, link, table routes and
/// the three rules; rules and routes of ours (priority and table in `ownedTables`) that nobody
/// wants, and duplicates, are removed. Anything outside the owned range is never touched.
public func networkChanges(desired: [ModemRouting], observed: NetworkState, ownedTables: ClosedRange<Int>) -> [NetworkChange] {
    var changes: [NetworkChange] = []
    for modem in desired where observed.addresses[modem.interface] != nil {
        if let address = modem.address {
            let cidr = "\(address)/\(modem.prefixLength)"
            if observed.addresses[modem.interface] != [cidr] { changes.append(.setAddress(interface: modem.interface, cidr: cidr)) }
        }
        if !observed.upInterfaces.contains(modem.interface) { changes.append(.linkUp(interface: modem.interface)) }
    }
    let wantedRoutes = desired.flatMap(\.routes)
    let observedRoutes = observed.routes.filter { ownedTables.contains($0.table) }
    changes += wantedRoutes.filter { !observedRoutes.contains($0) }.map(NetworkChange.addRoute)
    let wantedRules = desired.flatMap(\.rules)
    changes += wantedRules.filter { !observed.rules.contains($0) }.map(NetworkChange.addRule)
    changes += observedRoutes.filter { !wantedRoutes.contains($0) }.map(NetworkChange.removeRoute)
    var kept = Set<RoutingRule>()
    for rule in observed.rules where ownedTables.contains(rule.priority) && ownedTables.contains(rule.table) {
        if wantedRules.contains(rule), kept.insert(rule).inserted { continue }
        changes.append(.removeRule(rule))
    }
    return changes
}
